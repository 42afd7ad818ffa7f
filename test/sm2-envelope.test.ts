// SM2EnvelopedKey (GB/T 35276 §7.4): ours opened with OpenSSL commands, and one assembled from
// OpenSSL-made parts opened by ours.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import * as der from '../src/pki/der.js';
import { OID } from '../src/pki/oids.js';
import { EnvelopeError, makeSm2EnvelopedKey, openSm2EnvelopedKey } from '../src/pki/sm2-envelope.js';
import { Sm2PrivateKey, Sm2PublicKey } from '../src/pki/sm2.js';
import { opensslPrivHex, scratch } from './helpers/sm2.js';

/** The top-level fields of a DER SEQUENCE as `openssl asn1parse` reports them (offset, header, length). */
function asn1Fields(out: string): { offset: number; hl: number; len: number; what: string }[] {
  return [...out.matchAll(/^\s*(\d+):d=1\s+hl=(\d+)\s+l=\s*(\d+)\s+\w+:\s*(.*)$/gm)].map((m) => ({
    offset: Number(m[1]),
    hl: Number(m[2]),
    len: Number(m[3]),
    what: m[4]!.trim(),
  }));
}

describe('SM2EnvelopedKey', () => {
  const s = scratch('sm2env');
  after(() => s.cleanup());

  test('ours opened by OpenSSL: pkeyutl -decrypt of the SM2Cipher with the signing key, then enc -sm4-ecb -d -nopad', () => {
    const signing = Sm2PrivateKey.generate();
    const encryption = Sm2PrivateKey.generate();
    const env = makeSm2EnvelopedKey({ protectionKey: signing.publicKey, encryptionKey: encryption });
    const envFile = s.write('ours.env', env);
    const fields = asn1Fields(s.ok(['asn1parse', '-inform', 'DER', '-in', envFile]));
    assert.deepEqual(
      fields.map((f) => f.what.split(/\s+/)[0]),
      ['SEQUENCE', 'SEQUENCE', 'BIT', 'BIT'],
      'symAlgID, symEncryptedKey, sm2PublicKey, sm2EncryptedPrivateKey',
    );
    const [alg, cipher, pub, encPriv] = fields.map((f) => env.subarray(f.offset, f.offset + f.hl + f.len));
    assert.match(
      s.ok(['asn1parse', '-inform', 'DER', '-in', s.write('alg.der', alg!)]),
      /1\.2\.156\.10197\.1\.104\.1|sm4-ecb[\s\S]*NULL/i,
    );
    s.write('cipher.der', cipher!);
    const keyFile = s.write('signing.pem', signing.toPem());
    s.ok(['pkeyutl', '-decrypt', '-inkey', keyFile, '-in', `${s.dir}/cipher.der`, '-out', `${s.dir}/sym.bin`]);
    const sym = s.read('sym.bin');
    assert.equal(sym.length, 16);
    s.write('encpriv.bin', encPriv!.subarray(3)); // tag, length, unused-bits octet
    s.ok(['enc', '-d', '-sm4-ecb', '-K', sym.toString('hex'), '-nopad', '-in', `${s.dir}/encpriv.bin`, '-out', `${s.dir}/d.bin`]);
    assert.equal(s.read('d.bin').toString('hex'), encryption.d.toString(16).padStart(64, '0'));
    assert.deepEqual(pub!.subarray(3), encryption.publicKey.bytes);
    // And ours opens ours.
    assert.equal(openSm2EnvelopedKey(env, signing).encryptionKey.d, encryption.d);
  });

  for (const padded of [false, true]) {
    test(`assembled from OpenSSL-made parts (genpkey, pkeyutl -encrypt, enc -sm4-ecb${padded ? ' with PKCS#7 padding' : ' -nopad'}) opened by ours`, () => {
      const tag = padded ? 'pad' : 'nopad';
      s.ok(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:SM2', '-out', `${s.dir}/${tag}-sign.pem`]);
      s.ok(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:SM2', '-out', `${s.dir}/${tag}-enc.pem`]);
      s.ok(['pkey', '-in', `${s.dir}/${tag}-sign.pem`, '-pubout', '-out', `${s.dir}/${tag}-sign-pub.pem`]);
      s.ok(['rand', '-out', `${s.dir}/${tag}-sym.bin`, '16']);
      s.ok([
        'pkeyutl',
        '-encrypt',
        '-pubin',
        '-inkey',
        `${s.dir}/${tag}-sign-pub.pem`,
        '-in',
        `${s.dir}/${tag}-sym.bin`,
        '-out',
        `${s.dir}/${tag}-cipher.der`,
      ]);
      const dHex = opensslPrivHex(s.ok(['pkey', '-in', `${s.dir}/${tag}-enc.pem`, '-text', '-noout']));
      s.write(`${tag}-d.bin`, Buffer.from(dHex, 'hex'));
      const sym = s.read(`${tag}-sym.bin`).toString('hex');
      s.ok([
        'enc',
        '-sm4-ecb',
        '-K',
        sym,
        ...(padded ? [] : ['-nopad']),
        '-in',
        `${s.dir}/${tag}-d.bin`,
        '-out',
        `${s.dir}/${tag}-encd.bin`,
      ]);
      s.ok(['pkey', '-in', `${s.dir}/${tag}-enc.pem`, '-pubout', '-outform', 'DER', '-out', `${s.dir}/${tag}-enc-pub.der`]);
      const encPub = Sm2PublicKey.fromSpki(s.read(`${tag}-enc-pub.der`));
      const env = der.seq(
        der.seq(der.oid(OID.sm4Ecb), der.nullValue()),
        s.read(`${tag}-cipher.der`),
        der.bitString(encPub.bytes),
        der.bitString(s.read(`${tag}-encd.bin`)),
      );
      const signing = Sm2PrivateKey.fromPem(s.read(`${tag}-sign.pem`).toString());
      const opened = openSm2EnvelopedKey(env, signing);
      assert.equal(opened.encryptionKey.d.toString(16).padStart(64, '0'), dHex);
      assert.ok(opened.encryptionKey.publicKey.equals(encPub));
      assert.equal(opened.symAlgorithm, OID.sm4Ecb);
    });
  }

  test('an envelope for another signing key is refused; so is one whose private key does not match its public key', () => {
    const signing = Sm2PrivateKey.generate();
    const encryption = Sm2PrivateKey.generate();
    const env = makeSm2EnvelopedKey({ protectionKey: signing.publicKey, encryptionKey: encryption });
    assert.throws(
      () => openSm2EnvelopedKey(env, Sm2PrivateKey.generate()),
      (e: Error) => e instanceof EnvelopeError && /not for this signing key/.test(e.message),
    );
    // Swap in another public key: the decrypted d no longer matches.
    const [alg, cipher, , encPriv] = der.children(der.parse(env));
    const swapped = der.seq(
      der.raw(alg!),
      der.raw(cipher!),
      der.bitString(Sm2PrivateKey.generate().publicKey.bytes),
      der.raw(encPriv!),
    );
    assert.throws(() => openSm2EnvelopedKey(swapped, signing), /does not match sm2PublicKey/);
    const otherAlg = der.seq(
      der.seq(der.oid('1.2.156.10197.1.104.2'), der.nullValue()),
      der.raw(cipher!),
      der.bitString(encryption.publicKey.bytes),
      der.raw(encPriv!),
    );
    assert.throws(() => openSm2EnvelopedKey(otherAlg, signing), /symAlgID is 1\.2\.156\.10197\.1\.104\.2, not SM4-ECB/);
    assert.throws(() => openSm2EnvelopedKey(Buffer.from('junk'), signing), /SM2EnvelopedKey is not valid DER/);
  });
});
