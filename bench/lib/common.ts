// Shared pieces of the benchmarks: timing, number formatting, the issuing CA's raw key for the
// crypto.sign baseline, P-256 CSRs, and openssl invocations. Benchmarks print; they never assert
// on speed (they exit non-zero only on real errors such as a lost certificate).
import { spawnSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { LoadedCa } from '../../src/ca/authority.js';
import { signatureAlgorithmFor, spkiOf, type KeyType } from '../../src/pki/algorithms.js';
import { buildCsr, parseCsr, type ParsedCsr } from '../../src/pki/csr.js';
import { toPem } from '../../src/pki/pem.js';
import type { KeyRef } from '../../src/signer/signer.js';
import { descendants } from '../../test/helpers/processes.js';

export const now = (): number => performance.now();

/** Seconds from the environment (BENCH_SCALE multiplies every duration; default 1). */
export function seconds(base: number): number {
  const scale = Number(process.env.BENCH_SCALE ?? '1');
  return Math.max(0.5, base * (Number.isFinite(scale) && scale > 0 ? scale : 1));
}

export const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export const yesNo = (b: boolean): string => (b ? 'yes' : 'NO');

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export class BenchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BenchError';
  }
}

/**
 * CPU time (user + system, µs) used so far by this process's main thread, from
 * /proc/self/task/<pid>/stat (Linux, 10 ms resolution); NaN where unavailable.
 */
export function mainThreadCpuUs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10_000; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); NaN elsewhere. */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

/** CPU seconds (user + system) a process and its children alive now have used so far (Linux /proc). */
export function treeCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  return [pid, ...descendants(pid)].reduce((n, p) => n + cpuSeconds(p), 0);
}

/** CPU time (user + system, µs) used so far by the whole process, all threads. */
export function processCpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** The CA's private key exactly as its SoftwareSigner holds it (decrypted from DATA_DIR). */
export function loadCaKey(ca: LoadedCa, dataDir: string, passphrase: string): KeyObject {
  const ref = JSON.parse(ca.record.key_ref) as KeyRef;
  if (ref.kind !== 'software') throw new BenchError(`bench needs a software CA key, got ${ref.kind}`);
  return createPrivateKey({ key: readFileSync(path.join(dataDir, ref.file)), format: 'pem', passphrase });
}

/** Plain crypto.sign with `key` over `data` for `ms` milliseconds; the same digest and encoding the signer uses. */
export function signBaseline(
  key: KeyObject,
  digest: string,
  data: Buffer,
  ms: number,
): { rate: number; count: number; seconds: number } {
  const opts = key.asymmetricKeyType === 'ec' ? { key, dsaEncoding: 'der' as const } : { key };
  // warm-up
  for (let i = 0; i < 20; i++) cryptoSign(digest, data, opts);
  let count = 0;
  const t0 = now();
  const end = t0 + ms;
  let t = t0;
  while (t < end) {
    for (let i = 0; i < 20; i++) cryptoSign(digest, data, opts);
    count += 20;
    t = now();
  }
  const s = (t - t0) / 1000;
  return { rate: count / s, count, seconds: s };
}

/** A bench CSR's subject key: its SPKI and how it signs the CSR. */
export interface CsrKey {
  spki: Buffer;
  sign: (data: Buffer) => Buffer | Promise<Buffer>;
}

/** `n` CSRs of `keyType`, each with its own key from `newKey` and subject C=CN, O=certdesk bench, CN=<prefix> <i>. */
export async function benchCsrs(
  n: number,
  prefix: string,
  keyType: KeyType,
  newKey: () => CsrKey,
): Promise<{ der: Buffer[]; parsed: ParsedCsr[] }> {
  const alg = signatureAlgorithmFor(keyType);
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const key = newKey();
    out.push(
      await buildCsr({
        subject: [
          { type: 'C', value: 'CN' },
          { type: 'O', value: 'certdesk bench' },
          { type: 'CN', value: `${prefix} ${i}` },
        ],
        spki: key.spki,
        signatureAlgId: alg.algId,
        sign: key.sign,
      }),
    );
  }
  return { der: out, parsed: out.map((d) => parseCsr(d)) };
}

/** `n` CSRs, each with its own P-256 key and subject C=CN, O=certdesk bench, CN=bench <i>. */
export function p256Csrs(n: number, prefix = 'bench'): Promise<{ der: Buffer[]; parsed: ParsedCsr[] }> {
  return benchCsrs(n, prefix, 'ec-p256', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    return {
      spki: spkiOf(publicKey),
      sign: (data) => cryptoSign('sha256', data, { key: privateKey, dsaEncoding: 'der' }),
    };
  });
}

/** Runs openssl; returns stdout and stderr together and the exit status, never throws. */
export function openssl(args: string[], input?: Buffer): { out: string; status: number } {
  const r = spawnSync('openssl', args, { input, encoding: 'utf8' });
  if (r.error) return { out: r.error.message, status: 1 };
  return { out: `${r.stdout ?? ''}${r.stderr ?? ''}`, status: r.status ?? 1 };
}

/** Writes root and issuing CA certificates as PEM into `dir`. */
export function writeCaFiles(dir: string, root: LoadedCa, issuing: LoadedCa): { root: string; issuing: string } {
  const files = { root: path.join(dir, 'bench-root.pem'), issuing: path.join(dir, 'bench-issuing.pem') };
  writeFileSync(files.root, toPem('CERTIFICATE', root.record.cert_der));
  writeFileSync(files.issuing, toPem('CERTIFICATE', issuing.record.cert_der));
  return files;
}

/** `openssl verify -x509_strict` of one end-entity certificate against the CA. */
export function opensslVerify(dir: string, root: LoadedCa, issuing: LoadedCa, certDer: Buffer): { ok: boolean; out: string } {
  const f = writeCaFiles(dir, root, issuing);
  const certFile = path.join(dir, 'bench-spot.pem');
  writeFileSync(certFile, toPem('CERTIFICATE', certDer));
  const r = openssl(['verify', '-x509_strict', '-CAfile', f.root, '-untrusted', f.issuing, certFile]);
  return { ok: r.status === 0 && /: OK\s*$/.test(r.out), out: r.out.trim() };
}

export const keyLabel = (keyType: string): string => (keyType === 'ec-p256' ? 'P-256' : keyType.toUpperCase());
