// `npm run bench:ocsp` — OCSP responses per second over HTTP the way relying parties call it: the
// certdesk server (`certdesk serve --workers N`, its own processes, as in production) beside
// `openssl ocsp -port` as a responder for the same CA, the same responder certificate and key, the
// same certificates and the same requests, in the same run, with external clients on the same two
// cores: `ab -c 8` one request per connection, `ab -k -c 8` keep-alive, and `wrk` with a fresh
// nonce in every request — that mode also beside the raw signing rate of the responder key on all
// cores (worker threads calling crypto.sign). Reference servers run in the same rounds (see
// startReference): one request per connection against a bare Node `net` server that answers with
// the same bytes and does nothing else (the ceiling for any Node responder on this machine) and
// against certdesk's own HTTP front answering those bytes (certdesk without its OCSP work); fresh
// nonces against the bare server signing each request once with the responder key (the ceiling
// for any Node responder that signs).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { KeyType } from '../src/pki/algorithms.js';
import { toPem } from '../src/pki/pem.js';
import { createTestCa, type TestCa } from '../test/helpers/ca.js';
import {
  BenchError,
  fmt,
  keyLabel,
  loadCaKey,
  median,
  now,
  openssl,
  p256Csrs,
  seconds,
  treeCpuSeconds,
  writeCaFiles,
  yesNo,
} from './lib/common.js';
import { ab, haveTool, wrkWithNonce, type ClientRun } from './lib/http-clients.js';
import { parseOcspResponse, type CertStatusKind } from './lib/ocsp.js';
import { builtCli, freePort, startServe } from './lib/server.js';

type Mode = 'close' | 'keepalive' | 'nonce';
/** goals (issue 13): certdesk / openssl ocsp for close and keep-alive; certdesk / raw signing for nonce */
const GOALS: Record<Mode, number> = { close: 1.5, keepalive: 4, nonce: 0.6 };
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
/** server processes (`serve --workers`); default one per core */
const WORKERS = Number(process.env.BENCH_WORKERS ?? availableParallelism());
/** certificates issued for the run; the first REVOKED of them are revoked */
const CERTS = 24;
const REVOKED = 6;
/** BENCH_KEY_TYPES=ec-p256,rsa-2048 for both (default: ec-p256 — the demo hierarchy's key type) */
const KEY_TYPES = (process.env.BENCH_KEY_TYPES ?? 'ec-p256').split(',').filter(Boolean) as KeyType[];
/** BENCH_OCSP_MODES=close,keepalive,nonce (default: all three) */
const MODES = (process.env.BENCH_OCSP_MODES ?? 'close,keepalive,nonce').split(',').filter(Boolean) as Mode[];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
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

async function startCertdesk(ca: TestCa): Promise<Responder> {
  const s = await startServe(ca.env, WORKERS);
  return { name: 'certdesk', port: s.port, path: '/ocsp', proc: s.proc };
}

async function startOpenssl(
  dir: string,
  files: { index: string; rsigner: string; rkey: string; ca: string },
): Promise<Responder> {
  const port = await freePort();
  // -ndays 1: nextUpdate a day on, as certdesk's OCSP_VALIDITY_SECONDS default; -resp_key_id: responderID
  // byKey, as certdesk sends. openssl answers one request at a time and closes each connection (HTTP/1.0).
  const args = ['ocsp', '-index', files.index, '-port', String(port), '-rsigner', files.rsigner, '-rkey', files.rkey];
  // -timeout: a connection a client opened and dropped unused must not stall it for the next round
  args.push('-CA', files.ca, '-ndays', '1', '-resp_key_id', '-timeout', '2');
  const proc = spawn('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  // Ready when it says so: a probe connection closed without a request would block it for good.
  await stderrReady(proc, 'openssl ocsp', (tail) => /waiting for OCSP client connections/.test(tail));
  return { name: 'openssl ocsp', port, path: '/', proc };
}

/**
 * Resolves once `ready` holds for the last 2,000 characters `proc` wrote to stderr; rejects with
 * them if it exits first or is not ready within 10 s. Only that tail is kept, and it is tested only
 * until ready: `openssl ocsp` goes on logging a line per request, which must cost the bench nothing
 * (kept whole and searched on every chunk, it took most of a core from the responder measured).
 */
function stderrReady(proc: ChildProcess, what: string, ready: (tail: string) => boolean): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let tail = '';
    let done = false;
    const t = setTimeout(() => reject(new BenchError(`${what} did not start: ${tail.trim()}`)), 10_000);
    proc.stderr!.on('data', (d: Buffer) => {
      tail = (tail + d.toString()).slice(-2000);
      if (process.env.BENCH_DEBUG) process.stderr.write(`[${what}] ${d.toString()}`);
      if (!done && ready(tail)) {
        done = true;
        clearTimeout(t);
        resolve();
      }
    });
    proc.once('exit', (code) => reject(new BenchError(`${what} exited with code ${code}: ${tail.trim()}`)));
  });
}

/**
 * What a reference server does per request, besides writing the fixed answer (certdesk's own):
 * - `close`: the first bytes of a connection get the answer and the connection closes — what
 *   certdesk would reach one request per connection if its HTTP parsing and OCSP work cost nothing;
 * - `front`: the same through certdesk's own HTTP/1.x front (dist/api/http1-front.js, its strict
 *   head parser and connection state), with one route answering the fixed bytes — what certdesk
 *   would reach if its OCSP work (request parsing, status read, response) cost nothing;
 * - `sign`: keep-alive, and every chunk read is signed once with the responder key (crypto.sign, as
 *   the raw signing rate; the key file `openssl ocsp` is given) before the answer is written — what
 *   a responder that signs each response (fresh nonces) would reach if all but the signature were free.
 */
type Reference = { kind: 'close' } | { kind: 'front' } | { kind: 'sign'; keyFile: string; digest: string };
const REFERENCE_NAME: Record<Reference['kind'], string> = { close: 'bare net', front: 'front only', sign: 'bare net + sign' };
const REFERENCE_MEANING: Record<string, string> = {
  'bare net': `a Node \`net\` server on ${WORKERS} process(es) writing certdesk's answer as fixed bytes — the most any Node responder on \`net\` reaches here`,
  'front only': `certdesk's HTTP/1.x front (http1-front.ts) on ${WORKERS} process(es), its one route writing the same fixed bytes — certdesk if its OCSP work cost nothing`,
  'bare net + sign': `a Node \`net\` server, keep-alive, signing each request once with the responder key before writing fixed bytes — the most a Node responder that signs every response reaches here`,
};

/**
 * A reference, not a responder: N processes on the port (cluster, SCHED_NONE, as `serve
 * --workers`) each answering every request with the same fixed bytes, doing only what `ref` says.
 */
async function startReference(dir: string, answer: Buffer, workers: number, ref: Reference): Promise<Responder> {
  const port = await freePort();
  const script = path.join(dir, `reference-${ref.kind}.mjs`);
  const body = path.join(dir, `reference-${ref.kind}-body.der`);
  writeFileSync(body, answer);
  const front = path.join(path.dirname(builtCli()), '..', 'dist', 'api', 'http1-front.js');
  writeFileSync(
    script,
    `import cluster from 'node:cluster'; import crypto from 'node:crypto'; import fs from 'node:fs';
import http from 'node:http'; import net from 'node:net';
const [port, workers, kind, file, keyFile, digest] = process.argv.slice(2);
const body = fs.readFileSync(file);
const head = 'HTTP/1.1 200 OK\\r\\nContent-Type: application/ocsp-response\\r\\nContent-Length: ' + body.length + '\\r\\nConnection: ' + (kind === 'sign' ? 'keep-alive' : 'close') + '\\r\\n\\r\\n';
const out = Buffer.concat([Buffer.from(head, 'latin1'), body]);
const ready = () => process.stderr.write('listening\\n');
if (cluster.isPrimary && Number(workers) > 1) {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  for (let i = 0; i < Number(workers); i++) cluster.fork();
  process.on('SIGTERM', () => { for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM'); process.exit(0); });
} else if (kind === 'front') {
  process.on('SIGTERM', () => process.exit(0));
  const { Http1Front } = await import(${JSON.stringify(pathToFileURL(front).href)});
  const server = http.createServer({ noDelay: false }, () => {});
  const res = { status: 200, body, headers: { 'content-type': 'application/ocsp-response', 'x-content-type-options': 'nosniff', 'referrer-policy': 'same-origin', 'cache-control': 'no-store' } };
  new Http1Front(server).routes = [{ matches: (m, t) => m === 'POST' && t === '/ocsp', maxBody: 16384, tooLarge: () => res, handle: () => res }];
  server.listen(Number(port), '127.0.0.1', ready);
} else {
  process.on('SIGTERM', () => process.exit(0));
  const key = kind === 'sign' ? crypto.createPrivateKey(fs.readFileSync(keyFile, 'utf8')) : undefined;
  const opts = key && key.asymmetricKeyType === 'ec' ? { key, dsaEncoding: 'der' } : { key };
  net.createServer({ allowHalfOpen: true, noDelay: Boolean(key) }, (s) => {
    if (key) s.on('data', (d) => { crypto.sign(digest, d, opts); s.write(out); });
    else s.once('data', () => s.write(out, () => process.nextTick(() => s.destroy())));
    s.on('error', () => {});
  }).listen(Number(port), '127.0.0.1', ready);
}
`,
  );
  const args = [script, String(port), String(workers), ref.kind, body, ...(ref.kind === 'sign' ? [ref.keyFile, ref.digest] : [])];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  // each process says `listening` once, and nothing else
  await stderrReady(
    proc,
    `the ${REFERENCE_NAME[ref.kind]} server`,
    (tail) => (tail.match(/^listening$/gm) ?? []).length >= workers,
  );
  return { name: REFERENCE_NAME[ref.kind], port, path: '/ocsp', proc };
}

interface Measured extends ClientRun {
  /** responder CPU per response (all its processes), µs */
  serverCpuUs: number;
}

async function measure(r: Responder, run: () => Promise<ClientRun>): Promise<Measured> {
  const s0 = treeCpuSeconds(r.proc.pid);
  const res = await run();
  const s = treeCpuSeconds(r.proc.pid) - s0;
  return { ...res, serverCpuUs: (s * 1e6) / Math.max(1, res.ok) };
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

/**
 * Raw signing rate of `keyPem` on `threads` threads at once (each crypto.sign in a loop over `data`
 * for `ms`): what the machine's cores can sign with that key, nothing else.
 */
async function rawSigningRate(keyPem: string, digest: string, data: Buffer, threads: number, ms: number): Promise<number> {
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const { createPrivateKey, sign } = require('node:crypto');
    const key = createPrivateKey(workerData.pem);
    const opts = key.asymmetricKeyType === 'ec' ? { key, dsaEncoding: 'der' } : { key };
    const data = Buffer.from(workerData.data);
    for (let i = 0; i < 20; i++) sign(workerData.digest, data, opts);
    let n = 0; const t0 = performance.now(); const end = t0 + workerData.ms; let t = t0;
    while (t < end) { for (let i = 0; i < 20; i++) sign(workerData.digest, data, opts); n += 20; t = performance.now(); }
    parentPort.postMessage(n / ((t - t0) / 1000));`;
  const rates = await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<number>((resolve, reject) => {
          const w = new Worker(code, { eval: true, workerData: { pem: keyPem, digest, data, ms } });
          w.once('message', (r: number) => resolve(r));
          w.once('error', reject);
        }),
    ),
  );
  return rates.reduce((a, b) => a + b, 0);
}

const MODE_LABEL: Record<Mode, string> = {
  close: `no nonce, one request per connection (ab -c ${CONCURRENCY})`,
  keepalive: `no nonce, keep-alive (ab -k -c ${CONCURRENCY})`,
  nonce: `fresh random nonce per request, keep-alive (wrk -t 1 -c ${CONCURRENCY}; openssl: ab -k -c ${CONCURRENCY}, one nonce)`,
};

async function runKeyType(keyType: KeyType): Promise<Record<string, unknown>> {
  const tag = `[${keyLabel(keyType)} CA]`;
  const ca = await createTestCa({ keyType });
  let ours: Responder | undefined;
  let theirs: Responder | undefined;
  /** the reference servers of each mode (startReference) */
  const references: Record<Mode, Responder[]> = { close: [], keepalive: [], nonce: [] };
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
    const opensslFiles = { index, rsigner, rkey, ca: caFiles.issuing };
    theirs = await startOpenssl(ca.dir, opensslFiles);
    // `openssl ocsp -port` now and then stops answering a connection on this busy machine (the
    // client times out): such a run is repeated once on a freshly started openssl, and said so.
    const opensslRun = async <T>(fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof BenchError) || !/timeout|Timeout/.test(e.message)) throw e;
        console.log(`${tag}   (openssl ocsp stalled — the client timed out; restarted, run repeated)`);
        await stop(theirs);
        theirs = await startOpenssl(ca.dir, opensslFiles);
        return fn();
      }
    };
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
    const secs = Math.max(1, Math.round(seconds(3)));
    const good = REVOKED; // certs[REVOKED] is the first good certificate
    const plainFile = path.join(ca.dir, 'bench-plain.der');
    writeFileSync(plainFile, reqs.plain[good]!);
    const nonceFile = path.join(ca.dir, 'bench-nonce.der');
    writeFileSync(nonceFile, reqs.nonce[good]!);
    const responderPem = readFileSync(rkey, 'utf8');
    const lastRate = new Map<string, number>();
    const client = (mode: Mode, r: Responder): (() => Promise<ClientRun>) => {
      const url = `http://127.0.0.1:${r.port}${r.path}`;
      // openssl ocsp answers HTTP/1.0 and closes every connection, which wrk does not count: it gets
      // ab with one nonce request (it signs every response anyway; there is no cache to hit)
      if (mode === 'nonce' && (r === ours || references.nonce.includes(r)))
        return () =>
          wrkWithNonce({
            url,
            body: reqs.nonce[good]!,
            nonceLength: nonceBytes,
            connections: CONCURRENCY,
            seconds: secs,
            dir: ca.dir,
          });
      // about `secs` seconds at the rate this responder last had in this mode
      const key = `${mode}:${r.name}`;
      return async () => {
        const run = await ab({
          url,
          bodyFile: mode === 'nonce' ? nonceFile : plainFile,
          concurrency: CONCURRENCY,
          requests: (lastRate.get(key) ?? 1000) * secs,
          keepAlive: mode !== 'close',
        });
        lastRate.set(key, run.rate);
        return run;
      };
    };
    // close mode's references: the bytes certdesk answers, from a server that does nothing else, and
    // through certdesk's HTTP front alone; nonce mode's: keep-alive, signing once per request
    if (MODES.includes('close')) {
      const answer = await postOnce(ours.port, ours.path, reqs.plain[good]!);
      for (const kind of ['close', 'front'] as const)
        references.close.push(await startReference(ca.dir, answer, WORKERS, { kind }));
    }
    if (MODES.includes('nonce')) {
      const answer = await postOnce(ours.port, ours.path, reqs.nonce[good]!);
      const sign = { kind: 'sign', keyFile: rkey, digest: responder.signer.algorithm.digest } as const;
      references.nonce.push(await startReference(ca.dir, answer, WORKERS, sign));
    }
    const modes: Record<string, unknown>[] = [];
    for (const mode of MODES) {
      if (mode === 'nonce' && !haveTool('wrk')) {
        console.log(`${tag} ${MODE_LABEL[mode]}: skipped, wrk is not installed (Debian wrk)`);
        continue;
      }
      console.log(`${tag} ${MODE_LABEL[mode]}, ${ROUNDS} rounds of ${secs} s each, certdesk with ${WORKERS} worker(s):`);
      // warm-up (JIT, caches) and a first rate for sizing the runs, not counted
      // (V8 optimises the server's hot path over the first several thousand requests per worker)
      for (let i = 0; i < 3; i++) await client(mode, ours)();
      await opensslRun(() => client(mode, theirs!)());
      for (const r of references[mode]) await client(mode, r)();
      const ourRuns: Measured[] = [];
      /** per reference server, in references[mode] order */
      const refRuns: Measured[][] = references[mode].map(() => []);
      const theirRuns: Measured[] = [];
      const signRates: number[] = [];
      const ratios: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const a = await measure(ours, client(mode, ours));
        const b = await opensslRun(() => measure(theirs!, client(mode, theirs!)));
        ourRuns.push(a);
        theirRuns.push(b);
        for (const [j, r] of references[mode].entries()) refRuns[j]!.push(await measure(r, client(mode, r)));
        // this round of each reference against `base` (openssl, or raw signing with nonces)
        const refText = (base: number, against: string): string =>
          references[mode]
            .map((r, j) => {
              const c = refRuns[j]![i]!;
              return `; ${r.name} ${fmt(c.rate)}/s (${fmt(c.serverCpuUs)} µs), /${against} ${fmt(c.rate / base, 2)}`;
            })
            .join('');
        let extra: string;
        if (mode === 'nonce') {
          const sign = await rawSigningRate(
            responderPem,
            responder.signer.algorithm.digest,
            reqs.nonce[good]!,
            availableParallelism(),
            secs * 1000,
          );
          signRates.push(sign);
          ratios.push(a.rate / sign);
          extra = `, raw signing on ${availableParallelism()} threads ${fmt(sign)}/s, certdesk/raw ${fmt(a.rate / sign, 2)}${refText(sign, 'raw')}`;
        } else {
          ratios.push(a.rate / b.rate);
          extra = refText(b.rate, 'openssl');
        }
        console.log(
          `${tag}   round ${i + 1}/${ROUNDS}: certdesk ${fmt(a.rate)}/s (${fmt(a.failed)} failed, ${fmt(a.serverCpuUs)} µs CPU/response), openssl ocsp ${fmt(b.rate)}/s (${fmt(b.failed)} failed, ${fmt(b.serverCpuUs)} µs), certdesk/openssl ${fmt(a.rate / b.rate, 2)}${extra}`,
        );
      }
      const ratio = median(ratios);
      const vsOpenssl = median(ourRuns.map((a, i) => a.rate / theirRuns[i]!.rate));
      const goal = GOALS[mode];
      const what = mode === 'nonce' ? 'certdesk/raw signing' : 'certdesk/openssl';
      console.log(
        `${tag}   ${what} = ${fmt(ratio, 2)} (median; rounds ${fmt(Math.min(...ratios), 2)}–${fmt(Math.max(...ratios), 2)}) (goal ≥ ${goal}: ${yesNo(ratio >= goal)})` +
          (mode === 'nonce' ? `; certdesk/openssl ${fmt(vsOpenssl, 2)}` : ''),
      );
      // each reference against what certdesk is compared with in this mode, median of the rounds
      const base = (i: number): number => (mode === 'nonce' ? signRates[i]! : theirRuns[i]!.rate);
      const against = mode === 'nonce' ? 'raw signing' : 'openssl';
      const refSummary = references[mode].map((r, j) => ({
        name: r.name,
        rates: refRuns[j]!.map((m) => Math.round(m.rate)),
        cpuUsPerResponse: median(refRuns[j]!.map((m) => m.serverCpuUs)),
        ratio: median(refRuns[j]!.map((m, i) => m.rate / base(i))),
      }));
      for (const r of refSummary)
        console.log(`${tag}   ${r.name}/${against} = ${fmt(r.ratio, 2)} (median): ${REFERENCE_MEANING[r.name]}`);
      modes.push({
        mode,
        certdeskRates: ourRuns.map((m) => Math.round(m.rate)),
        opensslRates: theirRuns.map((m) => Math.round(m.rate)),
        ...(mode === 'nonce' ? { rawSigningRates: signRates.map(Math.round) } : {}),
        certdeskFailed: ourRuns.reduce((n, m) => n + m.failed, 0),
        certdeskCpuUsPerResponse: median(ourRuns.map((m) => m.serverCpuUs)),
        opensslCpuUsPerResponse: median(theirRuns.map((m) => m.serverCpuUs)),
        references: refSummary,
        ratio,
        roundRatios: ratios,
        vsOpenssl,
        goal,
        goalMet: ratio >= goal,
      });
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
      workers: WORKERS,
      concurrency: CONCURRENCY,
      secondsPerRound: secs,
      rounds: ROUNDS,
      modes,
      crossProcessRevocationSeen: seen,
    };
  } finally {
    await stop(ours);
    await stop(theirs);
    for (const r of Object.values(references).flat()) await stop(r);
    await ca.cleanup();
  }
}

async function main(): Promise<void> {
  console.log(
    `certdesk bench:ocsp — OCSP over HTTP POST, \`certdesk serve --workers ${WORKERS}\` vs \`openssl ocsp -port\` (${openssl(['version']).out.trim()}), same clients (ab, wrk), same requests, ${availableParallelism()} cores`,
  );
  const results: Record<string, unknown>[] = [];
  for (const kt of KEY_TYPES) results.push(await runKeyType(kt));
  console.log(JSON.stringify({ bench: 'ocsp', goals: GOALS, results }));
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e instanceof BenchError ? `bench:ocsp failed: ${e.message}` : e);
    process.exit(1);
  },
);
