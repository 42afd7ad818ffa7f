// SM2 signatures and keys: the standard's vectors, and OpenSSL 3 both ways with distid.
import assert from 'node:assert/strict';
import { sign as nodeSign } from 'node:crypto';
import { after, describe, test } from 'node:test';
import * as der from '../src/pki/der.js';
import { OID } from '../src/pki/oids.js';
import { signWithNonce, SM2_CURVE, toBigInt, verifyDigest, zValue } from '../src/pki/sm2-curve.js';
import {
  checkSm2Signature,
  decodeSm2Signature,
  encodeSm2Signature,
  isSm2WithSm3,
  SM2_DEFAULT_ID,
  SM2_WITH_SM3_ALG_ID,
  sm2Digest,
  Sm2Error,
  Sm2PrivateKey,
  Sm2PublicKey,
  sm2Sign,
  sm2SignSync,
  sm2Verify,
} from '../src/pki/sm2.js';
import { sm3 } from '../src/pki/sm3.js';
import { publicMultiplyG } from '../src/pki/sm2-fixed-base.js';
import { verifyDigestNative } from '../src/pki/sm2-verify.js';
import { openssl } from './helpers/ca.js';
import { opensslPrivHex, scratch, SM2_TEST_CURVE } from './helpers/sm2.js';

const MSG = Buffer.from('message digest');

describe('SM2 signature vectors', () => {
  // GM/T 0003.5-2012 / GB/T 32918.5-2017 Annex A, on the recommended curve with the default ID
  // (values as in OpenSSL test/sm2_internal_test.c).
  test('GB/T 32918.5 Annex A: recommended curve, default ID', () => {
    const d = 0x3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8n;
    const k = 0x59276e27d506861a16680f3ad9c02dccef3cc1fa3cdbe4ce6d54b80deac1bc21n;
    const key = Sm2PrivateKey.fromScalar(Buffer.from(d.toString(16).padStart(64, '0'), 'hex'));
    const e = sm2Digest(key.publicKey, MSG);
    const sig = signWithNonce(SM2_CURVE, d, e, k);
    assert.deepEqual(sig, {
      r: 0xf5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3n,
      s: 0xb1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aan,
    });
    const encoded = encodeSm2Signature(sig!.r, sig!.s);
    assert.ok(sm2Verify(key.publicKey, MSG, encoded));
    assert.ok(!sm2Verify(key.publicKey, Buffer.from('message digesT'), encoded));
    assert.ok(!sm2Verify(key.publicKey, MSG, encoded, { id: '' }), 'the ID is part of what is signed');
  });

  // GB/T 32918.2 Annex A (draft-shen-sm2-ecdsa-02): the 256-bit test curve, ID ALICE123@YAHOO.COM.
  test('GB/T 32918.2 Annex A: test curve, ID ALICE123@YAHOO.COM', () => {
    const curve = SM2_TEST_CURVE;
    const d = 0x128b2fa8bd433c6c068c8d803dff79792a519a55171b1b650c23661d15897263n;
    const P = curve.Point.BASE.multiply(d);
    const z = zValue(curve, Buffer.from('ALICE123@YAHOO.COM'), Buffer.from(P.toBytes(false)).subarray(1));
    assert.equal(z.toString('hex'), 'f4a38489e32b45b6f876e3ac2168ca392362dc8f23459c1d1146fc3dbfb7bc9a');
    const e = toBigInt(sm3(z, MSG));
    const sig = signWithNonce(curve, d, e, 0x6cb28d99385c175c94f94e934817663fc176d925dd72b727260dbaae1fb2f96fn);
    assert.deepEqual(sig, {
      r: 0x40f1ec59f793d9f49e09dcef49130d4194f79fb1eed2caa55bacdb49c4e755d1n,
      s: 0x6fc6dac32c5d5cf10c77dfb20f7c2eb667a457872fb09ec56327a67ec7deebe7n,
    });
    assert.ok(verifyDigest(curve, P, e, sig!.r, sig!.s));
    assert.ok(!verifyDigest(curve, P, e + 1n, sig!.r, sig!.s));
  });
});

describe('SM2 with OpenSSL 3', () => {
  const s = scratch('sm2');
  after(() => s.cleanup());
  const distid = (id = SM2_DEFAULT_ID): string[] => ['-pkeyopt', `distid:${id}`];
  const verifyArgs = (pub: string, msg: string, sig: string, ...extra: string[]): string[] => [
    'pkeyutl',
    '-verify',
    '-rawin',
    '-digest',
    'sm3',
    ...extra,
    '-pubin',
    '-inkey',
    pub,
    '-in',
    msg,
    '-sigfile',
    sig,
  ];

  test('our signatures verify with openssl pkeyutl -verify … distid:1234567812345678 (sync, async, many nonces)', async () => {
    const key = Sm2PrivateKey.generate();
    const pub = s.write('ours-pub.pem', key.publicKey.toPem());
    const msg = s.write('ours-msg', Buffer.from('tbsCertificate bytes 证书'));
    const sigs = [sm2SignSync(key, s.read('ours-msg')), await sm2Sign(key, s.read('ours-msg'))];
    for (const [i, sig] of sigs.entries()) {
      const f = s.write(`ours-${i}.sig`, sig);
      const out = s.ok(verifyArgs(pub, msg, f, ...distid()));
      assert.match(out, /Signature Verified Successfully/);
      // Without the ID OpenSSL 3.0 takes an empty one, so the signature must not verify that way.
      const r = openssl(verifyArgs(pub, msg, f));
      assert.notEqual(r.status, 0, 'verified with an empty ID: the default ID was not used');
    }
    // Every nonce gives a valid signature (the native-signature conversion holds for any k).
    const data = Buffer.from('many');
    for (let i = 0; i < 40; i++) assert.ok(sm2Verify(key.publicKey, data, sm2SignSync(key, data)), `signature ${i}`);
  });

  test('a per-call user ID is honoured (openssl distid:ALICE123@YAHOO.COM)', () => {
    const key = Sm2PrivateKey.generate();
    const pub = s.write('alice-pub.pem', key.publicKey.toPem());
    const msg = s.write('alice-msg', 'hello');
    const sig = s.write('alice.sig', sm2SignSync(key, Buffer.from('hello'), { id: 'ALICE123@YAHOO.COM' }));
    s.ok(verifyArgs(pub, msg, sig, ...distid('ALICE123@YAHOO.COM')));
    assert.ok(!sm2Verify(key.publicKey, Buffer.from('hello'), s.read('alice.sig')), 'not valid under the default ID');
  });

  test('OpenSSL signatures (pkeyutl -sign … distid) verify with ours; keys from genpkey and ecparam read', () => {
    s.ok(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:SM2', '-out', `${s.dir}/gen.pem`]);
    s.ok(['ecparam', '-name', 'SM2', '-genkey', '-out', `${s.dir}/ecparam.pem`]);
    for (const name of ['gen', 'ecparam']) {
      const keyFile = `${s.dir}/${name}.pem`;
      const key = Sm2PrivateKey.fromPem(s.read(`${name}.pem`).toString());
      s.ok(['pkey', '-in', keyFile, '-pubout', '-out', `${s.dir}/${name}-pub.pem`]);
      const pub = Sm2PublicKey.fromPem(s.read(`${name}-pub.pem`).toString());
      assert.ok(key.publicKey.equals(pub), `${name}: public key derived from d equals OpenSSL's`);
      const msg = s.write(`${name}-msg`, `signed by openssl ${name}`);
      s.ok([
        'pkeyutl',
        '-sign',
        '-rawin',
        '-digest',
        'sm3',
        ...distid(),
        '-inkey',
        keyFile,
        '-in',
        msg,
        '-out',
        `${s.dir}/${name}.sig`,
      ]);
      assert.ok(sm2Verify(pub, s.read(`${name}-msg`), s.read(`${name}.sig`)), `${name}: OpenSSL's signature verifies`);
      assert.deepEqual(checkSm2Signature(pub, s.read(`${name}-msg`), s.read(`${name}.sig`)), { ok: true });
    }
  });

  test('openssl reads our PKCS#8 and SPKI, byte for byte as it writes them; SEC1 ("SM2 PRIVATE KEY") is read', () => {
    const key = Sm2PrivateKey.generate();
    const keyFile = s.write('ours-key.pem', key.toPem());
    s.ok(['pkey', '-in', keyFile, '-out', `${s.dir}/ours-key-openssl.pem`]);
    assert.equal(s.read('ours-key-openssl.pem').toString(), key.toPem());
    s.ok(['pkey', '-in', keyFile, '-pubout', '-outform', 'DER', '-out', `${s.dir}/ours-pub.der`]);
    assert.deepEqual(s.read('ours-pub.der'), key.publicKey.toSpki());
    assert.match(s.ok(['pkey', '-in', keyFile, '-text', '-noout']), /ASN1 OID: SM2/);
    assert.equal(opensslPrivHex(s.ok(['pkey', '-in', keyFile, '-text', '-noout'])), key.d.toString(16).padStart(64, '0'));
    s.ok(['ec', '-in', keyFile, '-out', `${s.dir}/sec1.pem`]);
    const sec1 = s.read('sec1.pem').toString();
    assert.match(sec1, /BEGIN SM2 PRIVATE KEY/);
    assert.equal(Sm2PrivateKey.fromPem(sec1).d, key.d);
  });

  test('encrypted PKCS#8: ours read by openssl pkey -passin, openssl pkcs8 -topk8 read by ours', () => {
    const key = Sm2PrivateKey.generate();
    const enc = s.write('enc-ours.pem', key.toEncryptedPem('pässword'));
    assert.match(s.read('enc-ours.pem').toString(), /BEGIN ENCRYPTED PRIVATE KEY/);
    assert.equal(
      opensslPrivHex(s.ok(['pkey', '-in', enc, '-passin', 'pass:pässword', '-text', '-noout'])),
      key.d.toString(16).padStart(64, '0'),
    );
    const plain = s.write('enc-plain.pem', key.toPem());
    s.ok(['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', plain, '-passout', 'pass:pw', '-out', `${s.dir}/enc-theirs.pem`]);
    const theirs = s.read('enc-theirs.pem').toString();
    assert.equal(Sm2PrivateKey.fromPem(theirs, 'pw').d, key.d);
    assert.throws(() => Sm2PrivateKey.fromPem(theirs, 'wrong'), /wrong passphrase/);
    assert.throws(() => Sm2PrivateKey.fromPem(theirs), /a passphrase is needed/);
  });

  test('a signature made with the empty ID (node:crypto, OpenSSL 3.0 without distid) fails with a message saying so', () => {
    const key = Sm2PrivateKey.generate();
    const data = Buffer.from('CertificationRequestInfo');
    const nodeSig = nodeSign('sm3', data, key.nativeKey());
    assert.ok(!sm2Verify(key.publicKey, data, nodeSig));
    const r = checkSm2Signature(key.publicKey, data, nodeSig);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.error : '', /signed with an empty SM2 ID \(Node's default\)\?/);
    const keyFile = s.write('empty-key.pem', key.toPem());
    const msg = s.write('empty-msg', data);
    s.ok(['pkeyutl', '-sign', '-rawin', '-digest', 'sm3', '-inkey', keyFile, '-in', msg, '-out', `${s.dir}/empty.sig`]);
    const r2 = checkSm2Signature(key.publicKey, data, s.read('empty.sig'));
    assert.match(!r2.ok ? r2.error : '', /empty SM2 ID/);
    // A signature that is simply wrong does not get that explanation.
    const other = checkSm2Signature(key.publicKey, Buffer.from('other'), sm2SignSync(key, data));
    assert.equal(other.ok, false);
    assert.doesNotMatch(!other.ok ? other.error : '', /empty/);
    assert.ok(!sm2Verify(key.publicKey, data, Buffer.from('not DER')));
  });
});

describe('SM2 verification on OpenSSL (sm2-verify.ts)', () => {
  test('agrees with the portable equations on valid and tampered signatures', () => {
    const key = Sm2PrivateKey.generate();
    const other = Sm2PrivateKey.generate();
    const { n } = SM2_CURVE;
    for (let i = 0; i < 12; i++) {
      const data = Buffer.from(`message ${i}`);
      const { r, s } = decodeSm2Signature(sm2SignSync(key, data));
      const e = sm2Digest(key.publicKey, data);
      const cases: [Sm2PublicKey, bigint, bigint, bigint, boolean][] = [
        [key.publicKey, e, r, s, true],
        [key.publicKey, e + 1n, r, s, false],
        [key.publicKey, e, (r + 1n) % n, s, false],
        [key.publicKey, e, r, (s + 1n) % n, false],
        [other.publicKey, e, r, s, false],
        [key.publicKey, e, r, n - r, false], // t = 0
        [key.publicKey, e, 0n, s, false],
        [key.publicKey, e, r, n, false],
      ];
      for (const [pub, ee, rr, ss, expected] of cases) {
        assert.equal(verifyDigestNative(pub, ee, rr, ss), expected, `case ${i}`);
        assert.equal(verifyDigest(SM2_CURVE, pub.point, ee, rr, ss), expected, `portable case ${i}`);
      }
    }
  });

  test('its fixed-base comb (sm2-fixed-base.ts) gives k·G as @noble/curves does, at window edges too', () => {
    const { n } = SM2_CURVE;
    const scalars = [1n, 2n, 255n, 256n, 257n, (1n << 248n) - 1n, 1n << 248n, (1n << 255n) + 12345n, n - 2n, n - 1n];
    for (let i = 0; i < 8; i++) scalars.push(toBigInt(sm3(Buffer.from(`k${i}`))) % n);
    for (const k of scalars) {
      const expected = Buffer.from(SM2_CURVE.Point.BASE.multiply(k).toBytes(false));
      assert.deepEqual(publicMultiplyG(k), expected, `k = ${k.toString(16)}`);
    }
  });
});

describe('SM2 key and algorithm encodings', () => {
  test('SM2-with-SM3 AlgorithmIdentifier: written without parameters, read with none or NULL', () => {
    assert.equal(SM2_WITH_SM3_ALG_ID.toString('hex'), '300a06082a811ccf55018375');
    assert.ok(isSm2WithSm3(der.parse(Buffer.from('300a06082a811ccf55018375', 'hex'))));
    assert.ok(isSm2WithSm3(der.parse(Buffer.from('300c06082a811ccf550183750500', 'hex'))));
    assert.ok(!isSm2WithSm3(der.parse(der.seq(der.oid(OID.ecdsaWithSHA256)))));
    assert.throws(
      () => isSm2WithSm3(der.parse(der.seq(der.oid(OID.sm2WithSM3), der.int(1)))),
      /parameters must be absent or NULL/,
    );
  });

  test('non-SM2 keys are refused naming the field', () => {
    const p256 = Buffer.from(
      '3059301306072a8648ce3d020106082a8648ce3d030107034200046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5',
      'hex',
    );
    assert.throws(
      () => Sm2PublicKey.fromSpki(p256),
      (e: Error) =>
        e instanceof Sm2Error && /SubjectPublicKeyInfo\.algorithm\.parameters is 1\.2\.840\.10045\.3\.1\.7/.test(e.message),
    );
    const bad = Buffer.from(Sm2PrivateKey.generate().publicKey.bytes);
    bad[64] = bad[64]! ^ 1;
    assert.throws(() => Sm2PublicKey.fromPoint(bad), /not a point on the SM2 curve/);
    assert.throws(() => Sm2PrivateKey.fromScalar(Buffer.alloc(31, 1)), /32 bytes/);
    assert.throws(() => Sm2PrivateKey.fromScalar(Buffer.alloc(32)), /out of range/);
  });
});
