// `npm run bench:scale -- [--certificates N] [--sqlite-dir DIR] [--database-url URL --pg-data-dir DIR]
//   [--seconds S] [--no-ocsp]`
//
// certdesk with many certificates (issue 13), on databases filled by `npm run seed:load`:
// certificate lookup by serial (the sa functions the API and the OCSP responder use), the holder's
// 证书查询 (the queries of GET /api/portal/certificates) and the staff console's certificate and
// order lists, each p50/p99 against its goal; then OCSP throughput of `certdesk serve` on that
// database against a freshly seeded near-empty one (4,000 rows) in the same run — 4,000 distinct
// seeded serials each, round-robin, so every request reads the database — and the server's RSS while it serves.
// Without --sqlite-dir it seeds a throwaway SQLite database of N rows (default 100,000); PostgreSQL
// runs on --database-url (seeded, its keys in --pg-data-dir), or on a throwaway database seeded on
// TEST_DATABASE_URL. Figures only: no timed assertions.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { parseCertificate } from '../src/pki/certificate.js';
import { searchCertificates, searchOrders, offlineQueue } from '../src/sa/backoffice.js';
import { CertificateStatusReader } from '../src/sa/certificate-status.js';
import { getCertificate, getEncryptionPartners, listCertificates } from '../src/sa/certificates.js';
import { openDatabase, type Storage } from '../src/sa/database.js';
import { listOrdersForHolder } from '../src/sa/orders.js';
import { descendants } from '../test/helpers/processes.js';
import { BenchError, fmt, median, percentile, seconds, yesNo } from './lib/common.js';
import { runLoad } from './lib/http-load.js';
import { LoadPlan, PLAN_KEY, type LoadPlanData } from './lib/load-plan.js';
import { ocspRequest, parseOcspResponse, quickCheck } from './lib/ocsp.js';
import { startServe, stopServe, type Served } from './lib/server.js';

const GOALS = { lookupP99Ms: 5, listP99Ms: 50, ocspRatio: 0.9 };

const { values: args } = parseArgs({
  options: {
    certificates: { type: 'string', default: '100000' },
    'sqlite-dir': { type: 'string' },
    'database-url': { type: 'string' },
    'pg-data-dir': { type: 'string' },
    seconds: { type: 'string' },
    'no-ocsp': { type: 'boolean', default: false },
    'no-sqlite': { type: 'boolean', default: false },
  },
});
const SECS = Number(args.seconds ?? seconds(4));
const WORKERS = availableParallelism();
const CONNECTIONS = 8;
const ROUNDS = 3;
/** the OCSP baseline database: as many rows as distinct requests, so both servers see the same request mix */
const BASELINE_ROWS = 4000;
const ROOT = path.join(import.meta.dirname, '..');

interface Target {
  name: string;
  dataDir: string;
  databaseUrl?: string;
  cleanup: () => Promise<void>;
}

/** `npm run seed:load` as a child process (its own output prefixed). */
function seed(n: number, dataDir: string, databaseUrl?: string): Promise<void> {
  const a = ['--import', 'tsx', 'bench/seed-load.ts', '--certificates', String(n), '--data-dir', dataDir, '--quiet'];
  if (databaseUrl) a.push('--database-url', databaseUrl);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, a, { cwd: ROOT, env: { ...process.env, DATABASE_URL: '' }, stdio: 'inherit' });
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new BenchError(`seed:load exited with ${code}`))));
  });
}

async function newPgDatabase(base: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `certdesk_scale_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const u = new URL(base);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/** A near-empty database of the same kind, seeded the same way (the OCSP baseline). */
async function emptyLike(t: Target): Promise<Target> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'certdesk-scale-empty-'));
  let drop = async () => {};
  let databaseUrl: string | undefined;
  if (t.databaseUrl) {
    const d = await newPgDatabase(process.env.TEST_DATABASE_URL ?? t.databaseUrl);
    databaseUrl = d.url;
    drop = d.drop;
  }
  await seed(BASELINE_ROWS, dataDir, databaseUrl);
  return {
    name: `${t.name} (${BASELINE_ROWS} rows)`,
    dataDir,
    ...(databaseUrl ? { databaseUrl } : {}),
    cleanup: async () => {
      await drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function timeIt(fn: () => Promise<unknown>, n: number, budgetMs = 8000): Promise<{ p50: number; p99: number; n: number }> {
  for (let i = 0; i < Math.min(3, n); i++) await fn();
  const samples: number[] = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
    if (i >= 20 && performance.now() - start > budgetMs) break;
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), n: samples.length };
}

const line = (label: string, r: { p50: number; p99: number; n: number }, goal: number): string =>
  `  ${label.padEnd(52)} p50 ${r.p50.toFixed(2).padStart(8)} ms  p99 ${r.p99.toFixed(2).padStart(8)} ms  (n=${r.n}; goal p99 ≤ ${goal} ms: ${yesNo(r.p99 <= goal)})`;

async function queries(t: Target, storage: Storage, plan: LoadPlan): Promise<Record<string, unknown>> {
  const done = plan.data.done;
  const rnd = (k: number) => Array.from({ length: k }, () => Math.floor(Math.random() * done));
  const serials = rnd(4000).map((i) => plan.serial(i));
  const db = storage.db;
  const out: Record<string, unknown> = {};
  let k = 0;
  const lookup = await timeIt(async () => {
    if (!(await getCertificate(db, serials[k++ % serials.length]!))) throw new BenchError('a seeded serial is missing');
  }, 4000);
  console.log(line('certificate by serial (getCertificate, the API)', lookup, GOALS.lookupP99Ms));
  const reader = new CertificateStatusReader(storage);
  const status = await timeIt(async () => {
    const s = serials[k++ % serials.length]!;
    if (!(await reader.read([s])).has(s)) throw new BenchError('a seeded serial is missing');
  }, 4000);
  console.log(line('status by serial (CertificateStatusReader, OCSP)', status, GOALS.lookupP99Ms));
  // holders whose rows are all there
  const holders = Math.min(plan.data.holders, done);
  const sampleHolders = Array.from({ length: 400 }, () => Math.floor(Math.random() * holders));
  let rows = 0;
  const portal = await timeIt(async () => {
    const h = plan.holder(sampleHolders[k++ % sampleHolders.length]!);
    const all = await listCertificates(db, { holderId: h.id, limit: 200 });
    await listOrdersForHolder(db, h.id, [all[0]?.serial ?? '']);
    await getEncryptionPartners(
      db,
      all.map((c) => c.serial),
    );
    rows += all.length;
  }, 400);
  console.log(line('证书查询 (holder: certificates, orders, partners)', portal, GOALS.listP99Ms));
  console.log(`    ${(rows / portal.n).toFixed(1)} certificates per holder on average`);
  const h0 = plan.holder(sampleHolders[0]!);
  const page = { limit: 20, offset: 0 };
  const staff: [string, () => Promise<unknown>][] = [
    ['staff certificates, newest first, page 1', () => searchCertificates(db, page)],
    ['staff certificates, status revoked, page 1', () => searchCertificates(db, { ...page, status: 'revoked' })],
    ['staff certificates, by holder 唯一识别号', () => searchCertificates(db, { ...page, uniqueId: h0.unique_id })],
    ['staff certificates, by serial', () => searchCertificates(db, { ...page, serial: serials[0]! })],
    ['staff certificates, page 500 (offset 9,980)', () => searchCertificates(db, { limit: 20, offset: 9_980 })],
    ['staff orders, newest first, page 1', () => searchOrders(db, page)],
    ['staff orders, by holder 唯一识别号', () => searchOrders(db, { ...page, uniqueId: h0.unique_id })],
    ['staff offline-payment queue, page 1', () => offlineQueue(db, 20, 0)],
  ];
  const staffResults: Record<string, unknown> = {};
  for (const [label, fn] of staff) {
    const r = await timeIt(fn, 60);
    staffResults[label] = r;
    console.log(line(label, r, GOALS.listP99Ms));
  }
  Object.assign(out, { lookup, status, portal, staff: staffResults });
  return out;
}

/** Resident set size (kB) of a process and its children, from /proc. */
function rssKb(pid: number): { total: number; each: number[] } {
  const each = [pid, ...descendants(pid)].map((p) => {
    try {
      return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'latin1'))?.[1] ?? 0);
    } catch {
      return 0;
    }
  });
  return { total: each.reduce((a, b) => a + b, 0), each };
}

/** `n` OCSP requests for distinct seeded serials (random ones; `all`: rows 0..n-1). */
async function ocspBodies(
  storage: Storage,
  plan: LoadPlan,
  n: number,
  all = false,
): Promise<{ bodies: Buffer[]; revoked: number[] }> {
  const issuing = await storage.db
    .selectFrom('cas')
    .select('cert_der')
    .where('kind', '=', 'issuing')
    .where('active', '=', 1)
    .executeTakeFirstOrThrow();
  const cert = parseCertificate(issuing.cert_der);
  const idx = all ? Array.from({ length: n }, (_, i) => i) : [...distinctRandom(n, plan.data.done)];
  const revoked: number[] = [];
  idx.forEach((i, k) => plan.certificate(i).revokedAt !== null && revoked.push(k));
  return { bodies: idx.map((i) => ocspRequest(cert, plan.serial(i))), revoked };
}

function distinctRandom(n: number, below: number): Set<number> {
  const out = new Set<number>();
  while (out.size < Math.min(n, below)) out.add(Math.floor(Math.random() * below));
  return out;
}

function envOf(t: Target): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: t.dataDir };
  if (t.databaseUrl) env.DATABASE_URL = t.databaseUrl;
  else delete env.DATABASE_URL;
  return env;
}

async function ocsp(big: Target, bigStorage: Storage, bigPlan: LoadPlan): Promise<Record<string, unknown>> {
  const empty = await emptyLike(big);
  let a: Served | undefined;
  let b: Served | undefined;
  try {
    const es = await openDatabase({ dataDir: empty.dataDir, databaseUrl: empty.databaseUrl });
    let emptyReq: Awaited<ReturnType<typeof ocspBodies>>;
    try {
      emptyReq = await ocspBodies(es, new LoadPlan(await planOf(es)), BASELINE_ROWS, true);
    } finally {
      await es.close();
    }
    const bigReq = await ocspBodies(bigStorage, bigPlan, BASELINE_ROWS);
    a = await startServe(envOf(empty), WORKERS);
    b = await startServe(envOf(big), WORKERS);
    // right answers first: a seeded revoked serial is revoked, a seeded valid one good
    const post = async (s: Served, body: Buffer) =>
      Buffer.from(
        await (
          await fetch(`http://127.0.0.1:${s.port}/ocsp`, {
            method: 'POST',
            headers: { 'content-type': 'application/ocsp-request' },
            body: new Uint8Array(body),
          })
        ).arrayBuffer(),
      );
    if (bigReq.revoked.length) {
      const r = parseOcspResponse(await post(b, bigReq.bodies[bigReq.revoked[0]!]!));
      if (r.certStatuses[0] !== 'revoked') throw new BenchError(`a seeded revoked certificate is ${r.certStatuses[0]}`);
    }
    const unknownOnes = (await Promise.all(bigReq.bodies.slice(0, 50).map((x) => post(b!, x)))).filter(
      (x) => parseOcspResponse(x).certStatuses[0] === 'unknown',
    ).length;
    if (unknownOnes) throw new BenchError(`${unknownOnes} seeded certificates answered unknown`);
    const load = (s: Served, bodies: Buffer[], ms: number) =>
      runLoad({ port: s.port, path: '/ocsp', bodies, connections: CONNECTIONS, durationMs: ms, check: quickCheck });
    // warm-up (JIT; the big database's pages into the cache)
    await load(a, emptyReq.bodies, 3000);
    await load(b, bigReq.bodies, 3000);
    const ratios: number[] = [];
    const rates: { empty: number; big: number }[] = [];
    let rssMax = { total: 0, each: [] as number[] };
    let rssEmpty = { total: 0, each: [] as number[] };
    for (let r = 0; r < ROUNDS; r++) {
      // alternate which goes first, so a change in the machine's load hits both alike
      const big = async () => {
        const timer = setInterval(() => {
          const x = rssKb(b!.proc.pid!);
          if (x.total > rssMax.total) rssMax = x;
        }, 250);
        try {
          return await load(b!, bigReq.bodies, SECS * 1000);
        } finally {
          clearInterval(timer);
        }
      };
      const small = async () => {
        const x = await load(a!, emptyReq.bodies, SECS * 1000);
        rssEmpty = rssKb(a!.proc.pid!);
        return x;
      };
      let e, g;
      if (r % 2 === 0) {
        e = await small();
        g = await big();
      } else {
        g = await big();
        e = await small();
      }
      if (e.failed || g.failed)
        throw new BenchError(`failed OCSP responses: ${JSON.stringify({ empty: e.errors, big: g.errors })}`);
      ratios.push(g.rate / e.rate);
      rates.push({ empty: e.rate, big: g.rate });
      console.log(
        `  OCSP round ${r + 1}/${ROUNDS}: ${fmt(bigPlan.data.done)} rows ${fmt(g.rate)}/s, ${BASELINE_ROWS} rows ${fmt(e.rate)}/s, ratio ${g.rate / e.rate > 0 ? (g.rate / e.rate).toFixed(2) : '—'}`,
      );
    }
    const ratio = median(ratios);
    console.log(
      `  OCSP throughput ${fmt(bigPlan.data.done)} rows / ${BASELINE_ROWS} rows = ${ratio.toFixed(2)} (median of ${ROUNDS}; ${bigReq.bodies.length} distinct serials, keep-alive, no nonce, ${CONNECTIONS} connections, serve --workers ${WORKERS}) (goal ≥ ${GOALS.ocspRatio}: ${yesNo(ratio >= GOALS.ocspRatio)})`,
    );
    console.log(
      `  server RSS while serving OCSP: ${fmt(rssMax.total / 1024)} MiB in ${rssMax.each.length} processes (${rssMax.each.map((x) => fmt(x / 1024)).join(' + ')} MiB); the ${BASELINE_ROWS}-row server: ${fmt(rssEmpty.total / 1024)} MiB`,
    );
    return { rates, ratios, ratio, rssKb: rssMax, emptyRssKb: rssEmpty };
  } finally {
    await stopServe(a);
    await stopServe(b);
    await empty.cleanup();
  }
}

async function planOf(storage: Storage): Promise<LoadPlanData> {
  const row = await storage.db.selectFrom('settings').select('value').where('key', '=', PLAN_KEY).executeTakeFirst();
  if (!row) throw new BenchError(`${storage.location} was not filled by seed:load (no ${PLAN_KEY} setting)`);
  return JSON.parse(row.value) as LoadPlanData;
}

async function run(t: Target): Promise<Record<string, unknown>> {
  const storage = await openDatabase({ dataDir: t.dataDir, databaseUrl: t.databaseUrl });
  try {
    const plan = new LoadPlan(await planOf(storage));
    console.log(
      `\n== ${t.name}: ${storage.location}, ${fmt(plan.data.done)} of ${fmt(plan.data.certificates)} seeded certificates, ${fmt(plan.data.holders)} holders`,
    );
    const q = await queries(t, storage, plan);
    const o = args['no-ocsp'] ? {} : await ocsp(t, storage, plan);
    return { target: t.name, rows: plan.data.done, ...q, ocsp: o };
  } finally {
    await storage.close();
  }
}

const targets: Target[] = [];
const n = Number(args.certificates);
if (!args['no-sqlite']) {
  if (args['sqlite-dir']) targets.push({ name: 'SQLite', dataDir: path.resolve(args['sqlite-dir']), cleanup: async () => {} });
  else {
    const dir = mkdtempSync(path.join(tmpdir(), 'certdesk-scale-'));
    await seed(n, dir);
    targets.push({ name: 'SQLite', dataDir: dir, cleanup: async () => rmSync(dir, { recursive: true, force: true }) });
  }
}
if (args['database-url']) {
  if (!args['pg-data-dir']) throw new BenchError('--database-url needs --pg-data-dir (where its CA keys are)');
  targets.push({
    name: 'PostgreSQL',
    dataDir: path.resolve(args['pg-data-dir']),
    databaseUrl: args['database-url'],
    cleanup: async () => {},
  });
} else if (process.env.TEST_DATABASE_URL) {
  const d = await newPgDatabase(process.env.TEST_DATABASE_URL);
  const dir = mkdtempSync(path.join(tmpdir(), 'certdesk-scale-pg-'));
  await seed(n, dir, d.url);
  targets.push({
    name: 'PostgreSQL',
    dataDir: dir,
    databaseUrl: d.url,
    cleanup: async () => {
      await d.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  });
} else console.log('(PostgreSQL skipped: give --database-url or set TEST_DATABASE_URL)');

console.log(
  `certdesk bench:scale — ${new Date().toISOString()}, ${WORKERS} cores, load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')} (p99s on a shared machine include waits for a core)`,
);
const results: Record<string, unknown>[] = [];
try {
  for (const t of targets) results.push(await run(t));
  console.log(JSON.stringify({ bench: 'scale', goals: GOALS, results }));
} finally {
  for (const t of targets) await t.cleanup();
}
process.exit(0);
