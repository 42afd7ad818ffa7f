// Public keys from SubjectPublicKeyInfo bytes (keyTypeOfSpki): the P-256 shortcut (a JWK import)
// must give the very key the DER decoder gives, and refuse what the decoder refuses.
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { test } from 'node:test';
import { AlgorithmError, keyTypeOfSpki } from '../src/pki/algorithms.js';

const spkiOf = (k: ReturnType<typeof generateKeyPairSync>['publicKey']): Buffer => k.export({ type: 'spki', format: 'der' });

test('a P-256 key parses to the same key, which verifies what its private key signed', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = spkiOf(publicKey);
  const parsed = keyTypeOfSpki(spki);
  assert.equal(parsed.keyType, 'ec-p256');
  assert.deepEqual(parsed.key.export({ type: 'spki', format: 'der' }), spki);
  const data = Buffer.from('登录系统');
  assert.equal(parsed.key.equals(publicKey), true);
  assert.equal(verify('sha256', data, parsed.key, sign('sha256', data, privateKey)), true);
});

test('a P-256-shaped key whose point is not on the curve is refused', () => {
  const spki = Buffer.from(spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey));
  spki.writeUInt8(spki.readUInt8(90) ^ 0x01, 90); // the last byte of y
  assert.throws(() => keyTypeOfSpki(spki), AlgorithmError);
});

test('other keys still parse through the DER decoder: compressed P-256, P-384, RSA', () => {
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  const point = p256.export({ format: 'jwk' });
  assert.ok(point.x && point.y);
  // the same key with its point compressed (0x02/0x03 ‖ x): 59 bytes, not the shortcut's shape
  const uncompressed = spkiOf(p256);
  const y = Buffer.from(point.y, 'base64url');
  const compressed = Buffer.concat([
    Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'),
    Buffer.from([(y[31]! & 1) === 1 ? 0x03 : 0x02]),
    uncompressed.subarray(27, 59),
  ]);
  const c = keyTypeOfSpki(compressed);
  assert.equal(c.keyType, 'ec-p256');
  assert.equal(c.key.equals(p256), true, 'the compressed form is the same key');
  assert.equal(keyTypeOfSpki(spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey)).keyType, 'ec-p384');
  assert.equal(keyTypeOfSpki(spkiOf(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey)).keyType, 'rsa-2048');
});
