// SM2 verification on OpenSSL's ECDSA (node:crypto), for speed: SM2 accepts (r, s) over e iff
// x(sG + tP) ≡ r − e (mod n), t = r + s. ECDSA with public key P, generator G′, digest h and
// signature (r″, s″) computes u1·G′ + u2·P with u1 = h/s″, u2 = r″/s″ and accepts iff its x ≡ r″.
// With r″ = r − e, s″ = r″/t (so u2 = t) and G′ = μG, μ = s·r″/(h·t) (so u1·G′ = sG), it computes
// exactly sG + tP. G′ differs from the SM2 generator, so OpenSSL reads the explicit curve as a
// plain EC curve (with the real generator it would turn it back into its SM2 type, which has no ECDSA).
// μG is computed here from a precomputed comb (sm2-fixed-base.ts): μ is public, and that is about
// twice as fast as node:crypto's constant-time ECDH ladder, which it replaced.
import { verify } from 'node:crypto';
import { invert, mod } from '@noble/curves/abstract/modular.js';
import * as der from './der.js';
import { OID } from './oids.js';
import { SM2_CURVE, toBigInt, toBytes32, verifyDigest } from './sm2-curve.js';
import { publicMultiplyG } from './sm2-fixed-base.js';
import type { Sm2PublicKey } from './sm2-key.js';

const M0 = Buffer.alloc(0);
const H = mod(toBigInt(Buffer.from('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'hex')), SM2_CURVE.n); // SHA-256("")
const { p, a, b, n } = SM2_CURVE;
const H_INV = invert(H, n);
const FIELD = der.seq(der.oid('1.2.840.10045.1.1'), der.int(p));
const CURVE = der.seq(der.octetString(toBytes32(a)), der.octetString(toBytes32(b)));

function spkiWithGenerator(generator: Buffer, pub: Sm2PublicKey): Buffer {
  const params = der.seq(der.int(1), FIELD, CURVE, der.octetString(generator), der.int(n), der.int(1));
  return der.seq(der.seq(der.oid(OID.ecPublicKey), params), der.bitString(pub.bytes));
}

/** Same answer as verifyDigest(SM2_CURVE, pub.point, e, r, s), computed by OpenSSL. */
export function verifyDigestNative(pub: Sm2PublicKey, e: bigint, r: bigint, s: bigint): boolean {
  if (r < 1n || r >= n || s < 1n || s >= n) return false;
  const t = mod(r + s, n);
  if (t === 0n) return false;
  const r2 = mod(r - e, n);
  // r″ = 0 cannot be an ECDSA signature; μ = 1 would give OpenSSL the SM2 generator. Both are
  // (2⁻²⁵⁶-rare) cases for the portable code.
  // One inversion for both: 1/(H·t) = H⁻¹ · t⁻¹.
  const tInv = invert(t, n);
  const mu = mod(s * r2 * H_INV * tInv, n);
  if (r2 === 0n || mu === 1n) return verifyDigest(SM2_CURVE, pub.point, e, r, s);
  const s2 = mod(r2 * tInv, n);
  const generator = publicMultiplyG(mu);
  if (!generator) return verifyDigest(SM2_CURVE, pub.point, e, r, s);
  try {
    // The SPKI straight to verify(): no KeyObject wrapper for a key used once.
    const key = { key: spkiWithGenerator(generator, pub), format: 'der', type: 'spki', dsaEncoding: 'der' } as const;
    return verify('sha256', M0, key, der.seq(der.int(r2), der.int(s2)));
  } catch {
    // An OpenSSL that refuses explicit curves: the portable code gives the same answer, slower.
    return verifyDigest(SM2_CURVE, pub.point, e, r, s);
  }
}
