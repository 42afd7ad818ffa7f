// SM2 keys and their encodings as OpenSSL 3 writes and reads them: SubjectPublicKeyInfo with
// id-ecPublicKey + namedCurve 1.2.156.10197.1.301, PKCS#8 PrivateKeyInfo wrapping an RFC 5915
// ECPrivateKey (version 1, 32-byte d, [1] public key), and SEC1 "EC PRIVATE KEY" on input.
import { createECDH, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import * as der from './der.js';
import { OID } from './oids.js';
import { fromPemAll, toPem } from './pem.js';
import { SIZE, SM2_CURVE, Sm2Error, toBigInt, toBytes32, zValue, type Sm2Point } from './sm2-curve.js';

const SM2_KEY_ALG = der.seq(der.oid(OID.ecPublicKey), der.oid(OID.sm2Curve));

/** Checks an AlgorithmIdentifier node is id-ecPublicKey with the SM2 named curve. */
function expectSm2KeyAlgorithm(alg: der.Node | undefined, what: string): void {
  const [algOid, params] = der.children(der.expect(alg, der.Tag.SEQUENCE, `${what}.algorithm`));
  const name = der.decodeOid(der.expect(algOid, der.Tag.OID, `${what}.algorithm.algorithm`));
  if (name !== OID.ecPublicKey) throw new Sm2Error(`${what}.algorithm is ${name}, not id-ecPublicKey (${OID.ecPublicKey})`);
  const curve = params?.tag === der.Tag.OID ? der.decodeOid(params) : 'not a named curve';
  if (curve !== OID.sm2Curve) throw new Sm2Error(`${what}.algorithm.parameters is ${curve}, not the SM2 curve (${OID.sm2Curve})`);
}

export class Sm2PublicKey {
  /** 04 ‖ x ‖ y */
  readonly bytes: Buffer;
  private zCache: Map<string, Buffer> | undefined;

  private constructor(readonly point: Sm2Point) {
    this.bytes = Buffer.from(point.toBytes(false));
  }

  /** From an SEC1 point (uncompressed 04 ‖ x ‖ y, or compressed); throws unless on the SM2 curve. */
  static fromPoint(bytes: Uint8Array, what = 'SM2 public key'): Sm2PublicKey {
    let point: Sm2Point;
    try {
      point = SM2_CURVE.Point.fromBytes(bytes);
      point.assertValidity();
    } catch (e) {
      throw new Sm2Error(`${what} is not a point on the SM2 curve: ${(e as Error).message}`);
    }
    return new Sm2PublicKey(point);
  }

  static fromSpki(spki: Buffer): Sm2PublicKey {
    const [alg, bits] = der.children(der.expect(der.parse(spki), der.Tag.SEQUENCE, 'SubjectPublicKeyInfo'));
    expectSm2KeyAlgorithm(alg, 'SubjectPublicKeyInfo');
    const point = der.decodeBitString(der.expect(bits, der.Tag.BIT_STRING, 'SubjectPublicKeyInfo.subjectPublicKey'));
    return Sm2PublicKey.fromPoint(point, 'SubjectPublicKeyInfo.subjectPublicKey');
  }

  static fromPem(text: string): Sm2PublicKey {
    const [spki] = fromPemAll(text, 'PUBLIC KEY');
    if (!spki) throw new Sm2Error('no "PUBLIC KEY" PEM block found');
    return Sm2PublicKey.fromSpki(spki);
  }

  toSpki(): Buffer {
    return der.seq(SM2_KEY_ALG, der.bitString(this.bytes));
  }

  toPem(): string {
    return toPem('PUBLIC KEY', this.toSpki());
  }

  equals(other: Sm2PublicKey): boolean {
    return this.bytes.equals(other.bytes);
  }

  /** Z for the user `id` and this key (cached: a CA signs with the default ID all day). */
  z(id: Uint8Array): Buffer {
    const key = Buffer.from(id).toString('latin1');
    this.zCache ??= new Map();
    let z = this.zCache.get(key);
    if (!z) {
      z = zValue(SM2_CURVE, id, this.bytes.subarray(1));
      if (this.zCache.size < 8) this.zCache.set(key, z);
    }
    return z;
  }
}

export class Sm2PrivateKey {
  readonly publicKey: Sm2PublicKey;
  private native: KeyObject | undefined;

  private constructor(
    /** the private scalar, 1 ≤ d ≤ n − 2 */
    readonly d: bigint,
  ) {
    if (d < 1n || d > SM2_CURVE.n - 2n) throw new Sm2Error('SM2 private key is out of range (1 … n−2)');
    // d·G by OpenSSL (a constant-time ladder for a secret scalar), not by BigInt arithmetic.
    const ecdh = createECDH('SM2');
    ecdh.setPrivateKey(toBytes32(d));
    this.publicKey = Sm2PublicKey.fromPoint(ecdh.getPublicKey());
  }

  /** A new key from OpenSSL's generator (node:crypto). */
  static generate(): Sm2PrivateKey {
    // Not this KeyObject for signing: node:crypto types it "ec" and would sign ECDSA with it.
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'SM2' });
    return Sm2PrivateKey.fromPkcs8(privateKey.export({ format: 'der', type: 'pkcs8' }));
  }

  static fromScalar(d: Uint8Array): Sm2PrivateKey {
    if (d.length !== SIZE) throw new Sm2Error(`SM2 private key must be 32 bytes, got ${d.length}`);
    return new Sm2PrivateKey(toBigInt(d));
  }

  static fromPkcs8(pkcs8: Buffer): Sm2PrivateKey {
    const [version, alg, inner] = der.children(der.expect(der.parse(pkcs8), der.Tag.SEQUENCE, 'PrivateKeyInfo'));
    if (der.decodeSmallInt(der.expect(version, der.Tag.INTEGER, 'PrivateKeyInfo.version')) !== 0) {
      throw new Sm2Error('PrivateKeyInfo.version must be 0');
    }
    expectSm2KeyAlgorithm(alg, 'PrivateKeyInfo');
    const ec = der.content(der.expect(inner, der.Tag.OCTET_STRING, 'PrivateKeyInfo.privateKey'));
    return Sm2PrivateKey.fromEcPrivateKey(ec, false);
  }

  /** RFC 5915 ECPrivateKey; `sec1` (a bare "EC PRIVATE KEY") must name the curve in [0]. */
  static fromEcPrivateKey(ec: Buffer, sec1: boolean): Sm2PrivateKey {
    const [version, priv, ...rest] = der.children(der.expect(der.parse(ec), der.Tag.SEQUENCE, 'ECPrivateKey'));
    if (der.decodeSmallInt(der.expect(version, der.Tag.INTEGER, 'ECPrivateKey.version')) !== 1) {
      throw new Sm2Error('ECPrivateKey.version must be 1');
    }
    const d = der.content(der.expect(priv, der.Tag.OCTET_STRING, 'ECPrivateKey.privateKey'));
    const params = rest.find((n) => n.tag === 0xa0);
    const curve = params ? der.decodeOid(der.children(params)[0]!) : undefined;
    if ((sec1 || curve) && curve !== OID.sm2Curve) {
      throw new Sm2Error(`ECPrivateKey.parameters is ${curve ?? 'missing'}, not the SM2 curve (${OID.sm2Curve})`);
    }
    const key = new Sm2PrivateKey(toBigInt(d));
    const pub = rest.find((n) => n.tag === 0xa1);
    if (pub) {
      const bits = der.decodeBitString(der.expect(der.children(pub)[0], der.Tag.BIT_STRING, 'ECPrivateKey.publicKey'));
      if (!key.publicKey.equals(Sm2PublicKey.fromPoint(bits, 'ECPrivateKey.publicKey'))) {
        throw new Sm2Error('ECPrivateKey.publicKey does not belong to the private key');
      }
    }
    return key;
  }

  /**
   * From PEM: "ENCRYPTED PRIVATE KEY" (with `passphrase`), "PRIVATE KEY" (PKCS#8) or SEC1 "EC/SM2
   * PRIVATE KEY"; other blocks (e.g. "SM2 PARAMETERS") are skipped.
   */
  static fromPem(text: string, passphrase?: string): Sm2PrivateKey {
    const [encrypted] = fromPemAll(text, 'ENCRYPTED PRIVATE KEY');
    if (encrypted) {
      if (passphrase === undefined) throw new Sm2Error('the SM2 private key is encrypted: a passphrase is needed');
      let p8: Buffer;
      try {
        p8 = createPrivateKey({ key: encrypted, format: 'der', type: 'pkcs8', passphrase }).export({
          format: 'der',
          type: 'pkcs8',
        });
      } catch {
        throw new Sm2Error('cannot decrypt the SM2 private key: wrong passphrase or damaged file');
      }
      return Sm2PrivateKey.fromPkcs8(p8);
    }
    const [p8] = fromPemAll(text, 'PRIVATE KEY');
    if (p8) return Sm2PrivateKey.fromPkcs8(p8);
    // `openssl ec` labels SEC1 SM2 keys "SM2 PRIVATE KEY".
    const [sec1] = [...fromPemAll(text, 'EC PRIVATE KEY'), ...fromPemAll(text, 'SM2 PRIVATE KEY')];
    if (sec1) return Sm2PrivateKey.fromEcPrivateKey(sec1, true);
    throw new Sm2Error('no "PRIVATE KEY", "EC PRIVATE KEY" or "SM2 PRIVATE KEY" PEM block found');
  }

  toPkcs8(): Buffer {
    const ec = der.seq(der.int(1), der.octetString(toBytes32(this.d)), der.explicit(1, der.bitString(this.publicKey.bytes)));
    return der.seq(der.int(0), SM2_KEY_ALG, der.octetString(ec));
  }

  toPem(): string {
    return toPem('PRIVATE KEY', this.toPkcs8());
  }

  /** Encrypted PKCS#8 (AES-256-CBC under PBKDF2, as SoftwareSigner stores keys and `openssl pkcs8 -topk8` writes). */
  toEncryptedPem(passphrase: string): string {
    return this.nativeKey().export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase }) as string;
  }

  /** The same key as a node:crypto KeyObject of OpenSSL's SM2 type (read from PKCS#8), for native signing. */
  nativeKey(): KeyObject {
    this.native ??= createPrivateKey({ key: this.toPkcs8(), format: 'der', type: 'pkcs8' });
    return this.native;
  }
}
