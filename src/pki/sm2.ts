// SM2 signatures with SM3 (GM/T 0003.2, GM/T 0009): e = SM3(Z ‖ M), Z over the user ID (default
// 1234567812345678) and the signer's key; DER SEQUENCE { r, s }; AlgorithmIdentifier SM2-with-SM3.
//
// Signing is OpenSSL's (node:crypto), made to honour the ID: node:crypto signs SM3(Z′ ‖ M′) with
// its own fixed ID and gives no way to set another. Its signature (r′, s′) for a fixed e′ reveals
// x1 = r′ − e′ of its random nonce k, so r = e + x1 is our signature's r, and since
// s = (1 + d)⁻¹(k − r·d), s = s′ + d(1 + d)⁻¹(r′ − r). Same k, same key: a plain SM2 signature
// over e, at native speed. (r′, s′) never leaves this function. Verification is OpenSSL's ECDSA
// in disguise (sm2-verify.ts).
//
// Side channels: s′ and c = d(1 + d)⁻¹ are as secret as d (s′ = s − c(e′ − e), and d = c/(1 − c)),
// and BigInt arithmetic takes time that depends on its operands. So s′ is read at a fixed width
// (never by its DER length: leaked leading zeros of s′ are a hidden-number problem on c, as in
// Minerva), every product and reduction on c or s′ works on operands blinded with fresh random
// multiples of n, and c's inversion is of (1 + d)·b for a random b. What is left is argued in
// docs/ARCHITECTURE.md (SM2).
import { getRandomValues, randomBytes, sign as cryptoSign } from 'node:crypto';
import { invert, mod } from '@noble/curves/abstract/modular.js';
import * as der from './der.js';
import { OID } from './oids.js';
import { SM2_CURVE, Sm2Error, toBigInt, verifyDigest } from './sm2-curve.js';
import type { Sm2PrivateKey, Sm2PublicKey } from './sm2-key.js';
import { verifyDigestNative } from './sm2-verify.js';
import { sm3 } from './sm3.js';

export { Sm2Error } from './sm2-curve.js';
export { Sm2PrivateKey, Sm2PublicKey } from './sm2-key.js';

/** GM/T 0009-2012 §10: the user ID when none is agreed. */
export const SM2_DEFAULT_ID = '1234567812345678';
const DEFAULT_ID = Buffer.from(SM2_DEFAULT_ID);
const EMPTY = Buffer.alloc(0);

/** SM2-with-SM3 without parameters, as OpenSSL writes it. */
export const SM2_WITH_SM3_ALG_ID = der.seq(der.oid(OID.sm2WithSM3));

export interface Sm2IdOption {
  /** the signer's user ID; default "1234567812345678" */
  id?: string | Uint8Array;
}

const idBytes = (id: string | Uint8Array | undefined): Uint8Array =>
  id === undefined ? DEFAULT_ID : typeof id === 'string' ? Buffer.from(id, 'utf8') : id;

/** e = SM3(Z ‖ M) as an integer. */
export function sm2Digest(pub: Sm2PublicKey, data: Uint8Array, id?: string | Uint8Array): bigint {
  return toBigInt(sm3(pub.z(idBytes(id)), data));
}

export function encodeSm2Signature(r: bigint, s: bigint): Buffer {
  return der.seq(der.int(r), der.int(s));
}

export function decodeSm2Signature(sig: Buffer): { r: bigint; s: bigint } {
  const [r, s, extra] = der.children(der.expect(der.parse(sig), der.Tag.SEQUENCE, 'SM2 signature'));
  if (extra) throw new Sm2Error('SM2 signature: more than r and s');
  return {
    r: BigInt(`0x${der.decodeIntHex(der.expect(r, der.Tag.INTEGER, 'SM2 signature r'))}`),
    s: BigInt(`0x${der.decodeIntHex(der.expect(s, der.Tag.INTEGER, 'SM2 signature s'))}`),
  };
}

interface NativeState {
  /** e′: the digest node:crypto signs for the empty message */
  e0: bigint;
  /** d(1 + d)⁻¹ mod n, plus a random multiple of n */
  c: bigint;
}
const native = new WeakMap<Sm2PrivateKey, NativeState>();

const blinds = new BigUint64Array(2);
const TOP = 1n << 63n;
/** Two random 2⁶³ ≤ b < 2⁶⁴: blinding factors (fresh ones per use; the top bit fixes their length). */
const blind2 = (): [bigint, bigint] => {
  getRandomValues(blinds);
  return [blinds[0]! | TOP, blinds[1]! | TOP];
};
/** s′ is read as 2²⁶⁴ + s′ (a constant-length BigInt); this takes the 2²⁶⁴ off inside blinded sums. */
const OFFSET = 1n << 264n;

/**
 * d(1 + d)⁻¹ mod n plus a random multiple of n (kept so, so it is never a short BigInt), inverting
 * (1 + d)·b for a random b so that the (variable-time) inversion sees a random value.
 */
function blindedC(d: bigint): bigint {
  const { n } = SM2_CURVE;
  const [b0, keep] = blind2();
  const b = mod(b0 * toBigInt(randomBytes(32)), n) || 1n;
  return mod(d * b * invert(mod((1n + d) * b, n), n), n) + keep * n;
}

/** Finds which ID node:crypto uses (empty in OpenSSL 3.x, 1234567812345678 from 4.0), once per key. */
function nativeState(key: Sm2PrivateKey): NativeState {
  let st = native.get(key);
  if (st) return st;
  const { r, s } = decodeSm2Signature(cryptoSign('sm3', EMPTY, key.nativeKey()));
  const pub = key.publicKey;
  for (const id of [EMPTY, DEFAULT_ID]) {
    const e0 = sm2Digest(pub, EMPTY, id);
    if (verifyDigest(SM2_CURVE, pub.point, e0, r, s)) {
      st = { e0, c: blindedC(key.d) };
      native.set(key, st);
      return st;
    }
  }
  throw new Sm2Error('node:crypto SM2 signatures use neither the empty nor the default ID: cannot sign');
}

/**
 * r and s of a DER signature, each read at a fixed width as 2²⁶⁴ + value: neither the parse nor the
 * BigInt's length depends on how many leading zero bytes s′ has (OpenSSL writes INTEGERs minimally,
 * so their lengths would tell).
 */
function decodeFixedWidth(sig: Buffer): { r: bigint; s: bigint } {
  const [r, s] = der.children(der.expect(der.parse(sig), der.Tag.SEQUENCE, 'SM2 signature'));
  const fixed = (node: der.Node | undefined, what: string): bigint => {
    const c = der.content(der.expect(node, der.Tag.INTEGER, what));
    const out = Buffer.alloc(34);
    out[0] = 1;
    c.copy(out, 34 - Math.min(c.length, 33), Math.max(0, c.length - 33));
    return BigInt(`0x${out.toString('hex')}`);
  };
  return { r: fixed(r, 'SM2 signature r') - OFFSET, s: fixed(s, 'SM2 signature s') };
}

/** Turns node:crypto's signature over e′ into ours over e; null in the (2⁻²⁵⁶) degenerate cases. */
function fromNative(st: NativeState, nativeSig: Buffer, e: bigint): Buffer | null {
  const { n } = SM2_CURVE;
  const { r: r0, s: offsetS0 } = decodeFixedWidth(nativeSig);
  const r = mod(r0 - st.e0 + e, n);
  // s = s′ + c(e′ − e) mod n, with c and s′ each shifted by a random multiple of n: the operands'
  // lengths and values (hence V8's multiply and divide times) change every call, the result does not.
  // (r′ is not secret: r′ = r − e + e′.)
  const [b1, b2] = blind2();
  const s = (offsetS0 + (b1 * n - OFFSET) + (st.c + b2 * n) * mod(st.e0 - e, n)) % n;
  // r + k = n is equivalent to s = −r here.
  if (r === 0n || s === 0n || mod(r + s, n) === 0n) return null;
  return encodeSm2Signature(r, s);
}

/** Signs `data` (SM2 with SM3, DER { r, s }). */
export function sm2SignSync(key: Sm2PrivateKey, data: Uint8Array, opts: Sm2IdOption = {}): Buffer {
  const st = nativeState(key);
  const e = sm2Digest(key.publicKey, data, opts.id);
  for (;;) {
    const sig = fromNative(st, cryptoSign('sm3', EMPTY, key.nativeKey()), e);
    if (sig) return sig;
  }
}

/** Like sm2SignSync, with the scalar multiplication on libuv's thread pool. */
export async function sm2Sign(key: Sm2PrivateKey, data: Uint8Array, opts: Sm2IdOption = {}): Promise<Buffer> {
  const st = nativeState(key);
  const e = sm2Digest(key.publicKey, data, opts.id);
  for (;;) {
    const nativeSig = await new Promise<Buffer>((resolve, reject) =>
      cryptoSign('sm3', EMPTY, key.nativeKey(), (err, sig) => (err ? reject(err) : resolve(sig))),
    );
    const sig = fromNative(st, nativeSig, e);
    if (sig) return sig;
  }
}

/** True when `sig` (DER { r, s }) is the SM2 signature of `data` under `pub` and the user ID. */
export function sm2Verify(pub: Sm2PublicKey, data: Uint8Array, sig: Buffer, opts: Sm2IdOption = {}): boolean {
  let rs: { r: bigint; s: bigint };
  try {
    rs = decodeSm2Signature(sig);
  } catch {
    return false;
  }
  return verifyDigestNative(pub, sm2Digest(pub, data, opts.id), rs.r, rs.s);
}

/**
 * Verifies and, on failure, says why in words a holder or operator can act on — in particular a
 * signature made with an empty ID, which is what node:crypto (and OpenSSL 3.x without distid) makes.
 */
export function checkSm2Signature(
  pub: Sm2PublicKey,
  data: Uint8Array,
  sig: Buffer,
  opts: Sm2IdOption = {},
): { ok: true } | { ok: false; error: string } {
  if (sm2Verify(pub, data, sig, opts)) return { ok: true };
  const id = Buffer.from(idBytes(opts.id)).toString('utf8');
  if (id !== '' && sm2Verify(pub, data, sig, { id: EMPTY })) {
    return {
      ok: false,
      error: `SM2 signature does not verify with the user ID "${id}" but does with an empty ID: signed with an empty SM2 ID (Node's default)?`,
    };
  }
  return { ok: false, error: `SM2 signature does not verify (user ID "${id}")` };
}

/**
 * True for an SM2-with-SM3 AlgorithmIdentifier; parameters may be absent or NULL (both occur in
 * CA certificates), anything else is refused.
 */
export function isSm2WithSm3(algId: der.Node): boolean {
  const [algOid, params, extra] = der.children(der.expect(algId, der.Tag.SEQUENCE, 'AlgorithmIdentifier'));
  if (der.decodeOid(der.expect(algOid, der.Tag.OID, 'AlgorithmIdentifier.algorithm')) !== OID.sm2WithSM3) return false;
  if (extra || (params && (params.tag !== der.Tag.NULL || params.end !== params.contentStart))) {
    throw new Sm2Error('SM2-with-SM3 AlgorithmIdentifier: parameters must be absent or NULL');
  }
  return true;
}
