// SM2 elliptic-curve arithmetic (GB/T 32918 / GM/T 0003): the recommended curve, Z = SM3(ENTL ‖ ID
// ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA), and the signature equations over a given digest e. Point arithmetic
// is @noble/curves' Weierstrass code; the curve is a parameter so the standard's Annex A test
// curve can check these equations with its fixed k.
import { weierstrass, type WeierstrassPoint, type WeierstrassPointCons } from '@noble/curves/abstract/weierstrass.js';
import { invert, mod } from '@noble/curves/abstract/modular.js';
import { sm3 } from './sm3.js';

export interface Sm2CurveParams {
  p: bigint;
  a: bigint;
  b: bigint;
  n: bigint;
  Gx: bigint;
  Gy: bigint;
}

export type Sm2Point = WeierstrassPoint<bigint>;

export interface Sm2Curve extends Sm2CurveParams {
  Point: WeierstrassPointCons<bigint>;
  /** a ‖ b ‖ xG ‖ yG, the curve part of Z */
  zCurve: Buffer;
}

export const SIZE = 32;

export const toBytes32 = (v: bigint): Buffer => Buffer.from(v.toString(16).padStart(SIZE * 2, '0'), 'hex');
export const toBigInt = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`));

export function defineCurve(params: Sm2CurveParams): Sm2Curve {
  const Point = weierstrass({ ...params, h: 1n });
  const { a, b, Gx, Gy } = params;
  return { ...params, Point, zCurve: Buffer.concat([a, b, Gx, Gy].map(toBytes32)) };
}

/** The recommended curve sm2p256v1 (GB/T 32918.5), OID 1.2.156.10197.1.301. */
export const SM2_CURVE = defineCurve({
  p: 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn,
  a: 0xfffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffcn,
  b: 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n,
  n: 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n,
  Gx: 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n,
  Gy: 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n,
});

export class Sm2Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Sm2Error';
  }
}

/** Z_A for a user ID and public key (x ‖ y, 64 bytes). */
export function zValue(curve: Sm2Curve, id: Uint8Array, publicXY: Uint8Array): Buffer {
  const bits = id.length * 8;
  if (bits > 0xffff) throw new Sm2Error(`SM2 user ID is too long (${id.length} bytes; at most 8191)`);
  return sm3(Buffer.from([bits >> 8, bits & 0xff]), id, curve.zCurve, publicXY);
}

/** Signature equations (GB/T 32918.2 §6.1 A4–A7) for digest e and nonce k; null when k is unusable. */
export function signWithNonce(curve: Sm2Curve, d: bigint, e: bigint, k: bigint): { r: bigint; s: bigint } | null {
  const { n } = curve;
  const x1 = curve.Point.BASE.multiply(k).x;
  const r = mod(e + x1, n);
  if (r === 0n || r + k === n) return null;
  const s = mod(invert(1n + d, n) * (k - r * d), n);
  return s === 0n ? null : { r, s };
}

/** Verification equations (GB/T 32918.2 §7.1 B1–B7) for digest e. */
export function verifyDigest(curve: Sm2Curve, pub: Sm2Point, e: bigint, r: bigint, s: bigint): boolean {
  const { n } = curve;
  if (r < 1n || r >= n || s < 1n || s >= n) return false;
  const t = mod(r + s, n);
  if (t === 0n) return false;
  const point = curve.Point.BASE.mulAddUnsafe(s, pub, t);
  if (point.is0()) return false;
  return mod(e + point.x, n) === r;
}
