// SM2 as a key type: key type detection, the software signer (encrypted at rest, default-ID
// signatures OpenSSL verifies with distid) and SM2 CSRs made by OpenSSL, with and without distid.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { keyTypeOfSpki, signatureAlgorithmFor, verifyWithAlgId } from '../src/pki/algorithms.js';
import { CsrError, parseCsr } from '../src/pki/csr.js';
import * as der from '../src/pki/der.js';
import { fromPem } from '../src/pki/pem.js';
import { SoftwareSigner } from '../src/signer/software-signer.js';
import { scratch } from './helpers/sm2.js';

const s = scratch('sm2-signer');
after(() => s.cleanup());
const DISTID = 'distid:1234567812345678';

describe('sm2 key type', () => {
  test('an OpenSSL SM2 public key is key type sm2, signed with SM2-with-SM3 without parameters', () => {
    const keyFile = s.write('k.pem', '');
    s.ok(['genpkey', '-algorithm', 'SM2', '-out', keyFile]);
    const pub = s.ok(['pkey', '-in', keyFile, '-pubout']);
    assert.equal(keyTypeOfSpki(fromPem(pub, 'PUBLIC KEY')).keyType, 'sm2');
    assert.equal(signatureAlgorithmFor('sm2').algId.toString('hex'), '300a06082a811ccf55018375');
  });

  test('the software signer stores the key encrypted and signs with the default ID', async () => {
    const passphrase = 'pass-sm2-signer';
    const made = await SoftwareSigner.generate(s.dir, 'keys/ca.key', 'sm2', passphrase);
    assert.equal(made.keyType, 'sm2');
    const stored = readFileSync(path.join(s.dir, 'keys/ca.key'), 'utf8');
    assert.match(stored, /BEGIN ENCRYPTED PRIVATE KEY/);
    await assert.rejects(SoftwareSigner.open(s.dir, 'keys/ca.key', 'wrong'), /wrong CA key passphrase/);
    const signer = await SoftwareSigner.open(s.dir, 'keys/ca.key', passphrase);
    assert.equal(signer.keyType, 'sm2');
    assert.deepEqual(signer.spki, made.spki);
    assert.deepEqual(signer.algorithm.algId, signatureAlgorithmFor('sm2').algId);
    const data = Buffer.from('to be signed');
    const pubFile = s.write(
      'signer.pub',
      `-----BEGIN PUBLIC KEY-----\n${signer.spki.toString('base64')}\n-----END PUBLIC KEY-----\n`,
    );
    const dataFile = s.write('data.bin', data);
    for (const [name, sig] of [
      ['async', await signer.sign(data)],
      ['sync', signer.signSync(data)],
    ] as const) {
      const sigFile = s.write(`sig-${name}.der`, sig);
      const verify = (opts: string[]) =>
        s.ok([
          'pkeyutl',
          '-verify',
          '-pubin',
          '-inkey',
          pubFile,
          '-rawin',
          '-digest',
          'sm3',
          ...opts,
          '-in',
          dataFile,
          '-sigfile',
          sigFile,
        ]);
      assert.match(verify(['-pkeyopt', DISTID]), /Signature Verified Successfully/, name);
      // And our own verifier, through the generic AlgorithmIdentifier path.
      const { key } = keyTypeOfSpki(signer.spki);
      assert.equal(verifyWithAlgId(der.parse(signer.algorithm.algId), key, data, sig), true);
      assert.equal(verifyWithAlgId(der.parse(signatureAlgorithmFor('ec-p256').algId), key, data, sig), false);
    }
  });
});

describe('SM2 CSRs', () => {
  const keyFile = path.join(s.dir, 'holder.pem');
  before(() => s.ok(['genpkey', '-algorithm', 'SM2', '-out', keyFile]));
  const csr = (sigopt: string[]): Buffer => {
    const out = path.join(s.dir, `req-${sigopt.length}.der`);
    s.ok([
      'req',
      '-new',
      '-key',
      keyFile,
      '-sm3',
      ...sigopt,
      '-subj',
      '/C=CN/O=测试单位/CN=张三',
      '-utf8',
      '-outform',
      'DER',
      '-out',
      out,
    ]);
    return readFileSync(out);
  };

  test('an SM2 CSR signed with distid 1234567812345678 is accepted', () => {
    const parsed = parseCsr(csr(['-sigopt', DISTID]));
    assert.equal(parsed.keyType, 'sm2');
    assert.ok(parsed.subject.some((a) => a.value === '张三'));
  });

  test('an SM2 CSR signed with the empty ID (OpenSSL 3.0 without distid) is refused, saying so', () => {
    assert.throws(
      () => parseCsr(csr([])),
      (e: unknown) => e instanceof CsrError && /empty SM2 ID/.test(e.message) && /1234567812345678/.test(e.message),
    );
  });
});
