// `npm run bench:sm2` — SM2 signatures per second through src/pki/sm2.ts (SM3(Z ‖ M) with the
// default ID, OpenSSL's native SM2 underneath) beside `openssl speed -seconds 3 sm2` in the same
// run, and beside node:crypto's own SM2 (empty ID) and ECDSA P-256 for context; verifications too
// (ours on OpenSSL's ECDSA, and the portable @noble/curves equations). Single core.
// Prints; exits non-zero only when a signature made here does not verify.
import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { SM2_CURVE, verifyDigest } from '../src/pki/sm2-curve.js';
import { decodeSm2Signature, sm2Digest, Sm2PrivateKey, sm2Sign, sm2SignSync, sm2Verify } from '../src/pki/sm2.js';
import { BenchError, fmt, now, openssl, seconds, signBaseline } from './lib/common.js';

const GOAL = 0.5;
const SECONDS = seconds(3);
/** about the size of a TBSCertificate */
const DATA = Buffer.alloc(1024, 0x5a);

function rate(fn: () => void, ms: number): number {
  for (let i = 0; i < 10; i++) fn();
  let count = 0;
  const t0 = now();
  let t = t0;
  while (t < t0 + ms) {
    for (let i = 0; i < 10; i++) fn();
    count += 10;
    t = now();
  }
  return count / ((t - t0) / 1000);
}

async function asyncRate(key: Sm2PrivateKey, ms: number, inFlight: number): Promise<number> {
  let count = 0;
  const t0 = now();
  const worker = async (): Promise<void> => {
    while (now() < t0 + ms) {
      await sm2Sign(key, DATA);
      count++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return count / ((now() - t0) / 1000);
}

/** `openssl speed -seconds N sm2` → signatures and verifications per second. */
function opensslSpeed(): { sign: number; verify: number } {
  const r = openssl(['speed', '-seconds', String(Math.round(SECONDS)), 'sm2']);
  const m = /SM2 \(CurveSM2\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)/.exec(r.out);
  if (r.status !== 0 || !m) throw new BenchError(`openssl speed sm2 failed:\n${r.out}`);
  return { sign: Number(m[1]), verify: Number(m[2]) };
}

async function main(): Promise<void> {
  const key = Sm2PrivateKey.generate();
  const sig = sm2SignSync(key, DATA);
  if (!sm2Verify(key.publicKey, DATA, sig)) throw new BenchError('our SM2 signature does not verify');
  const ms = SECONDS * 1000;

  console.log(`[sm2] openssl speed -seconds ${Math.round(SECONDS)} sm2 …`);
  const ossl = opensslSpeed();
  console.log(`[sm2] ours: sm2SignSync / sm2Verify over ${DATA.length} bytes, ${fmt(SECONDS, 1)} s each …`);
  const ours = rate(() => sm2SignSync(key, DATA), ms);
  const oursVerify = rate(() => sm2Verify(key.publicKey, DATA, sig), ms);
  const { r, s } = decodeSm2Signature(sig);
  const e = sm2Digest(key.publicKey, DATA);
  const portableVerify = rate(() => verifyDigest(SM2_CURVE, key.publicKey.point, e, r, s), ms / 2);
  const oursAsync = await asyncRate(key, ms, 1);
  const nodeSm2 = rate(() => cryptoSign('sm3', DATA, key.nativeKey()), ms);
  const p256 = signBaseline(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, 'sha256', DATA, ms).rate;

  const ratio = ours / ossl.sign;
  const rows: [string, number][] = [
    ['openssl speed sm2: sign/s', ossl.sign],
    ['openssl speed sm2: verify/s', ossl.verify],
    ['ours sm2SignSync (default ID): sign/s', ours],
    ['ours sm2Sign async, 1 in flight: sign/s', oursAsync],
    ['ours sm2Verify (OpenSSL ECDSA, sm2-verify.ts): verify/s', oursVerify],
    ['portable verifyDigest (@noble/curves): verify/s', portableVerify],
    ['node:crypto SM2 (empty ID, not usable for CAs): sign/s', nodeSm2],
    ['node:crypto ECDSA P-256 (our P-256 path): sign/s', p256],
  ];
  for (const [label, v] of rows) console.log(`  ${label.padEnd(58)} ${fmt(v).padStart(8)}`);
  console.log(`  ours / openssl signing ratio: ${fmt(ratio, 2)} (goal ≥ ${GOAL}: ${ratio >= GOAL ? 'met' : 'NOT met'})`);
  console.log(`  ours / node:crypto SM2: ${fmt(ours / nodeSm2, 2)}; ours / P-256: ${fmt(ours / p256, 2)}`);
  console.log(
    JSON.stringify({
      opensslSign: ossl.sign,
      opensslVerify: ossl.verify,
      sign: ours,
      signAsync: oursAsync,
      verify: oursVerify,
      nodeSm2,
      p256,
      ratio,
      goal: GOAL,
    }),
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
