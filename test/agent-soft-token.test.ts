// The soft token: keys encrypted at rest under a PIN-derived key, a persisted retry counter that
// locks it, SO PIN unlock, PIN change, removal in the middle of an operation.
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expectTokenError } from './helpers/agent.js';
import { SoftTokenDriver } from '../src/agent/tokens/soft-driver.js';
import { createSoftToken, importToSoftToken, SoftToken } from '../src/agent/tokens/soft-token.js';
import { generateKeyPair, keyTypeOfSpki } from '../src/pki/algorithms.js';

const PIN = '135790';
const SO = '97531086';

describe('soft token', () => {
  let dir: string;
  let n = 0;
  const file = (): string => path.join(dir, `t${++n}.json`);

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'certdesk-softtoken-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('stores keys encrypted under a PIN-derived key with a real KDF cost, file mode 0600, nothing extractable', async () => {
    const f = file();
    const info = await createSoftToken(f, { label: '企业测试', pin: PIN });
    assert.equal(info.pin.retriesLeft, 6);
    assert.equal(statSync(f).mode & 0o777, 0o600);
    const { privateKey } = generateKeyPair('ec-p256');
    const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
    await importToSoftToken(f, { pin: PIN, privateKey, label: 'identity' });
    const text = readFileSync(f, 'utf8');
    const json = JSON.parse(text) as { userPin: { kdf: { alg: string; N: number } }; objects: { class: string }[] };
    assert.equal(json.userPin.kdf.alg, 'scrypt');
    assert.ok(json.userPin.kdf.N >= 2 ** 15);
    assert.ok(!text.includes(pkcs8.toString('base64')), 'no plaintext PKCS#8 in the file');
    assert.ok(!text.includes(pkcs8.subarray(-32).toString('base64').slice(0, 20)), 'no private scalar in the file');
    const objs = new SoftToken(f).publicObjects();
    assert.deepEqual(objs.map((o) => o.class).sort(), ['public-key']);
    const s = await new SoftToken(f).login(PIN);
    try {
      const keys = await s.listKeys();
      assert.equal(keys.length, 1);
      const priv = (await s.listObjects()).find((o) => o.class === 'private-key')!;
      assert.equal(priv.extractable, false);
      assert.ok(!('export' in s) && !('privateKey' in s), 'the session has no way to hand out a key');
      const data = Buffer.from('hello');
      const sig = await s.sign(keys[0]!.id, data);
      assert.ok(verify('sha256', data, createPublicKey(privateKey), sig));
    } finally {
      await s.close();
    }
  });

  it('PBKDF2-SHA256 with ≥600,000 iterations works too; weakened parameters are refused', async () => {
    const f = file();
    await createSoftToken(f, { label: 'p', pin: PIN, kdf: 'pbkdf2' });
    const json = JSON.parse(readFileSync(f, 'utf8')) as { userPin: { kdf: { alg: string; iterations: number } } };
    assert.equal(json.userPin.kdf.alg, 'pbkdf2-sha256');
    assert.ok(json.userPin.kdf.iterations >= 600_000);
    await (await new SoftToken(f).login(PIN)).close();
    json.userPin.kdf.iterations = 1000;
    writeFileSync(f, JSON.stringify(json));
    await expectTokenError(new SoftToken(f).login(PIN), 'CORRUPT');
  });

  it('counts a wrong PIN on disk before answering, says how many tries are left, and locks at zero — across restarts', async () => {
    const f = file();
    await createSoftToken(f, { label: 'lock', pin: PIN, soPin: SO });
    const retries = (): number =>
      (JSON.parse(readFileSync(f, 'utf8')) as { userPin: { retriesLeft: number } }).userPin.retriesLeft;

    // While the KDF is still running the decrement is already on disk: killing the process now cannot give the try back.
    const pending = new SoftToken(f).login('000000');
    await new Promise((r) => setImmediate(r));
    assert.equal(retries(), 5, 'counted before the PIN is checked');
    const e1 = await expectTokenError(pending, 'PIN_INCORRECT');
    assert.match(e1.message, /5 tries left/);
    assert.equal(e1.pin?.retriesLeft, 5);

    // a good PIN restores the counter
    await (await new SoftToken(f).login(PIN)).close();
    assert.equal(retries(), 6);

    for (let left = 5; left >= 1; left--) {
      const e = await expectTokenError(new SoftToken(f).login('000000'), 'PIN_INCORRECT');
      assert.equal(e.pin?.retriesLeft, left);
      if (left === 1) assert.equal(e.pin?.finalTry, true);
    }
    const last = await expectTokenError(new SoftToken(f).login('000000'), 'PIN_LOCKED');
    assert.equal(last.pin?.locked, true);
    // a fresh reader (what a restarted assistant is) finds it locked, and the right PIN is refused
    const locked = await expectTokenError(new SoftToken(f).login(PIN), 'PIN_LOCKED');
    assert.match(locked.message, /SO PIN|service point/);
    const [listed] = await new SoftTokenDriver([f]).list();
    assert.equal(listed?.pin.locked, true);
    assert.equal(listed?.pin.retriesLeft, 0);

    // the SO PIN unlocks it with a new user PIN
    await expectTokenError(new SoftToken(f).unlock('11111111', '222222'), 'PIN_INCORRECT');
    await new SoftToken(f).unlock(SO, '222222');
    await (await new SoftToken(f).login('222222')).close();
    assert.equal(retries(), 6);
  });

  it('changes the PIN without losing keys; the old PIN stops working', async () => {
    const f = file();
    await createSoftToken(f, { label: 'chg', pin: PIN });
    const { privateKey } = generateKeyPair('ec-p384');
    const { key } = await importToSoftToken(f, { pin: PIN, privateKey, label: 'k' });
    await new SoftToken(f).changePin(PIN, '864200');
    await expectTokenError(new SoftToken(f).login(PIN), 'PIN_INCORRECT');
    const s = await new SoftToken(f).login('864200');
    try {
      const sig = await s.sign(key.id, Buffer.from('x'));
      assert.ok(verify('sha384', Buffer.from('x'), createPublicKey(privateKey), sig));
    } finally {
      await s.close();
    }
    await expectTokenError(new SoftToken(f).changePin('864200', '12'), 'PIN_INVALID');
  });

  it('generates non-extractable key pairs and refuses duplicate labels or ids', async () => {
    const f = file();
    await createSoftToken(f, { label: 'gen', pin: PIN });
    const s = await new SoftToken(f).login(PIN);
    try {
      const k = await s.generateKeyPair({ label: 'a', keyType: 'rsa-2048' });
      assert.equal(keyTypeOfSpki(k.spki).keyType, 'rsa-2048');
      await expectTokenError(s.generateKeyPair({ label: 'a', keyType: 'ec-p256' }), 'OBJECT_EXISTS');
      await expectTokenError(s.generateKeyPair({ label: 'b', keyType: 'ec-p256', id: k.id }), 'OBJECT_EXISTS');
      assert.equal(await s.relabel(k.id, 'renamed'), 2);
      assert.equal(await s.deleteObjects(k.id), 2);
      assert.deepEqual(await s.listObjects(), []);
    } finally {
      await s.close();
    }
  });

  it('a key removed (or swapped) in the middle of an operation gives a clear error and nothing is written', async () => {
    const f = file();
    await createSoftToken(f, { label: 'rm', pin: PIN });
    const s = await new SoftToken(f).login(PIN);
    const k = await s.generateKeyPair({ label: 'k', keyType: 'ec-p256' });
    const away = `${f}.away`;
    renameSync(f, away);
    const e = await expectTokenError(s.relabel(k.id, 'x'), 'TOKEN_REMOVED');
    assert.match(e.message, /removed during the operation; nothing was written/);
    await expectTokenError(s.sign(k.id, Buffer.from('x')), 'TOKEN_REMOVED');
    // another token put in its place is not written to either
    await createSoftToken(f, { label: 'other', pin: PIN });
    await expectTokenError(s.generateKeyPair({ label: 'k2', keyType: 'ec-p256' }), 'TOKEN_REMOVED');
    assert.deepEqual(new SoftToken(f).publicObjects(), []);
    renameSync(away, f);
    assert.equal(await s.relabel(k.id, 'back'), 2, 'the same key inserted again works');
    await s.close();
    await expectTokenError(s.sign(k.id, Buffer.from('x')), 'FAILED');
  });
});
