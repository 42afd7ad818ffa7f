#!/usr/bin/env node
// `npm run package:agent [-- --config certdesk-agent.json]`: the key assistant as a program a holder
// installs. Bundles src/agent/cli/main.ts (only the assistant) with esbuild, makes it a Node single
// executable application with this machine's own node (postject; no download), with pkcs11js's
// native addon and the UKey 管理 page files as SEA assets, and wraps it in a Debian package:
//   dist-agent/certdesk-agent-linux-x64
//   dist-agent/certdesk-agent_<version>_amd64.deb
// With --config the CA's signed configuration (and its .p7s) goes beside the binary in the package.
// Inputs are hashed: when nothing changed the existing outputs are kept (dist-agent/build/inputs.sha256).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import { inject } from 'postject';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const HERE = path.join(REPO, 'scripts/package-agent');
const OUT = path.join(REPO, 'dist-agent');
const BUILD = path.join(OUT, 'build');
const UI = path.join(REPO, 'src/agent/ui');
const UI_FILES = ['ukey.html', 'approve.html', 'style.css', 'common.js', 'ukey.js', 'approve.js', 'icon.svg'];
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const { values: args } = parseArgs({ options: { config: { type: 'string' }, force: { type: 'boolean' } } });
const version = /export const AGENT_VERSION = '([^']+)'/.exec(readFileSync(path.join(REPO, 'src/agent/version.ts'), 'utf8'))[1];
if (process.platform !== 'linux' || process.arch !== 'x64')
  fail(`builds linux-x64 only (this is ${process.platform}-${process.arch}); see docs/AGENT-PACKAGE.md for Windows and macOS`);
if (!process.versions.node.startsWith('20.')) fail(`needs Node 20 to embed (this is ${process.version})`);

function fail(msg) {
  process.stderr.write(`package:agent: ${msg}\n`);
  process.exit(1);
}
const log = (msg) => process.stderr.write(`package:agent: ${msg}\n`);

mkdirSync(BUILD, { recursive: true });
holdLock(path.join(OUT, '.lock'));

/** One build at a time (test files run in parallel and each asks for the package). */
function holdLock(dir) {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'pid'), String(process.pid));
      process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
      return;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    let holder = NaN;
    try {
      holder = Number(readFileSync(path.join(dir, 'pid'), 'utf8'));
    } catch {
      // being created or removed right now
    }
    if (Number.isInteger(holder) && holder > 0 && !alive(holder)) rmSync(dir, { recursive: true, force: true });
    if (Date.now() > deadline) fail(`another build holds ${dir} for more than 10 minutes`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}
const binary = path.join(OUT, 'certdesk-agent-linux-x64');
const deb = path.join(OUT, `certdesk-agent_${version}_amd64.deb`);

// 1. Bundle. pkcs11js's `require("./build/Release/pkcs11.node")` becomes a load from the SEA asset.
const addons = new Map();
const bundle = path.join(BUILD, 'certdesk-agent.cjs');
const result = await esbuild.build({
  entryPoints: [path.join(REPO, 'src/agent/cli/main.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outfile: bundle,
  metafile: true,
  logLevel: 'warning',
  // assets.ts reads import.meta.url only outside a SEA
  logOverride: { 'empty-import-meta': 'silent' },
  legalComments: 'none',
  plugins: [
    {
      name: 'native-addon-asset',
      setup(b) {
        b.onResolve({ filter: /\.node$/ }, (a) => ({ path: path.resolve(a.resolveDir, a.path), namespace: 'native-addon' }));
        b.onLoad({ filter: /.*/, namespace: 'native-addon' }, (a) => {
          const name = path.basename(a.path);
          if (addons.has(name) && addons.get(name) !== a.path) throw new Error(`two native addons named ${name}`);
          addons.set(name, a.path);
          return {
            contents: `module.exports = require(${JSON.stringify(path.join(HERE, 'native-addon.cjs'))})(${JSON.stringify(name)});`,
            resolveDir: HERE,
            loader: 'js',
          };
        });
      },
    },
  ],
});
writeFileSync(path.join(BUILD, 'meta.json'), JSON.stringify(result.metafile));
const assets = {
  ...Object.fromEntries([...addons].map(([name, file]) => [name, file])),
  ...Object.fromEntries(UI_FILES.map((f) => [`ui/${f}`, path.join(UI, f)])),
};
if (!assets['pkcs11.node']) fail('the bundle does not load pkcs11js: its native addon was not found');

// 2. Unchanged inputs → keep the outputs.
const debDir = path.join(HERE, 'deb');
const hash = createHash('sha256');
hash.update(`${process.version}\0${version}\0`);
for (const f of [bundle, ...Object.values(assets), __self(), ...readdirSync(debDir).map((f) => path.join(debDir, f))])
  hash.update(`${path.relative(REPO, f)}\0`).update(readFileSync(f));
if (args.config) hash.update(readFileSync(args.config)).update(readFileSync(`${args.config}.p7s`));
const inputs = hash.digest('hex');
const stamp = path.join(BUILD, 'inputs.sha256');
if (
  !args.force &&
  existsSync(binary) &&
  existsSync(deb) &&
  existsSync(path.join(OUT, 'manifest.json')) &&
  existsSync(stamp) &&
  readFileSync(stamp, 'utf8') === inputs
) {
  log(`up to date (${inputs.slice(0, 12)}): ${path.relative(REPO, binary)}, ${path.relative(REPO, deb)}`);
  process.exit(0);
}
rmSync(stamp, { force: true });

function __self() {
  return fileURLToPath(import.meta.url);
}

// 3. The single executable: a copy of this node with the blob injected.
const seaConfig = path.join(BUILD, 'sea-config.json');
const blob = path.join(BUILD, 'certdesk-agent.blob');
writeFileSync(
  seaConfig,
  JSON.stringify(
    { main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: false, useSnapshot: false, assets },
    null,
    2,
  ),
);
execFileSync(process.execPath, ['--experimental-sea-config', seaConfig], { stdio: ['ignore', 'ignore', 'inherit'] });
const tmpBinary = `${binary}.tmp`;
copyFileSync(process.execPath, tmpBinary);
chmodSync(tmpBinary, 0o755);
await inject(tmpBinary, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SEA_FUSE });
execFileSync('mv', ['-f', tmpBinary, binary]);
log(`${path.relative(REPO, binary)}: ${(statSync(binary).size / 1e6).toFixed(1)} MB`);

// 4. The Debian package.
const root = path.join(BUILD, 'deb-root');
rmSync(root, { recursive: true, force: true });
const put = (rel, body, mode = 0o644) => {
  const f = path.join(root, rel);
  mkdirSync(path.dirname(f), { recursive: true });
  writeFileSync(f, body, { mode });
  chmodSync(f, mode);
};
const template = (name) => readFileSync(path.join(debDir, name), 'utf8').replaceAll('@VERSION@', version);
mkdirSync(path.join(root, 'opt/certdesk-agent'), { recursive: true });
copyFileSync(binary, path.join(root, 'opt/certdesk-agent/certdesk-agent'));
chmodSync(path.join(root, 'opt/certdesk-agent/certdesk-agent'), 0o755);
if (args.config) {
  put('opt/certdesk-agent/certdesk-agent.json', readFileSync(args.config));
  put('opt/certdesk-agent/certdesk-agent.json.p7s', readFileSync(`${args.config}.p7s`));
}
mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
symlinkSync('../../opt/certdesk-agent/certdesk-agent', path.join(root, 'usr/bin/certdesk-agent'));
put('usr/lib/systemd/user/certdesk-agent.service', template('certdesk-agent.service'));
put('etc/xdg/autostart/certdesk-agent.desktop', template('certdesk-agent-autostart.desktop'));
put('usr/share/applications/certdesk-agent-ukey.desktop', template('certdesk-agent-ukey.desktop'));
put('usr/share/icons/hicolor/scalable/apps/certdesk-agent.svg', readFileSync(path.join(UI, 'icon.svg')));
put('usr/share/doc/certdesk-agent/copyright', template('copyright'));
const installedKb = Math.ceil(
  Number(
    execFileSync('du', ['-sk', '--apparent-size', path.join(root, 'opt'), path.join(root, 'usr'), path.join(root, 'etc')], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .reduce((n, l) => n + Number(l.split('\t')[0]), 0),
  ),
);
put('DEBIAN/control', template('control').replace('@INSTALLED_SIZE@', String(installedKb)));
put('DEBIAN/conffiles', '/etc/xdg/autostart/certdesk-agent.desktop\n');
for (const s of ['postinst', 'prerm', 'postrm']) put(`DEBIAN/${s}`, template(s), 0o755);
execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z6', '--build', root, `${deb}.tmp`], {
  stdio: ['ignore', 'ignore', 'inherit'],
});
execFileSync('mv', ['-f', `${deb}.tmp`, deb]);
// What the portal's 下载中心 lists (src/api/portal/downloads.ts); other platforms' installers are added here.
const manifest = path.join(OUT, 'manifest.json');
const others = existsSync(manifest)
  ? JSON.parse(readFileSync(manifest, 'utf8')).files.filter((f) => f.platform !== 'linux-x64')
  : [];
writeFileSync(
  manifest,
  JSON.stringify(
    {
      files: [
        { name: path.basename(binary), platform: 'linux-x64', kind: 'binary', version },
        { name: path.basename(deb), platform: 'linux-x64', kind: 'deb', version },
        ...others,
      ],
    },
    null,
    2,
  ) + '\n',
);
writeFileSync(stamp, inputs);
log(`${path.relative(REPO, deb)}: ${(statSync(deb).size / 1e6).toFixed(1)} MB`);
