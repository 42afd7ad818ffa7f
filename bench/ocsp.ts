// `npm run bench:ocsp` — OCSP responses per second over HTTP: the certdesk server (buildServer +
// runtime, logging off, its own process) beside `openssl ocsp` as a responder for the same CA, the
// same responder certificate and key, the same certificates (good and revoked) and the same
// requests, in the same run. One load generator (raw keep-alive sockets, closed loop) for both.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { KeyType } from '../src/pki/algorithms.js';
import { toPem } from '../src/pki/pem.js';
import { createTestCa, type TestCa } from '../test/helpers/ca.js';
import { BenchError, fmt, keyLabel, loadCaKey, now, openssl, p256Csrs, seconds, writeCaFiles, yesNo } from './lib/common.js';
import { runLoad, type LoadResult } from './lib/http-load.js';
import { parseOcspResponse, quickCheck, type CertStatusKind } from './lib/ocsp.js';

const GOAL = 3;
// 128: `openssl ocsp` serves one connection at a time and closes each, so it needs a deep queue of
// waiting connections to stay busy (with 32 it idles about a third of the time on this machine).
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 128);
/** connections used against `openssl ocsp` (default: the same) */
const OPENSSL_CONNECTIONS = Number(process.env.BENCH_OPENSSL_CONNECTIONS ?? CONNECTIONS);
/** certificates issued for the run; the first REVOKED of them are revoked */
const CERTS = 24;
const REVOKED = 6;
/** BENCH_KEY_TYPES=ec-p256,rsa-2048 for both (default: ec-p256 — the demo hierarchy's key type) */
const KEY_TYPES = (process.env.BENCH_KEY_TYPES ?? 'ec-p256').split(',').filter(Boolean) as KeyType[];
/** BENCH_OCSP_MODES=nonce or =plain runs one request kind only (default: both) */
const MODES = (process.env.BENCH_OCSP_MODES ?? 'nonce,plain').split(',').map((m) => m === 'nonce');
const REASONS = [
  'keyCompromise',
  'superseded',
  'cessationOfOperation',
  'affiliationChanged',
  'privilegeWithdrawn',
  'unspecified',
];

interface Responder {
  name: string;
  port: number;
  path: string;
  proc: ChildProcess;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

async function startCertdesk(ca: TestCa): Promise<Responder> {
  // BENCH_SERVER_NODE_ARGS: extra node flags for the server (e.g. --cpu-prof)
  const extra = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const proc = spawn(process.execPath, [...extra, '--import', 'tsx', path.join(import.meta.dirname, 'lib', 'ocsp-server.ts')], {
    env: { ...ca.env, LOG_LEVEL: 'silent' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /LISTENING (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.once('exit', (code) => reject(new BenchError(`certdesk server exited with code ${code}`)));
  });
  return { name: 'certdesk', port, path: '/ocsp', proc };
}

async function startOpenssl(
  dir: string,
  files: { index: string; rsigner: string; rkey: string; ca: string },
): Promise<Responder> {
  const port = await freePort();
  // -ndays 1: nextUpdate a day on, as certdesk's OCSP_VALIDITY_SECONDS default; -resp_key_id: responderID
  // byKey, as certdesk sends. openssl answers one request at a time and closes each connection (HTTP/1.0).
  const args = ['ocsp', '-index', files.index, '-port', String(port), '-rsigner', files.rsigner, '-rkey', files.rkey];
  args.push('-CA', files.ca, '-ndays', '1', '-resp_key_id');
  const proc = spawn('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  // Ready when it says so: a probe connection closed without a request would block it for good.
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const t = setTimeout(() => reject(new BenchError(`openssl ocsp did not start: ${err.trim()}`)), 10_000);
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (process.env.BENCH_DEBUG) process.stderr.write(`[openssl] ${d.toString()}`);
      if (/waiting for OCSP client connections/.test(err)) {
        clearTimeout(t);
        resolve();
      }
    });
    proc.once('exit', (code) => reject(new BenchError(`openssl ocsp exited with code ${code}: ${err.trim()}`)));
  });
  return { name: 'openssl ocsp', port, path: '/', proc };
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); NaN elsewhere. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

interface Measured extends LoadResult {
  /** responder CPU per response, µs */
  serverCpuUs: number;
  /** load generator CPU per response, µs */
  clientCpuUs: number;
}

async function measure(r: Responder, opts: Parameters<typeof runLoad>[0]): Promise<Measured> {
  const s0 = cpuSeconds(r.proc.pid);
  const c0 = process.cpuUsage();
  const res = await runLoad(opts);
  const c = process.cpuUsage(c0);
  const s = cpuSeconds(r.proc.pid) - s0;
  return { ...res, serverCpuUs: (s * 1e6) / Math.max(1, res.ok), clientCpuUs: (c.user + c.system) / Math.max(1, res.ok) };
}

async function stop(r: Responder | undefined): Promise<void> {
  if (!r || r.proc.exitCode !== null || r.proc.signalCode !== null) return;
  const exited = new Promise((resolve) => r.proc.once('exit', resolve));
  r.proc.kill('SIGTERM');
  const t = setTimeout(() => r.proc.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(t);
}

/** One POST, one response (a fresh connection each time). */
function postOnce(port: number, urlPath: string, body: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let buf = Buffer.alloc(0);
    s.on('connect', () => {
      s.write(
        `POST ${urlPath} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/ocsp-request\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      s.write(body);
    });
    s.on('data', (d: Buffer) => (buf = Buffer.concat([buf, d])));
    s.on('error', reject);
    s.on('close', () => {
      const i = buf.indexOf('\r\n\r\n');
      if (i < 0 || !/^HTTP\/1\.[01] 200/.test(buf.toString('latin1', 0, 12)))
        return reject(new BenchError(`bad HTTP response: ${buf.toString('latin1', 0, 80)}`));
      resolve(buf.subarray(i + 4));
    });
  });
}

interface ModeResult {
  nonce: boolean;
  certdesk: Measured;
  openssl: Measured;
  /** median of the rounds' ratios */
  ratio: number;
  pooledRatio: number;
  roundRatios: number[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Several measurements of one responder as one (totals; CPU per response weighted by responses). */
function combine(ms: Measured[]): Measured {
  const ok = ms.reduce((n, m) => n + m.ok, 0);
  const secs = ms.reduce((n, m) => n + m.seconds, 0);
  const errors: Record<string, number> = {};
  for (const m of ms) for (const [k, v] of Object.entries(m.errors)) errors[k] = (errors[k] ?? 0) + v;
  return {
    ok,
    failed: ms.reduce((n, m) => n + m.failed, 0),
    connects: ms.reduce((n, m) => n + m.connects, 0),
    errors,
    seconds: secs,
    rate: ok / secs,
    sample: ms[ms.length - 1]?.sample,
    serverCpuUs: ms.reduce((n, m) => n + m.serverCpuUs * m.ok, 0) / Math.max(1, ok),
    clientCpuUs: ms.reduce((n, m) => n + m.clientCpuUs * m.ok, 0) / Math.max(1, ok),
  };
}

const pick = (m: Measured): Record<string, number> => ({
  rate: m.rate,
  ok: m.ok,
  failed: m.failed,
  connects: m.connects,
  responderCpuUsPerResponse: m.serverCpuUs,
  clientCpuUsPerResponse: m.clientCpuUs,
});

async function runKeyType(keyType: KeyType): Promise<Record<string, unknown>> {
  const tag = `[${keyLabel(keyType)} CA]`;
  const ca = await createTestCa({ keyType });
  let ours: Responder | undefined;
  let theirs: Responder | undefined;
  try {
    const { rt } = ca;
    const issuing = rt.ca.issuing;
    const responder = rt.ca.responderFor(issuing.record.id);
    if (!responder) throw new BenchError('the test CA has no OCSP responder');

    // Certificates: CERTS issued, the first REVOKED revoked with various reasons.
    const csrs = await p256Csrs(CERTS, 'ocsp bench');
    const certs: { der: Buffer; serial: string; notAfter: number; subject: string; expected: CertStatusKind; file: string }[] =
      [];
    for (let i = 0; i < CERTS; i++) {
      const r = await rt.ca.issue({ csr: csrs.parsed[i]!, profileId: 'org-identity', actor: 'bench' });
      const file = path.join(ca.dir, `cert-${i}.pem`);
      writeFileSync(file, toPem('CERTIFICATE', r.der));
      certs.push({
        der: r.der,
        serial: r.record.serial,
        notAfter: r.record.not_after,
        subject: `/C=CN/O=certdesk bench/CN=ocsp bench ${i}`,
        expected: 'good',
        file,
      });
    }
    const revokedAt = new Map<string, { at: number; reason: string }>();
    for (let i = 0; i < REVOKED; i++) {
      const reason = REASONS[i % REASONS.length]!;
      const r = await rt.ca.revoke(certs[i]!.serial, reason, 'bench');
      revokedAt.set(r.serial, { at: r.revoked_at!, reason });
      certs[i]!.expected = 'revoked';
    }

    // openssl's view of the same CA: index.txt with the same certificates and revocations, the issuing CA
    // certificate, and the delegated responder certificate with its key (decrypted for openssl).
    const caFiles = writeCaFiles(ca.dir, rt.ca.root, issuing);
    const rsigner = path.join(ca.dir, 'responder.pem');
    const rkey = path.join(ca.dir, 'responder.key');
    writeFileSync(rsigner, toPem('CERTIFICATE', responder.record.cert_der));
    writeFileSync(rkey, loadCaKey(responder, ca.dir, ca.env.CA_KEY_PASSPHRASE!).export({ format: 'pem', type: 'pkcs8' }), {
      mode: 0o600,
    });
    const utc = (ms: number): string => new Date(ms).toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
    const index = path.join(ca.dir, 'index.txt');
    writeFileSync(
      index,
      certs
        .map((c) => {
          const rv = revokedAt.get(c.serial);
          const serial = c.serial.toUpperCase();
          return rv
            ? `R\t${utc(c.notAfter)}\t${utc(rv.at)},${rv.reason}\t${serial}\tunknown\t${c.subject}\n`
            : `V\t${utc(c.notAfter)}\t\t${serial}\tunknown\t${c.subject}\n`;
        })
        .join(''),
    );
    writeFileSync(index + '.attr', 'unique_subject = no\n');

    // Requests exactly as `openssl ocsp` clients send them (SHA-1 CertID; with and without nonce).
    const reqs = { nonce: [] as Buffer[], plain: [] as Buffer[] };
    for (const c of certs) {
      for (const withNonce of [true, false]) {
        const out = path.join(ca.dir, `req-${withNonce ? 'n' : 'p'}-${c.serial}.der`);
        const r = openssl([
          'ocsp',
          '-issuer',
          caFiles.issuing,
          '-cert',
          c.file,
          withNonce ? '-nonce' : '-no_nonce',
          '-reqout',
          out,
        ]);
        if (r.status !== 0) throw new BenchError(`openssl ocsp -reqout failed: ${r.out}`);
        (withNonce ? reqs.nonce : reqs.plain).push(readFileSync(out));
      }
    }
    const nonceBytes = 16; // openssl's nonce: OCTET STRING of 16 random bytes, the last bytes of the request

    ours = await startCertdesk(ca);
    theirs = await startOpenssl(ca.dir, { index, rsigner, rkey, ca: caFiles.issuing });
    console.log(
      `${tag} certdesk server pid ${ours.proc.pid} on 127.0.0.1:${ours.port}${ours.path}; openssl ocsp pid ${theirs.proc.pid} on port ${theirs.port}`,
    );
    console.log(
      `${tag} ${CERTS} certificates (${REVOKED} revoked), responder certificate + key (${keyLabel(keyType)}) shared by both; requests from \`openssl ocsp -reqout\` (SHA-1 CertID)`,
    );

    // Both must answer every certificate correctly, and OpenSSL must accept the responses.
    for (const r of [ours, theirs]) {
      for (let i = 0; i < certs.length; i++) {
        const c = certs[i]!;
        const body = await postOnce(r.port, r.path, reqs.plain[i]!);
        const p = parseOcspResponse(body);
        if (p.status !== 0 || p.certStatuses[0] !== c.expected)
          throw new BenchError(
            `${r.name}: certificate ${c.serial} is ${p.certStatuses[0] ?? `status ${p.status}`}, expected ${c.expected}`,
          );
      }
      const respFile = path.join(ca.dir, `resp-${r.port}.der`);
      const reqFile = path.join(ca.dir, `req-${r.port}.der`);
      writeFileSync(reqFile, reqs.nonce[0]!);
      writeFileSync(respFile, await postOnce(r.port, r.path, reqs.nonce[0]!));
      // -reqin: the nonce is checked against this request's (-no_nonce: do not add a second one to it)
      const v = openssl([
        'ocsp',
        '-reqin',
        reqFile,
        '-respin',
        respFile,
        '-CAfile',
        caFiles.root,
        '-verify_other',
        caFiles.issuing,
        '-issuer',
        caFiles.issuing,
        '-cert',
        certs[0]!.file,
        '-no_nonce',
      ]);
      if (v.status !== 0 || !/Response verify OK/.test(v.out) || !/: revoked/.test(v.out))
        throw new BenchError(`${r.name}: openssl does not accept the response: ${v.out}`);
    }
    console.log(
      `${tag} correctness: both responders give the expected status for all ${CERTS} certificates; openssl verifies both (nonce checked)`,
    );

    // Rounds of certdesk then openssl, so that a change in machine load hits both about equally.
    const rounds = 3;
    const durationMs = seconds(2) * 1000;
    const modes: ModeResult[] = [];
    for (const withNonce of MODES) {
      const bodies = withNonce ? reqs.nonce : reqs.plain;
      const load = (r: Responder): Promise<Measured> =>
        measure(r, {
          port: r.port,
          path: r.path,
          bodies,
          ...(withNonce ? { nonceLength: nonceBytes } : {}),
          connections: r === theirs ? OPENSSL_CONNECTIONS : CONNECTIONS,
          durationMs,
          check: quickCheck,
        });
      const label = withNonce ? 'with nonce (fresh random nonce per request, echo checked)' : 'without nonce';
      const conns = OPENSSL_CONNECTIONS === CONNECTIONS ? `${CONNECTIONS}` : `${CONNECTIONS} (openssl: ${OPENSSL_CONNECTIONS})`;
      console.log(`${tag} ${label}, ${conns} concurrent connections, ${rounds} rounds of ${fmt(durationMs / 1000, 1)} s each:`);
      // short warm-up for JIT and caches, not counted
      await runLoad({ port: ours.port, path: ours.path, bodies, connections: CONNECTIONS, durationMs: 500, check: quickCheck });
      const ourRuns: Measured[] = [];
      const theirRuns: Measured[] = [];
      const roundRatios: number[] = [];
      for (let i = 0; i < rounds; i++) {
        if (process.env.BENCH_PROFILE) ours.proc.kill('SIGUSR2');
        const a = await load(ours);
        if (process.env.BENCH_PROFILE) ours.proc.kill('SIGUSR2');
        const b = await load(theirs);
        ourRuns.push(a);
        theirRuns.push(b);
        roundRatios.push(a.rate / b.rate);
        console.log(
          `${tag}   round ${i + 1}/${rounds}: certdesk ${fmt(a.rate)}/s, openssl ocsp ${fmt(b.rate)}/s, ratio ${fmt(a.rate / b.rate, 2)}`,
        );
      }
      const a = combine(ourRuns);
      const b = combine(theirRuns);
      const ratio = median(roundRatios);
      modes.push({ nonce: withNonce, certdesk: a, openssl: b, ratio, pooledRatio: a.rate / b.rate, roundRatios });
      const line = (r: Measured): string =>
        `${fmt(r.rate).padStart(7)} responses/s (${fmt(r.ok)} OK, ${fmt(r.failed)} failed${Object.keys(r.errors).length ? ' ' + JSON.stringify(r.errors) : ''}, ` +
        `${fmt(r.connects)} connections; CPU per response: responder ${fmt(r.serverCpuUs)} µs (busy ${fmt((r.serverCpuUs * r.rate) / 1e4)}%), load generator ${fmt(r.clientCpuUs)} µs)`;
      console.log(`${tag}   certdesk     ${line(a)}`);
      console.log(`${tag}   openssl ocsp ${line(b)}`);
      console.log(
        `${tag}   ratio certdesk/openssl = ${fmt(ratio, 2)} (median of rounds; pooled ${fmt(a.rate / b.rate, 2)})  (goal ≥ ${GOAL}: ${yesNo(ratio >= GOAL)})`,
      );
      console.log(
        `${tag}   responder CPU per response: openssl/certdesk = ${fmt(b.serverCpuUs / a.serverCpuUs, 2)} (${fmt(b.serverCpuUs)} µs vs ${fmt(a.serverCpuUs)} µs)`,
      );
    }

    // A revocation by another process (this one, not the server) shows at once, with or without nonce.
    const victim = certs[REVOKED]!;
    const before = parseOcspResponse(await postOnce(ours.port, ours.path, reqs.plain[REVOKED]!));
    const t = now();
    await rt.ca.revoke(victim.serial, 'keyCompromise', 'bench');
    const afterPlain = parseOcspResponse(await postOnce(ours.port, ours.path, reqs.plain[REVOKED]!));
    const afterNonce = parseOcspResponse(await postOnce(ours.port, ours.path, reqs.nonce[REVOKED]!));
    const seen =
      before.certStatuses[0] === 'good' && afterPlain.certStatuses[0] === 'revoked' && afterNonce.certStatuses[0] === 'revoked';
    console.log(
      `${tag} revocation from another process: ${before.certStatuses[0]} → ${afterPlain.certStatuses[0]} (no nonce) / ${afterNonce.certStatuses[0]} (nonce), ${fmt(now() - t, 0)} ms after the revoke began: ${seen ? 'OK' : 'FAILED'}`,
    );
    if (!seen) throw new BenchError('a revocation made by another process was not reflected at once');

    return {
      keyType,
      connections: CONNECTIONS,
      opensslConnections: OPENSSL_CONNECTIONS,
      secondsPerRound: durationMs / 1000,
      rounds,
      certificates: CERTS,
      revoked: REVOKED,
      modes: modes.map((m) => ({
        nonce: m.nonce,
        certdesk: pick(m.certdesk),
        openssl: pick(m.openssl),
        ratio: m.ratio,
        pooledRatio: m.pooledRatio,
        roundRatios: m.roundRatios,
        cpuRatio: m.openssl.serverCpuUs / m.certdesk.serverCpuUs,
        goal: GOAL,
        goalMet: m.ratio >= GOAL,
      })),
      crossProcessRevocationSeen: seen,
    };
  } finally {
    await stop(ours);
    await stop(theirs);
    await ca.cleanup();
  }
}

async function main(): Promise<void> {
  console.log(
    `certdesk bench:ocsp — OCSP over HTTP POST, certdesk (own process, logger off) vs \`openssl ocsp\` (${openssl(['version']).out.trim()}), same client, same requests`,
  );
  const results: Record<string, unknown>[] = [];
  for (const kt of KEY_TYPES) results.push(await runKeyType(kt));
  console.log(JSON.stringify({ bench: 'ocsp', goal: GOAL, results }));
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e instanceof BenchError ? `bench:ocsp failed: ${e.message}` : e);
    process.exit(1);
  },
);
