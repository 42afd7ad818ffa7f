// SM2 public-key encryption (GM/T 0003.4 / GB/T 32918.4) with SM3: C1 = kG, (x2, y2) = k·P,
// C2 = M ⊕ KDF(x2 ‖ y2), C3 = SM3(x2 ‖ M ‖ y2). Written as DER SM2Cipher { x, y, hash, ciphertext }
// (GM/T 0009 §7.2, what OpenSSL's pkeyutl -encrypt writes) or raw C1 ‖ C3 ‖ C2.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mod } from '@noble/curves/abstract/modular.js';
import * as der from './der.js';
import { SIZE, SM2_CURVE, Sm2Error, toBigInt, toBytes32, type Sm2Curve, type Sm2Point } from './sm2-curve.js';
import type { Sm2PrivateKey, Sm2PublicKey } from './sm2-key.js';
import { sm3, sm3Kdf } from './sm3.js';

export interface Sm2CipherParts {
  x1: bigint;
  y1: bigint;
  /** C3 */
  hash: Buffer;
  /** C2 */
  ciphertext: Buffer;
}

/** The equations for a given nonce k; null when k must be replaced (the KDF output is all zero). */
export function encryptWithNonce(curve: Sm2Curve, pub: Sm2Point, msg: Uint8Array, k: bigint): Sm2CipherParts | null {
  const c1 = curve.Point.BASE.multiply(k);
  const shared = pub.multiply(k);
  const x2 = toBytes32(shared.x);
  const y2 = toBytes32(shared.y);
  const t = sm3Kdf(Buffer.concat([x2, y2]), msg.length);
  if (msg.length > 0 && t.every((b) => b === 0)) return null;
  const ciphertext = Buffer.allocUnsafe(msg.length);
  for (let i = 0; i < msg.length; i++) ciphertext[i] = msg[i]! ^ t[i]!;
  return { x1: c1.x, y1: c1.y, hash: sm3(x2, msg, y2), ciphertext };
}

/** Decryption equations: (x2, y2) = d·C1, then the C3 check; throws Sm2Error when it fails. */
export function decryptParts(curve: Sm2Curve, d: bigint, parts: Sm2CipherParts): Buffer {
  let c1: Sm2Point;
  try {
    c1 = curve.Point.fromAffine({ x: parts.x1, y: parts.y1 });
    c1.assertValidity();
  } catch {
    throw new Sm2Error('SM2 ciphertext: C1 is not a point on the curve');
  }
  const shared = c1.multiply(d);
  const x2 = toBytes32(shared.x);
  const y2 = toBytes32(shared.y);
  const t = sm3Kdf(Buffer.concat([x2, y2]), parts.ciphertext.length);
  const msg = Buffer.allocUnsafe(parts.ciphertext.length);
  for (let i = 0; i < msg.length; i++) msg[i] = parts.ciphertext[i]! ^ t[i]!;
  const hash = sm3(x2, msg, y2);
  if (parts.hash.length !== hash.length || !timingSafeEqual(hash, parts.hash)) {
    msg.fill(0);
    throw new Sm2Error('SM2 decryption failed: the hash C3 does not match (ciphertext for another key, or damaged)');
  }
  return msg;
}

function randomScalar(n: bigint): bigint {
  for (;;) {
    const k = mod(toBigInt(randomBytes(SIZE + 8)), n);
    if (k !== 0n) return k;
  }
}

export type Sm2CipherFormat = 'der' | 'c1c3c2';

export function encodeSm2Cipher(p: Sm2CipherParts, format: Sm2CipherFormat = 'der'): Buffer {
  if (format === 'c1c3c2') return Buffer.concat([Buffer.from([4]), toBytes32(p.x1), toBytes32(p.y1), p.hash, p.ciphertext]);
  return der.seq(der.int(p.x1), der.int(p.y1), der.octetString(p.hash), der.octetString(p.ciphertext));
}

/** Reads DER SM2Cipher or raw 04 ‖ C1 ‖ C3 ‖ C2. */
export function decodeSm2Cipher(input: Buffer, what = 'SM2Cipher'): Sm2CipherParts {
  if (input[0] === 4) {
    if (input.length < 1 + 2 * SIZE + 32) throw new Sm2Error(`${what}: C1 ‖ C3 ‖ C2 is too short (${input.length} bytes)`);
    return {
      x1: toBigInt(input.subarray(1, 33)),
      y1: toBigInt(input.subarray(33, 65)),
      hash: input.subarray(65, 97),
      ciphertext: input.subarray(97),
    };
  }
  const node = der.expect(der.parse(input), der.Tag.SEQUENCE, what);
  return sm2CipherFromNode(node, what);
}

export function sm2CipherFromNode(node: der.Node, what = 'SM2Cipher'): Sm2CipherParts {
  const [x, y, hash, ct, extra] = der.children(der.expect(node, der.Tag.SEQUENCE, what));
  if (extra) throw new Sm2Error(`${what}: more than four fields`);
  const h = der.content(der.expect(hash, der.Tag.OCTET_STRING, `${what}.hash`));
  if (h.length !== 32) throw new Sm2Error(`${what}.hash must be 32 bytes, got ${h.length}`);
  return {
    x1: BigInt(`0x${der.decodeIntHex(der.expect(x, der.Tag.INTEGER, `${what}.xCoordinate`))}`),
    y1: BigInt(`0x${der.decodeIntHex(der.expect(y, der.Tag.INTEGER, `${what}.yCoordinate`))}`),
    hash: h,
    ciphertext: der.content(der.expect(ct, der.Tag.OCTET_STRING, `${what}.cipherText`)),
  };
}

export function sm2EncryptParts(pub: Sm2PublicKey, msg: Uint8Array): Sm2CipherParts {
  for (;;) {
    const parts = encryptWithNonce(SM2_CURVE, pub.point, msg, randomScalar(SM2_CURVE.n));
    if (parts) return parts;
  }
}

/** Encrypts `msg` to `pub`; DER SM2Cipher by default. */
export function sm2Encrypt(pub: Sm2PublicKey, msg: Uint8Array, format: Sm2CipherFormat = 'der'): Buffer {
  return encodeSm2Cipher(sm2EncryptParts(pub, msg), format);
}

/** Decrypts DER SM2Cipher or raw C1 ‖ C3 ‖ C2. */
export function sm2Decrypt(key: Sm2PrivateKey, ciphertext: Buffer): Buffer {
  return decryptParts(SM2_CURVE, key.d, decodeSm2Cipher(ciphertext));
}
