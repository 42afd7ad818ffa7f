// `npm run bench:sm2` — SM2 signatures per second through src/pki/sm2.ts (SM3(Z ‖ M) with the
// default ID, OpenSSL's native SM2 underneath) beside `openssl speed -elapsed -seconds 3 sm2` in the
// same run, and beside node:crypto's own SM2 (empty ID) and ECDSA P-256 for context; verifications
// too (ours on OpenSSL's ECDSA, and the portable @noble/curves equations). Single core.
// Then OCSP for an SM2 hierarchy over HTTP: responses per second with a fresh nonce in every
// request (so every response is freshly SM2-signed), beside the raw signing rate with the
// responder's own key in the same run.
// Prints; exits non-zero only when a signature made here does not verify or a response is wrong.
import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as der from '../src/pki/der.js';
import { toPem } from '../src/pki/pem.js';
import { SM2_CURVE, verifyDigest } from '../src/pki/sm2-curve.js';
import { decodeSm2Signature, sm2Digest, Sm2PrivateKey, Sm2PublicKey, sm2Sign, sm2SignSync, sm2Verify } from '../src/pki/sm2.js';
import { serveTestCa } from '../test/helpers/holder.js';
import { BenchError, fmt, loadCaKey, median, now, seconds, signBaseline } from './lib/common.js';
import { runLoad } from './lib/http-load.js';
import { parseOcspResponse, quickCheck } from './lib/ocsp.js';
import { opensslSpeedSm2, sm2Csrs, sm2KeyOf, sm2SignBaseline } from './lib/sm2.js';

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

const OCSP_CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const OCSP_CERTS = 16;
const OCSP_REVOKED = 4;
/** openssl's nonce: OCTET STRING of 16 random bytes, the last bytes of the request */
const NONCE_BYTES = 16;

/** The signed part and the signature of a BasicOCSPResponse inside an OCSPResponse. */
function basicParts(resp: Buffer): { tbs: Buffer; signature: Buffer; responderCert: Buffer } {
  const [, bytes] = der.children(der.parse(resp));
  const [, octets] = der.children(der.children(bytes!)[0]!);
  const [tbs, , sig, certs] = der.children(der.parse(der.content(octets!)));
  return {
    tbs: der.raw(tbs!),
    signature: der.decodeBitString(sig!),
    responderCert: der.raw(der.children(der.children(certs!)[0]!)[0]!),
  };
}

/** OCSP with a fresh nonce per request against an SM2 hierarchy, beside the responder key's raw signing rate. */
async function ocspWithNonce(ms: number): Promise<{ ocspNonceRate: number; ocspSignRate: number; ocspRatio: number }> {
  const tag = '[sm2 ocsp]';
  const served = await serveTestCa({ keyType: 'sm2' });
  try {
    const { ca } = served;
    const issuingFile = path.join(ca.dir, 'issuing.pem');
    writeFileSync(issuingFile, ca.issuingPem);
    const csrs = await sm2Csrs(OCSP_CERTS, 'bench ocsp');
    const bodies: Buffer[] = [];
    const expected: string[] = [];
    for (let i = 0; i < OCSP_CERTS; i++) {
      const issued = await ca.rt.ca.issue({ csr: csrs.parsed[i]!, profileId: 'org-identity', actor: 'bench' });
      if (i < OCSP_REVOKED) await ca.rt.ca.revoke(issued.record.serial, 'keyCompromise', 'bench');
      const leaf = path.join(ca.dir, `leaf-${i}.pem`);
      const req = path.join(ca.dir, `req-${i}.der`);
      writeFileSync(leaf, toPem('CERTIFICATE', issued.der));
      // Requests exactly as `openssl ocsp` clients send them (SHA-1 CertID, a 16-byte nonce last).
      execFileSync('openssl', ['ocsp', '-issuer', issuingFile, '-cert', leaf, '-nonce', '-reqout', req], { stdio: 'pipe' });
      bodies.push(readFileSync(req));
      expected.push(i < OCSP_REVOKED ? 'revoked' : 'good');
    }
    const responder = ca.rt.ca.responderFor(ca.rt.ca.issuing.record.id);
    if (!responder) throw new BenchError('the SM2 issuing CA has no OCSP responder');
    const responderKey = sm2KeyOf(loadCaKey(responder, ca.dir, ca.env.CA_KEY_PASSPHRASE!));
    const responderPub = Sm2PublicKey.fromSpki(responder.signer.spki);
    const port = Number(new URL(served.base).port);

    // Rounds of raw signing (the responder's key, over a ResponseData of the real size) then load.
    const probe = await runLoad({
      port,
      path: '/ocsp',
      bodies,
      nonceLength: NONCE_BYTES,
      connections: 4,
      durationMs: 300,
      check: quickCheck,
    });
    if (!probe.sample) throw new BenchError(`${tag} no successful response: ${JSON.stringify(probe.errors)}`);
    const responseData = basicParts(probe.sample.response).tbs;
    const rounds = 3;
    let signs = 0;
    let signSecs = 0;
    let ok = 0;
    let failed = 0;
    let loadSecs = 0;
    let sample: { request: Buffer; response: Buffer } | undefined;
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const base = sm2SignBaseline(responderKey, responseData, ms / rounds / 2);
      const res = await runLoad({
        port,
        path: '/ocsp',
        bodies,
        nonceLength: NONCE_BYTES,
        connections: OCSP_CONNECTIONS,
        durationMs: ms / rounds,
        check: quickCheck,
      });
      signs += base.count;
      signSecs += base.seconds;
      ok += res.ok;
      failed += res.failed;
      loadSecs += res.seconds;
      sample = res.sample ?? sample;
      ratios.push(res.rate / base.rate);
      console.log(
        `${tag} round ${r + 1}/${rounds}: sm2SignSync ${fmt(base.rate)}/s, OCSP with nonce ${fmt(res.rate)} responses/s (${fmt(res.failed)} failed), ratio ${fmt(ratios[r]!, 3)}`,
      );
    }
    if (failed > 0 || !sample) throw new BenchError(`${tag} ${failed} responses failed the check`);
    // The sample: the nonce echoed, the right status, an SM2 signature by the responder over ResponseData.
    const parsed = parseOcspResponse(sample.response);
    const index = bodies.findIndex((b) =>
      b.subarray(0, b.length - NONCE_BYTES).equals(sample.request.subarray(0, sample.request.length - NONCE_BYTES)),
    );
    const parts = basicParts(sample.response);
    const sigOk = sm2Verify(responderPub, parts.tbs, parts.signature);
    const nonceOk =
      parsed.nonce !== undefined &&
      parsed.nonce.subarray(parsed.nonce.length - NONCE_BYTES).equals(sample.request.subarray(-NONCE_BYTES));
    if (!sigOk || !nonceOk || parsed.certStatuses[0] !== expected[index])
      throw new BenchError(
        `${tag} sample response: signature ${sigOk}, nonce ${nonceOk}, status ${parsed.certStatuses[0]} (expected ${expected[index]})`,
      );
    const signRate = signs / signSecs;
    const rate = ok / loadSecs;
    const mid = median(ratios);
    console.log(
      `${tag} ${OCSP_CERTS} SM2 certificates (${OCSP_REVOKED} revoked), requests from \`openssl ocsp -nonce -reqout\` with the nonce rewritten per request, ${OCSP_CONNECTIONS} keep-alive connections, server in this process`,
    );
    console.log(
      `${tag} OCSP with a fresh nonce: ${fmt(rate)} responses/s; raw sm2SignSync (responder key, ${responseData.length}-byte ResponseData): ${fmt(signRate)}/s; ratio ${fmt(mid, 3)} (median of rounds)`,
    );
    console.log(
      `${tag} sample response: nonce echoed, status ${parsed.certStatuses[0]}, SM2 signature verifies with the responder's key (default ID)`,
    );
    return { ocspNonceRate: rate, ocspSignRate: signRate, ocspRatio: mid };
  } finally {
    await served.close();
  }
}

async function main(): Promise<void> {
  const key = Sm2PrivateKey.generate();
  const sig = sm2SignSync(key, DATA);
  if (!sm2Verify(key.publicKey, DATA, sig)) throw new BenchError('our SM2 signature does not verify');
  const ms = SECONDS * 1000;

  // Rounds of `openssl speed -elapsed -seconds 1 sm2` then ours (sign, verify), so that other load on
  // a shared machine hits both about equally; the ratios are the medians of the rounds'.
  // -elapsed: wall-clock seconds, as ours are (without it openssl divides by its CPU time).
  const ROUNDS = 3;
  const roundMs = Math.max(500, ms / ROUNDS);
  const tally = { osslSign: 0, osslVerify: 0, sign: 0, verify: 0 };
  const signRatios: number[] = [];
  const verifyRatios: number[] = [];
  let command = '';
  for (let i = 0; i < ROUNDS; i++) {
    const o = opensslSpeedSm2(roundMs / 1000, true);
    command = o.command;
    const sg = rate(() => sm2SignSync(key, DATA), roundMs);
    const vf = rate(() => sm2Verify(key.publicKey, DATA, sig), roundMs);
    tally.osslSign += o.sign / ROUNDS;
    tally.osslVerify += o.verify / ROUNDS;
    tally.sign += sg / ROUNDS;
    tally.verify += vf / ROUNDS;
    signRatios.push(sg / o.sign);
    verifyRatios.push(vf / o.verify);
    console.log(
      `[sm2] round ${i + 1}/${ROUNDS}: ${o.command}: ${fmt(o.sign)} sign/s, ${fmt(o.verify)} verify/s; ours over ${DATA.length} bytes: ${fmt(sg)} sign/s, ${fmt(vf)} verify/s`,
    );
  }
  const ossl = { sign: tally.osslSign, verify: tally.osslVerify };
  const ours = tally.sign;
  const oursVerify = tally.verify;
  const { r, s } = decodeSm2Signature(sig);
  const e = sm2Digest(key.publicKey, DATA);
  const portableVerify = rate(() => verifyDigest(SM2_CURVE, key.publicKey.point, e, r, s), ms / 2);
  const oursAsync = await asyncRate(key, ms, 1);
  const nodeSm2 = rate(() => cryptoSign('sm3', DATA, key.nativeKey()), ms);
  const p256 = signBaseline(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, 'sha256', DATA, ms).rate;

  const ratio = median(signRatios);
  const verifyRatio = median(verifyRatios);
  const rows: [string, number][] = [
    [`${command} (mean of rounds): sign/s`, ossl.sign],
    [`${command} (mean of rounds): verify/s`, ossl.verify],
    ['ours sm2SignSync (default ID): sign/s', ours],
    ['ours sm2Sign async, 1 in flight: sign/s', oursAsync],
    ['ours sm2Verify (OpenSSL ECDSA, sm2-verify.ts): verify/s', oursVerify],
    ['portable verifyDigest (@noble/curves): verify/s', portableVerify],
    ['node:crypto SM2 (empty ID, not usable for CAs): sign/s', nodeSm2],
    ['node:crypto ECDSA P-256 (our P-256 path): sign/s', p256],
  ];
  for (const [label, v] of rows) console.log(`  ${label.padEnd(58)} ${fmt(v).padStart(8)}`);
  const list = (xs: number[]): string => xs.map((x) => fmt(x, 2)).join(', ');
  console.log(
    `  ours / openssl signing ratio: ${fmt(ratio, 2)} (median of rounds ${list(signRatios)}) (goal ≥ ${GOAL}: ${ratio >= GOAL ? 'met' : 'NOT met'})`,
  );
  console.log(`  ours / openssl verification ratio: ${fmt(verifyRatio, 2)} (median of rounds ${list(verifyRatios)})`);
  console.log(`  ours / node:crypto SM2: ${fmt(ours / nodeSm2, 2)}; ours / P-256: ${fmt(ours / p256, 2)}`);
  const ocsp = await ocspWithNonce(ms * 2);
  console.log(
    `[sm2 ocsp] beside openssl speed sm2 in this run: ${fmt(ocsp.ocspNonceRate)} responses/s vs ${fmt(ossl.sign)} sign/s (${fmt(ocsp.ocspNonceRate / ossl.sign, 2)})`,
  );
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
      verifyRatio,
      signRatios,
      verifyRatios,
      goal: GOAL,
      ...ocsp,
    }),
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
