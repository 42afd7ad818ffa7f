// SM3, SM4 and SM2 encryption: the standards' vectors and OpenSSL 3 (pkeyutl -encrypt/-decrypt, enc) both ways.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  decodeSm2Cipher,
  decryptParts,
  encodeSm2Cipher,
  encryptWithNonce,
  sm2Decrypt,
  sm2Encrypt,
} from '../src/pki/sm2-encrypt.js';
import { SM2_CURVE } from '../src/pki/sm2-curve.js';
import { Sm2Error, Sm2PrivateKey } from '../src/pki/sm2.js';
import { sm3 } from '../src/pki/sm3.js';
import { sm4CbcDecrypt, sm4CbcEncrypt, sm4EcbDecrypt, sm4EcbEncrypt, Sm4Error } from '../src/pki/sm4.js';
import { scratch, SM2_TEST_CURVE } from './helpers/sm2.js';

const hex = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ''), 'hex');

describe('SM3 and SM4 (node:crypto)', () => {
  test('SM3: GB/T 32905 Annex A examples', () => {
    assert.equal(sm3(Buffer.from('abc')).toString('hex'), '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0');
    assert.equal(
      sm3(Buffer.from('abcd'.repeat(16))).toString('hex'),
      'debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732',
    );
  });

  test('SM4: GB/T 32907 Annex A example, ECB without padding, CBC as openssl enc', () => {
    const k = hex('0123456789abcdeffedcba9876543210');
    assert.equal(sm4EcbEncrypt(k, k).toString('hex'), '681edf34d206965e86b3e94f536e4246');
    assert.deepEqual(sm4EcbDecrypt(k, hex('681edf34d206965e86b3e94f536e4246')), k);
    assert.throws(
      () => sm4EcbEncrypt(k, Buffer.alloc(20)),
      (e: Error) => e instanceof Sm4Error && /multiple of 16/.test(e.message),
    );
    assert.throws(() => sm4EcbEncrypt(Buffer.alloc(15), k), /16 bytes/);
    const s = scratch('sm4');
    try {
      const iv = hex('000102030405060708090a0b0c0d0e0f');
      const plain = Buffer.from('国密 SM4-CBC, not a whole block');
      const ct = sm4CbcEncrypt(k, iv, plain);
      s.write('plain', plain);
      s.ok([
        'enc',
        '-sm4-cbc',
        '-K',
        k.toString('hex'),
        '-iv',
        iv.toString('hex'),
        '-in',
        `${s.dir}/plain`,
        '-out',
        `${s.dir}/ct`,
      ]);
      assert.deepEqual(s.read('ct'), ct);
      assert.deepEqual(sm4CbcDecrypt(k, iv, ct), plain);
      assert.throws(() => sm4CbcDecrypt(hex('00'.repeat(16)), iv, ct), /bad padding/);
    } finally {
      s.cleanup();
    }
  });
});

describe('SM2 encryption vectors', () => {
  // GM/T 0003.5-2012 / GB/T 32918.5 Annex C, recommended curve; DER as in OpenSSL test/sm2_internal_test.c.
  test('GB/T 32918.5 Annex C: recommended curve, "encryption standard"', () => {
    const d = 0x3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8n;
    const P = SM2_CURVE.Point.BASE.multiply(d);
    const msg = Buffer.from('encryption standard');
    const parts = encryptWithNonce(SM2_CURVE, P, msg, 0x59276e27d506861a16680f3ad9c02dccef3cc1fa3cdbe4ce6d54b80deac1bc21n)!;
    const expected = hex(`307C 0220 04EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73
      0221 00E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0
      0420 59983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766
      0413 21886CA989CA9C7D58087307CA93092D651EFA`);
    assert.deepEqual(encodeSm2Cipher(parts), expected);
    const key = Sm2PrivateKey.fromScalar(hex(d.toString(16)));
    assert.deepEqual(sm2Decrypt(key, expected), msg);
    assert.deepEqual(sm2Decrypt(key, encodeSm2Cipher(parts, 'c1c3c2')), msg);
  });

  test('GB/T 32918.4 Annex A test curve (OpenSSL sm2_internal_test)', () => {
    const curve = SM2_TEST_CURVE;
    const d = 0x1649ab77a00637bd5e2efe283fbf353534aa7f7cb89463f208ddbc2920bb0da0n;
    const parts = encryptWithNonce(
      curve,
      curve.Point.BASE.multiply(d),
      Buffer.from('encryption standard'),
      0x4c62eefd6ecfc2b95b92fd6c3d9575148afa17425546d49018e5388d49dd7b4fn,
    )!;
    const expected = hex(`307B0220245C26FB68B1DDDDB12C4B6BF9F2B6D5FE60A383B0D18D1C4144ABF1
      7F6252E7022076CB9264C2A7E88E52B19903FDC47378F605E36811F5C07423A2
      4B84400F01B804209C3D7360C30156FAB7C80A0276712DA9D8094A634B766D3A
      285E07480653426D0413650053A89B41C418B0C3AAD00D886C00286467`);
    assert.deepEqual(encodeSm2Cipher(parts), expected);
    assert.equal(decryptParts(curve, d, decodeSm2Cipher(expected)).toString(), 'encryption standard');
  });
});

describe('SM2 encryption with OpenSSL 3', () => {
  const s = scratch('sm2enc');
  after(() => s.cleanup());

  test('ours decrypted by openssl pkeyutl -decrypt; openssl pkeyutl -encrypt decrypted by ours', () => {
    const key = Sm2PrivateKey.generate();
    const keyFile = s.write('key.pem', key.toPem());
    const pubFile = s.write('pub.pem', key.publicKey.toPem());
    const msg = Buffer.from('对称密钥 0123456789abcdef');
    s.write('ours.der', sm2Encrypt(key.publicKey, msg));
    s.ok(['pkeyutl', '-decrypt', '-inkey', keyFile, '-in', `${s.dir}/ours.der`, '-out', `${s.dir}/ours.plain`]);
    assert.deepEqual(s.read('ours.plain'), msg);
    s.write('msg', msg);
    s.ok(['pkeyutl', '-encrypt', '-pubin', '-inkey', pubFile, '-in', `${s.dir}/msg`, '-out', `${s.dir}/theirs.der`]);
    assert.deepEqual(sm2Decrypt(key, s.read('theirs.der')), msg);
    // OpenSSL writes exactly our DER shape: re-encoding its parts gives its bytes back.
    assert.deepEqual(encodeSm2Cipher(decodeSm2Cipher(s.read('theirs.der'))), s.read('theirs.der'));
  });

  test('a ciphertext for another key or a damaged one is refused by the C3 check', () => {
    const key = Sm2PrivateKey.generate();
    const ct = sm2Encrypt(key.publicKey, Buffer.from('secret'));
    assert.throws(
      () => sm2Decrypt(Sm2PrivateKey.generate(), ct),
      (e: Error) => e instanceof Sm2Error && /C3 does not match/.test(e.message),
    );
    const damaged = Buffer.from(ct);
    damaged[damaged.length - 1] = damaged[damaged.length - 1]! ^ 1;
    assert.throws(() => sm2Decrypt(key, damaged), /C3 does not match/);
    const raw = sm2Encrypt(key.publicKey, Buffer.from('secret'), 'c1c3c2');
    raw[10] = raw[10]! ^ 1;
    assert.throws(() => sm2Decrypt(key, raw), /C1 is not a point on the curve/);
  });
});
