// Key types and signature algorithms. Everything that depends on the key algorithm lives here, so
// adding SM2/SM3 means adding entries, not reshaping callers.
import { createHash, createPublicKey, generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import * as der from './der.js';
import { OID } from './oids.js';
import { isSm2WithSm3, SM2_WITH_SM3_ALG_ID, sm2Verify, Sm2PublicKey } from './sm2.js';

export const KEY_TYPES = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'sm2'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

export function isKeyType(s: string): s is KeyType {
  return (KEY_TYPES as readonly string[]).includes(s);
}

export interface SignatureAlgorithm {
  oid: string;
  /** DER AlgorithmIdentifier */
  algId: Buffer;
  /** digest name for node:crypto (SM2: 'sm3', but node:crypto cannot sign SM2 with the default ID — use sm2.ts) */
  digest: string;
}

/** SM2 with SM3 and the default user ID (sm2.ts); no parameters, as OpenSSL writes it. */
export const SM2_SM3: SignatureAlgorithm = { oid: OID.sm2WithSM3, algId: SM2_WITH_SM3_ALG_ID, digest: 'sm3' };

const RSA_SHA256: SignatureAlgorithm = {
  oid: OID.sha256WithRSAEncryption,
  algId: der.seq(der.oid(OID.sha256WithRSAEncryption), der.nullValue()),
  digest: 'sha256',
};
const ECDSA_SHA256: SignatureAlgorithm = {
  oid: OID.ecdsaWithSHA256,
  algId: der.seq(der.oid(OID.ecdsaWithSHA256)),
  digest: 'sha256',
};
const ECDSA_SHA384: SignatureAlgorithm = {
  oid: OID.ecdsaWithSHA384,
  algId: der.seq(der.oid(OID.ecdsaWithSHA384)),
  digest: 'sha384',
};

export function signatureAlgorithmFor(keyType: KeyType): SignatureAlgorithm {
  if (keyType === 'ec-p256') return ECDSA_SHA256;
  if (keyType === 'ec-p384') return ECDSA_SHA384;
  if (keyType === 'sm2') return SM2_SM3;
  return RSA_SHA256;
}

const VERIFY_DIGEST: Record<string, string> = {
  [OID.sha256WithRSAEncryption]: 'sha256',
  [OID.sha384WithRSAEncryption]: 'sha384',
  [OID.sha512WithRSAEncryption]: 'sha512',
  [OID.ecdsaWithSHA256]: 'sha256',
  [OID.ecdsaWithSHA384]: 'sha384',
  [OID.ecdsaWithSHA512]: 'sha512',
};

export class AlgorithmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AlgorithmError';
  }
}

/** Verifies `signature` over `data` given a DER AlgorithmIdentifier node and a public key. */
export function verifyWithAlgId(algId: der.Node, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  const sm2Key = keyTypeOf(key) === 'sm2';
  let sm2Alg: boolean;
  try {
    sm2Alg = isSm2WithSm3(algId);
  } catch (e) {
    throw new AlgorithmError((e as Error).message);
  }
  // An SM2 key only with SM2-with-SM3 and the default ID; node:crypto would check the empty ID.
  if (sm2Key || sm2Alg) return sm2Key && sm2Alg && sm2Verify(Sm2PublicKey.fromSpki(spkiOf(key)), data, signature);
  const algOid = der.decodeOid(der.children(algId)[0]!);
  const digest = VERIFY_DIGEST[algOid];
  if (!digest) throw new AlgorithmError(`unsupported signature algorithm ${algOid}`);
  try {
    return verify(digest, data, key, signature);
  } catch {
    return false;
  }
}

/**
 * Public keys parsed lately, by their SPKI bytes. createPublicKey from DER costs ~0.2 ms (OpenSSL's
 * decoder lookup), and one renewal parses the same holder key for the login, the CSR, the proof and
 * the CA: 7.5% of the server's CPU with 200 holders at once. KeyObjects are immutable, so sharing
 * one is safe; the map is bounded, oldest out first.
 */
const parsedSpkis = new Map<string, { keyType: KeyType; key: KeyObject }>();
const PARSED_SPKIS_MAX = 1024;

/** Determines the key type of a DER SubjectPublicKeyInfo; throws AlgorithmError when unsupported. */
export function keyTypeOfSpki(spki: Buffer): { keyType: KeyType; key: KeyObject } {
  const id = spki.toString('base64');
  const seen = parsedSpkis.get(id);
  if (seen) return seen;
  let key: KeyObject;
  try {
    key = isP256Spki(spki)
      ? // the same key as a JWK: half the cost of OpenSSL's DER decoder lookup, and the point is still checked to be on the curve
        createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64url(spki, 27, 59), y: b64url(spki, 59, 91) }, format: 'jwk' })
      : createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch (e) {
    throw new AlgorithmError(`public key cannot be parsed: ${(e as Error).message}`);
  }
  const parsed = Object.freeze({ keyType: keyTypeOf(key), key });
  parsedSpkis.set(id, parsed);
  if (parsedSpkis.size > PARSED_SPKIS_MAX) parsedSpkis.delete(parsedSpkis.keys().next().value!);
  return parsed;
}

/** SubjectPublicKeyInfo of an uncompressed P-256 point up to the point's 0x04: its whole DER is this and 64 bytes. */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex');
const isP256Spki = (spki: Buffer): boolean => spki.length === 91 && spki.subarray(0, 27).equals(P256_SPKI_PREFIX);
const b64url = (b: Buffer, from: number, to: number): string => b.subarray(from, to).toString('base64url');

export function keyTypeOf(key: KeyObject): KeyType {
  const d = key.asymmetricKeyDetails ?? {};
  // node:crypto reports OpenSSL's SM2 keys with no type, or as "ec" on curve "SM2" when generated.
  if (
    d.namedCurve === 'SM2' ||
    (key.asymmetricKeyType === undefined && isSm2Spki(spkiOf(key.type === 'private' ? createPublicKey(key) : key)))
  )
    return 'sm2';
  if (key.asymmetricKeyType === 'rsa') {
    const bits = d.modulusLength ?? 0;
    const t = `rsa-${bits}`;
    if (isKeyType(t)) return t;
    throw new AlgorithmError(`RSA key of ${bits} bits is not supported (2048, 3072 or 4096)`);
  }
  if (key.asymmetricKeyType === 'ec') {
    if (d.namedCurve === 'prime256v1') return 'ec-p256';
    if (d.namedCurve === 'secp384r1') return 'ec-p384';
    throw new AlgorithmError(`EC curve ${d.namedCurve ?? 'unknown'} is not supported`);
  }
  throw new AlgorithmError(`key algorithm ${key.asymmetricKeyType ?? 'unknown'} is not supported`);
}

/** True for id-ecPublicKey on the SM2 curve (GM/T 0015). */
export function isSm2Spki(spki: Buffer): boolean {
  const [alg] = der.children(der.parse(spki));
  const [algOid, params] = der.children(der.expect(alg, der.Tag.SEQUENCE, 'SubjectPublicKeyInfo.algorithm'));
  return der.decodeOid(algOid!) === OID.ecPublicKey && params?.tag === der.Tag.OID && der.decodeOid(params) === OID.sm2Curve;
}

/** ECDSA and RSA key pairs; SM2 keys come from Sm2PrivateKey.generate (node:crypto would sign them as ECDSA). */
export function generateKeyPair(keyType: KeyType): { privateKey: KeyObject; publicKey: KeyObject } {
  if (keyType === 'sm2') throw new AlgorithmError('SM2 keys are made with Sm2PrivateKey.generate, not generateKeyPair');
  if (keyType.startsWith('rsa-')) {
    return generateKeyPairSync('rsa', { modulusLength: Number(keyType.slice(4)), publicExponent: 0x10001 });
  }
  return generateKeyPairSync('ec', { namedCurve: keyType === 'ec-p384' ? 'secp384r1' : 'prime256v1' });
}

export function spkiOf(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' });
}

/** The subjectPublicKey BIT STRING contents of an SPKI (what SKI and OCSP key hashes are taken over). */
export function subjectPublicKeyBits(spki: Buffer): Buffer {
  const [, bits] = der.children(der.parse(spki));
  return der.decodeBitString(der.expect(bits, der.Tag.BIT_STRING, 'subjectPublicKey'));
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spki: Buffer): Buffer {
  return createHash('sha1').update(subjectPublicKeyBits(spki)).digest();
}
