// k·G on the SM2 curve for PUBLIC scalars k (the verifier's generator in sm2-verify.ts): a fixed-base
// comb over a table of j·2⁸ⁱ·G (i < 32, j < 256, affine), so k·G costs at most 32 mixed Jacobian
// additions in plain BigInt and one inversion — about half of what node:crypto's ECDH (a
// constant-time ladder) takes. Variable-time by design: never pass a private key or a nonce.
import { invert } from '@noble/curves/abstract/modular.js';
import { SM2_CURVE } from './sm2-curve.js';

const { p, Gx, Gy } = SM2_CURVE;
const W = 8;
const WINDOWS = 256 / W;
const SIZE = 1 << W;

type Jacobian = [bigint, bigint, bigint];
const INFINITY: Jacobian = [1n, 1n, 0n];

const norm = (v: bigint): bigint => {
  const r = v % p;
  return r < 0n ? r + p : r;
};

// dbl-2001-b (a = −3, which the SM2 curve has). Intermediate values may be negative; they are
// reduced once at the end (toAffine).
function double([X, Y, Z]: Jacobian): Jacobian {
  if (Z === 0n || Y === 0n) return INFINITY;
  const delta = (Z * Z) % p;
  const gamma = (Y * Y) % p;
  const beta = (X * gamma) % p;
  const alpha = (3n * (((X - delta) * (X + delta)) % p)) % p;
  const X3 = (alpha * alpha - 8n * beta) % p;
  const Z3 = ((Y + Z) * (Y + Z) - gamma - delta) % p;
  const Y3 = (alpha * (4n * beta - X3) - 8n * ((gamma * gamma) % p)) % p;
  return [X3, Y3, Z3];
}

// madd-2007-bl: Jacobian + affine.
function addAffine(P: Jacobian, x2: bigint, y2: bigint): Jacobian {
  const [X1, Y1, Z1] = P;
  if (Z1 === 0n) return [x2, y2, 1n];
  const Z1Z1 = (Z1 * Z1) % p;
  const U2 = (x2 * Z1Z1) % p;
  const S2 = (((y2 * Z1) % p) * Z1Z1) % p;
  const H = U2 - X1;
  const r = S2 - Y1;
  if (H % p === 0n) return r % p === 0n ? double(P) : INFINITY;
  const HH = (H * H) % p;
  const HHH = (H * HH) % p;
  const V = (X1 * HH) % p;
  const X3 = (r * r - HHH - 2n * V) % p;
  const Y3 = (r * (V - X3) - Y1 * HHH) % p;
  return [X3, Y3, (Z1 * H) % p];
}

/** Affine coordinates of many Jacobian points with one inversion (Montgomery's trick); none may be ∞. */
function toAffineAll(points: Jacobian[]): [bigint, bigint][] {
  const prefix: bigint[] = [];
  let acc = 1n;
  for (const [, , Z] of points) {
    acc = (acc * Z) % p;
    prefix.push(acc);
  }
  let inv = invert(norm(acc), p);
  const out: [bigint, bigint][] = new Array(points.length);
  for (let i = points.length - 1; i >= 0; i--) {
    const [X, Y, Z] = points[i]!;
    const zi = i === 0 ? inv : (inv * prefix[i - 1]!) % p;
    inv = (inv * Z) % p;
    const zi2 = (zi * zi) % p;
    out[i] = [norm(X * zi2), norm(((Y * zi2) % p) * zi)];
  }
  return out;
}

let table: { x: bigint[]; y: bigint[] }[] | undefined;

/** Built on first use (about 8,000 points, tens of milliseconds, about 1 MB). */
function comb(): { x: bigint[]; y: bigint[] }[] {
  if (table) return table;
  const rows: { x: bigint[]; y: bigint[] }[] = [];
  let bx = Gx;
  let by = Gy;
  for (let i = 0; i < WINDOWS; i++) {
    const multiples: Jacobian[] = [[bx, by, 1n]];
    for (let j = 2; j < SIZE; j++) multiples.push(addAffine(multiples[multiples.length - 1]!, bx, by));
    let next: Jacobian = [bx, by, 1n];
    for (let k = 0; k < W; k++) next = double(next);
    const affine = toAffineAll([...multiples, next]);
    const [nx, ny] = affine.pop()!;
    rows.push({ x: [0n, ...affine.map((a) => a[0])], y: [0n, ...affine.map((a) => a[1])] });
    bx = nx;
    by = ny;
  }
  table = rows;
  return rows;
}

/** k·G as uncompressed SEC1 bytes (04 ‖ x ‖ y) for a public scalar 0 < k < n; null for ∞. */
export function publicMultiplyG(k: bigint): Buffer | null {
  const rows = comb();
  let acc = INFINITY;
  let rest = k;
  for (let i = 0; i < WINDOWS && rest > 0n; i++, rest >>= BigInt(W)) {
    const j = Number(rest & BigInt(SIZE - 1));
    if (j !== 0) acc = addAffine(acc, rows[i]!.x[j]!, rows[i]!.y[j]!);
  }
  if (norm(acc[2]) === 0n) return null;
  const [[x, y]] = toAffineAll([acc]) as [[bigint, bigint]];
  return Buffer.from(`04${x.toString(16).padStart(64, '0')}${y.toString(16).padStart(64, '0')}`, 'hex');
}
