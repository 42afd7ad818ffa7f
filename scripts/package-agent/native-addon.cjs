// Loads a native addon (pkcs11js's pkcs11.node) that the packaged assistant carries as a SEA asset:
// dlopen needs a file, so the bytes are written once to a directory only this user can write,
// named after their SHA-256, and checked against it before every load.
'use strict';
const { getAsset } = require('node:sea');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

/** A directory of ours: created 0700, and refused when someone else made it or may write in it. */
function privateDir(dir) {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.uid !== process.getuid() || (st.mode & 0o077) !== 0)
    throw new Error(
      `${dir} is not a private directory of this user (owner ${st.uid}, mode ${(st.mode & 0o777).toString(8)}): not loading native code from it`,
    );
  return dir;
}

module.exports = function loadNativeAsset(name) {
  const bytes = Buffer.from(getAsset(name));
  const hash = sha256(bytes);
  const base = privateDir(path.join(os.tmpdir(), `certdesk-agent-${process.getuid()}`));
  const dir = privateDir(path.join(base, hash.slice(0, 16)));
  const file = path.join(dir, name);
  let ok = false;
  try {
    ok = sha256(fs.readFileSync(file)) === hash;
  } catch {
    // not extracted yet
  }
  if (!ok) {
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, bytes, { mode: 0o500 });
    fs.renameSync(tmp, file);
  }
  const mod = { exports: {} };
  process.dlopen(mod, file);
  return mod.exports;
};
