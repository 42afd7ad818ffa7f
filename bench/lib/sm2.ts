// SM2 pieces of the benchmarks: `openssl speed sm2` (the reference rate), SM2 CSRs, the raw
// sm2SignSync baseline with a CA's key, and OpenSSL's check of an SM2-signed certificate.
import type { KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LoadedCa } from '../../src/ca/authority.js';
import type { ParsedCsr } from '../../src/pki/csr.js';
import { toPem } from '../../src/pki/pem.js';
import { SM2_DEFAULT_ID, Sm2PrivateKey, sm2SignSync } from '../../src/pki/sm2.js';
import { benchCsrs, BenchError, now, openssl } from './common.js';

export interface OpensslSm2Speed {
  sign: number;
  verify: number;
  /** the command as run */
  command: string;
}

/**
 * `openssl speed -seconds N sm2` → signatures and verifications per second. What it measures (apps/
 * speed.c, OpenSSL 3.0): per signature EVP_DigestSignInit(EVP_sm3()) on an SM2 key with the ID
 * "TLSv1.3+GM+Cipher+Suite", then EVP_DigestSign over 20 bytes — i.e. Z, SM3(Z ‖ M) and the SM2
 * signature, one thread; likewise for verification. We use the sign/s column. By default it divides
 * by its own user CPU time, so on a loaded machine its figure is per CPU-second while ours are per
 * wall-clock second; `elapsed` adds -elapsed (wall clock), which is what a same-run ratio needs.
 */
export function opensslSpeedSm2(secs: number, elapsed = false): OpensslSm2Speed {
  const args = ['speed', ...(elapsed ? ['-elapsed'] : []), '-seconds', String(Math.max(1, Math.round(secs))), 'sm2'];
  const r = openssl(args);
  const m = /SM2 \(CurveSM2\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)/.exec(r.out);
  if (r.status !== 0 || !m || !/Doing 256 bits? sign CurveSM2/.test(r.out)) {
    throw new BenchError(`openssl speed sm2 failed or printed something unexpected:\n${r.out}`);
  }
  return { sign: Number(m[1]), verify: Number(m[2]), command: `openssl ${args.join(' ')}` };
}

/** `n` CSRs, each with its own SM2 key (signed with the default ID) and subject C=CN, O=certdesk bench, CN=<prefix> <i>. */
export function sm2Csrs(n: number, prefix = 'bench sm2'): Promise<{ der: Buffer[]; parsed: ParsedCsr[] }> {
  return benchCsrs(n, prefix, 'sm2', () => {
    const key = Sm2PrivateKey.generate();
    return { spki: key.publicKey.toSpki(), sign: (data) => sm2SignSync(key, data) };
  });
}

/** The CA's SM2 key as its SoftwareSigner holds it, from the KeyObject loadCaKey() returns. */
export const sm2KeyOf = (key: KeyObject): Sm2PrivateKey => Sm2PrivateKey.fromPkcs8(key.export({ format: 'der', type: 'pkcs8' }));

/** Plain sm2SignSync (Z with the default ID, SM3, SM2) with `key` over `data` for `ms` milliseconds. */
export function sm2SignBaseline(key: Sm2PrivateKey, data: Buffer, ms: number): { rate: number; count: number; seconds: number } {
  for (let i = 0; i < 20; i++) sm2SignSync(key, data);
  let count = 0;
  const t0 = now();
  let t = t0;
  while (t < t0 + ms) {
    for (let i = 0; i < 10; i++) sm2SignSync(key, data);
    count += 10;
    t = now();
  }
  const s = (t - t0) / 1000;
  return { rate: count / s, count, seconds: s };
}

/**
 * OpenSSL 3.0's check of a certificate an SM2 issuing CA signed: `openssl verify -vfyopt
 * distid:1234567812345678 -partial_chain -CAfile issuing.pem leaf.pem` (3.0 cannot verify a whole
 * SM2 chain at once; see docs/ARCHITECTURE.md).
 */
export function opensslVerifySm2(dir: string, issuing: LoadedCa, certDer: Buffer): { ok: boolean; out: string } {
  const ca = path.join(dir, 'bench-sm2-issuing.pem');
  const leaf = path.join(dir, 'bench-sm2-spot.pem');
  writeFileSync(ca, toPem('CERTIFICATE', issuing.record.cert_der));
  writeFileSync(leaf, toPem('CERTIFICATE', certDer));
  const r = openssl(['verify', '-vfyopt', `distid:${SM2_DEFAULT_ID}`, '-partial_chain', '-CAfile', ca, leaf]);
  return { ok: r.status === 0 && /: OK\s*$/.test(r.out), out: r.out.trim() };
}
