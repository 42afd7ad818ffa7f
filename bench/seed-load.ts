// `npm run seed:load -- --certificates N [--data-dir DIR] [--database-url postgres://…]
//   [--holders H] [--revoked-fraction F] [--batch B] [--allow-existing-data]`
//
// Fills a certdesk database with N certificate rows for load tests: LOAD DATA, not issued
// certificates — never run it against a production database (it refuses a database that already
// has holders, certificates or orders unless --allow-existing-data). The database is made by the
// normal path (`certdesk ca init` when it has no CA yet), and every row is a real certificate: the
// TBSCertificate of the issuance path (profile template, 唯一识别号 extensions) signed by the real
// issuing CA key, for one of a few subject keys (their private keys are thrown away). Rows are a
// function of their index and a plan stored in the database (bench/lib/load-plan.ts); each batch
// commits its rows with the progress counter, so a run killed at any point and started again
// continues after the last committed batch and never writes a row twice. PostgreSQL rows go in by
// COPY FROM STDIN (bench/lib/pg-copy.ts), SQLite rows by prepared statements in large transactions.
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type BetterSqlite3 from 'better-sqlite3';
import { assemble } from '../src/ca/certificate-builder.js';
import type { CertificateAuthority } from '../src/ca/authority.js';
import { caKeyPassphrase, loadConfig } from '../src/config/config.js';
import { spkiOf } from '../src/pki/algorithms.js';
import { openRuntime } from '../src/runtime.js';
import { appendAudit } from '../src/sa/audit.js';
import { listCas } from '../src/sa/cas.js';
import { CERTIFICATE_COLUMNS } from '../src/sa/certificates.js';
import { openDatabase, writeTransaction, type Storage } from '../src/sa/database.js';
import { LoadPlan, PLAN_KEY, subjectDer, subjectText, type LoadPlanData } from './lib/load-plan.js';
import { copyFrom, copyValue } from './lib/pg-copy.js';
import { builtCli } from './lib/server.js';
import { SignPool } from './lib/sign-pool.js';
import type { KeyRef, Signer } from '../src/signer/signer.js';
import { availableParallelism } from 'node:os';

const ORDER_COLUMNS = [
  'id',
  'kind',
  'holder_id',
  'certificate_serial',
  'type_code',
  'type_name',
  'type_name_en',
  'organization',
  'term_years',
  'amount_fen',
  'payment_method',
  'recipient',
  'phone',
  'address',
  'postcode',
  'reference',
  'state',
  'created_at',
  'updated_at',
  'expires_at',
  'paid_at',
  'issued_serial',
] as const;
const HOLDER_COLUMNS = ['id', 'kind', 'name', 'unique_id', 'created_at'] as const;
type Value = string | number | Buffer | null;

class UsageError extends Error {}

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      certificates: { type: 'string' },
      holders: { type: 'string' },
      'revoked-fraction': { type: 'string' },
      'data-dir': { type: 'string' },
      'database-url': { type: 'string' },
      batch: { type: 'string' },
      'sign-threads': { type: 'string' },
      'allow-existing-data': { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
  });
  const int = (name: string, v: string | undefined, min: number): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || Number(v) < min)
      throw new UsageError(`--${name} must be a whole number ≥ ${min}, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  const certificates = int('certificates', values.certificates, 1);
  if (certificates === undefined) throw new UsageError('--certificates N is required');
  const holders = int('holders', values.holders, 1) ?? Math.max(1, Math.ceil(certificates / 4));
  if (holders > certificates) throw new UsageError(`--holders (${holders}) must not exceed --certificates (${certificates})`);
  const rf = values['revoked-fraction'] ?? '0.01';
  const revokedFraction = Number(rf);
  if (!/^\d*\.?\d+$/.test(rf) || revokedFraction > 1)
    throw new UsageError(`--revoked-fraction must be a number from 0 to 1, got ${JSON.stringify(rf)}`);
  return {
    certificates,
    holders,
    revokedFraction,
    dataDir: path.resolve(values['data-dir'] ?? process.env.DATA_DIR ?? './data'),
    databaseUrl: values['database-url'] ?? process.env.DATABASE_URL,
    batch: int('batch', values.batch, 1) ?? 5000,
    signThreads: int('sign-threads', values['sign-threads'], 0) ?? Math.max(1, availableParallelism() - 1),
    allowExisting: values['allow-existing-data'],
    quiet: values.quiet,
  };
}
type Options = ReturnType<typeof options>;

/** Row sinks: one transaction per batch that also moves the progress counter. */
interface Sink {
  holders(rows: Value[][], holdersDone: number): Promise<void>;
  batch(certs: Value[][], orders: Value[][], done: number): Promise<void>;
  finish(): Promise<void>;
  close(): Promise<void>;
}

function sqliteSink(sqlite: BetterSqlite3.Database, plan: LoadPlanData): Sink {
  // WAL with synchronous=NORMAL: a process kill loses nothing committed; a power cut may lose the
  // last batches, never half of one (the counter commits with its rows). 1 GiB of page cache.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('cache_size = -1048576');
  const insert = (table: string, cols: readonly string[]) =>
    sqlite.prepare(`insert into ${table} (${cols.map((c) => `"${c}"`).join(', ')}) values (${cols.map(() => '?').join(', ')})`);
  const cert = insert('certificates', CERTIFICATE_COLUMNS);
  const order = insert('orders', ORDER_COLUMNS);
  const holder = insert('holders', HOLDER_COLUMNS);
  const progress = sqlite.prepare('update settings set value = ? where key = ?');
  const save = (patch: Partial<LoadPlanData>) => progress.run(JSON.stringify(Object.assign(plan, patch)), PLAN_KEY);
  return {
    holders: async (rows, holdersDone) => {
      sqlite
        .transaction(() => {
          for (const r of rows) holder.run(...r);
          save({ holdersDone });
        })
        .immediate();
    },
    batch: async (certs, orders, done) => {
      sqlite
        .transaction(() => {
          for (const r of certs) cert.run(...r);
          for (const r of orders) order.run(...r);
          save({ done });
        })
        .immediate();
    },
    finish: async () => {},
    close: async () => {},
  };
}

async function postgresSink(url: string, plan: LoadPlanData): Promise<Sink> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const rowsText = (rows: Value[][]): Buffer[] => {
    const out: Buffer[] = [];
    let text = '';
    for (const r of rows) {
      text += r.map(copyValue).join('\t') + '\n';
      if (text.length > 1 << 20) {
        out.push(Buffer.from(text, 'utf8'));
        text = '';
      }
    }
    if (text) out.push(Buffer.from(text, 'utf8'));
    return out;
  };
  const inTx = async (fn: () => Promise<void>, patch: Partial<LoadPlanData>): Promise<void> => {
    await client.query('begin');
    try {
      await fn();
      await client.query('update settings set value = $1 where key = $2', [JSON.stringify({ ...plan, ...patch }), PLAN_KEY]);
      await client.query('commit');
      Object.assign(plan, patch);
    } catch (e) {
      await client.query('rollback').catch(() => {});
      throw e;
    }
  };
  return {
    holders: (rows, holdersDone) =>
      inTx(
        async () => {
          await copyFrom(client, 'holders', HOLDER_COLUMNS, rowsText(rows));
        },
        { holdersDone },
      ),
    batch: (certs, orders, done) =>
      inTx(
        async () => {
          await copyFrom(client, 'certificates', CERTIFICATE_COLUMNS, rowsText(certs));
          if (orders.length) await copyFrom(client, 'orders', ORDER_COLUMNS, rowsText(orders));
        },
        { done },
      ),
    finish: async () => {
      // explicit holder ids went past the sequence: move it on, so the next holder the RA records gets a free id
      await client.query(`select setval(pg_get_serial_sequence('holders', 'id'), (select max(id) from holders))`);
      await client.query('analyze holders');
      await client.query('analyze certificates');
      await client.query('analyze orders');
    },
    close: () => client.end(),
  };
}

const DER = CERTIFICATE_COLUMNS.indexOf('der');

interface Built {
  certs: Value[][];
  orders: Value[][];
  tbs: Buffer[];
  algIds: Buffer[];
  signers: Signer[];
}

/** Rows start..end-1, their certificates' TBS still to be signed (the der column is filled in after). */
function build(ca: CertificateAuthority, plan: LoadPlan, start: number, end: number): Built {
  const out: Built = { certs: [], orders: [], tbs: [], algIds: [], signers: [] };
  for (let i = start; i < end; i++) {
    const c = plan.certificate(i);
    const { tbs, issuer, shard } = ca.loadTbs(c.profile, 'ec-p256', {
      serial: c.serialBytes,
      notBefore: new Date(c.notBefore),
      notAfter: new Date(c.notAfter),
      subjectDer: subjectDer(c.subject),
      spki: plan.spkiDer[c.spkiIndex]!,
      uniqueId: c.uniqueId,
    });
    out.tbs.push(tbs);
    out.algIds.push(issuer.signer.algorithm.algId);
    out.signers.push(issuer.signer);
    out.certs.push([
      c.serial,
      issuer.record.id,
      c.holder,
      c.profile,
      subjectText(c.subject),
      c.notBefore,
      c.notAfter,
      c.revokedAt === null ? 'valid' : 'revoked',
      c.revokedAt,
      c.reason,
      c.renewsSerial,
      c.orderId,
      plan.spkiHash(i),
      null,
      c.issuedAt,
      null,
      shard,
    ]);
    if (c.orderId) {
      const org = c.subject.find((a) => a.type === 'O')?.value ?? c.subject.find((a) => a.type === 'CN')!.value;
      const created = c.issuedAt - 3600_000;
      const person = c.kind === 'person';
      out.orders.push([
        c.orderId,
        'renewal',
        c.holder,
        c.renewsSerial,
        c.profile,
        person ? '个人身份证书' : '单位身份证书',
        person ? 'Personal identity certificate' : 'Organisation identity certificate',
        org,
        1,
        person ? 10000 : 30000,
        'online',
        '经办人',
        '021-962600',
        '上海市虹口区四川北路1601室',
        '200080',
        `L${plan.tag}${i.toString(36).toUpperCase()}`,
        'completed',
        created,
        c.issuedAt,
        created + 30 * 86_400_000,
        created + 600_000,
        c.serial,
      ]);
    }
  }
  return out;
}

/** A database with a CA: `certdesk ca init` (the normal path) when it has none yet. */
async function ensureInitialised(o: Options, env: NodeJS.ProcessEnv): Promise<void> {
  const storage = await openDatabase({ dataDir: o.dataDir, databaseUrl: o.databaseUrl });
  try {
    if ((await listCas(storage.db)).some((c) => c.kind === 'issuing' && c.active)) return;
  } finally {
    await storage.close();
  }
  const r = spawnSync(process.execPath, [builtCli(), 'ca', 'init'], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`certdesk ca init failed: ${r.stderr || r.stdout}`);
  if (!o.quiet) process.stdout.write(r.stdout);
}

async function readPlan(storage: Storage): Promise<LoadPlanData | undefined> {
  const row = await storage.db.selectFrom('settings').select('value').where('key', '=', PLAN_KEY).executeTakeFirst();
  return row ? (JSON.parse(row.value) as LoadPlanData) : undefined;
}

async function count(storage: Storage, table: 'holders' | 'certificates' | 'orders'): Promise<number> {
  const r = await storage.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** The plan of this database: the stored one (a resumed run must ask for the same), or a new one. */
async function planFor(storage: Storage, o: Options): Promise<LoadPlanData> {
  const stored = await readPlan(storage);
  if (stored) {
    const same =
      stored.certificates === o.certificates && stored.holders === o.holders && stored.revokedFraction === o.revokedFraction;
    if (!same)
      throw new UsageError(
        `this database was seeded with --certificates ${stored.certificates} --holders ${stored.holders} --revoked-fraction ${stored.revokedFraction}; rerun with those to continue`,
      );
    return stored;
  }
  const existing = { holders: await count(storage, 'holders'), certificates: await count(storage, 'certificates') };
  const orders = await count(storage, 'orders');
  if ((existing.holders || existing.certificates || orders) && !o.allowExisting)
    throw new UsageError(
      `refusing to seed load data into a database that has ${existing.holders} holders, ${existing.certificates} certificates and ${orders} orders (it may be a real CA's): use a fresh database, or --allow-existing-data for a test database`,
    );
  const maxId = await storage.db
    .selectFrom('holders')
    .select((eb) => eb.fn.max('id').as('m'))
    .executeTakeFirst();
  // a few subject keys, shared by all rows: only their public halves are needed
  const spkis = Array.from({ length: 16 }, () =>
    spkiOf(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey).toString('base64'),
  );
  const plan = LoadPlan.create({
    certificates: o.certificates,
    holders: o.holders,
    revokedFraction: o.revokedFraction,
    key: randomBytes(16).toString('hex'),
    holderBase: Number(maxId?.m ?? 0) + 1,
    spkis,
    now: Date.now(),
  });
  await storage.db
    .insertInto('settings')
    .values({ key: PLAN_KEY, value: JSON.stringify(plan) })
    .execute();
  return plan;
}

/** Checks that the progress counter is where the rows are: row done-1 is there, row done is not. */
async function checkProgress(storage: Storage, plan: LoadPlan): Promise<void> {
  const has = async (i: number): Promise<boolean> =>
    (await storage.db.selectFrom('certificates').select('serial').where('serial', '=', plan.serial(i)).executeTakeFirst()) !==
    undefined;
  const d = plan.data.done;
  if ((d > 0 && !(await has(d - 1))) || (d < plan.data.certificates && (await has(d))))
    throw new Error(`the seeded rows do not match the progress counter (${d} done): the database was changed by hand`);
}

export async function seedLoad(o: Options): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: o.dataDir };
  if (o.databaseUrl) env.DATABASE_URL = o.databaseUrl;
  else delete env.DATABASE_URL;
  await ensureInitialised(o, env);
  const config = loadConfig(env);
  const rt = await openRuntime(config);
  let sink: Sink | undefined;
  try {
    const data = await planFor(rt.storage, o);
    const plan = new LoadPlan(data);
    await checkProgress(rt.storage, plan);
    const ca: CertificateAuthority = rt.ca;
    // the seeded certificates name their CRL under PKI_URL, as issued ones do
    await ca.recordPkiUrl();
    const last = plan.certificate(data.certificates - 1);
    if (last.notAfter > ca.issuing.cert.notAfter.getTime())
      throw new UsageError(
        'the issuing CA ends before the seeded certificates would: use a CA valid for at least 13 more months',
      );
    sink =
      rt.storage.native.dialect === 'sqlite'
        ? sqliteSink(rt.storage.native.sqlite, data)
        : await postgresSink(o.databaseUrl!, data);
    const log = (s: string) => !o.quiet && process.stdout.write(s + '\n');
    await writeTransaction(rt.storage, (tx) =>
      appendAudit(tx, [
        {
          actor: 'cli:seed-load',
          action: 'load.seeded',
          target: null,
          details: { note: 'load data, not issued certificates', from: data.done, to: data.certificates, holders: data.holders },
        },
      ]),
    );
    log(
      `seeding ${rt.storage.location}: ${data.certificates} certificates over ${data.holders} holders (${data.holdersDone} holders, ${data.done} certificates already there), revoked fraction ${data.revokedFraction}`,
    );
    const t0 = Date.now();
    for (let h = data.holdersDone; h < data.holders;) {
      const end = Math.min(data.holders, h + o.batch * 4);
      const rows: Value[][] = [];
      for (; h < end; h++) {
        const r = plan.holder(h);
        rows.push([r.id, r.kind, r.name, r.unique_id, r.created_at]);
      }
      await sink.holders(rows, end);
    }
    // software keys sign on worker threads (the main thread meanwhile builds and records rows); others here
    const ref = JSON.parse(ca.issuing.record.key_ref) as KeyRef;
    const pool =
      ref.kind === 'software' && o.signThreads > 0
        ? new SignPool(o.signThreads, ref, config.dataDir, caKeyPassphrase(config, env))
        : undefined;
    const from = data.done;
    let lastLog = Date.now();
    let pending: { built: Built; sigs: Promise<Buffer[]>; end: number } | undefined;
    const record = async (p: NonNullable<typeof pending>): Promise<void> => {
      const sigs = await p.sigs;
      p.built.certs.forEach((row, k) => (row[DER] = assemble(p.built.tbs[k]!, p.built.algIds[k]!, sigs[k]!)));
      await sink!.batch(p.built.certs, p.built.orders, p.end);
      if (Date.now() - lastLog > 5000 || p.end === data.certificates) {
        lastLog = Date.now();
        const rate = (p.end - from) / ((Date.now() - t0) / 1000);
        log(
          `  ${p.end} / ${data.certificates} certificates (${rate.toFixed(0)}/s, ${((data.certificates - p.end) / rate / 60).toFixed(1)} min to go)`,
        );
      }
    };
    try {
      for (let i = data.done; i < data.certificates;) {
        const end = Math.min(data.certificates, i + o.batch);
        const built = build(ca, plan, i, end);
        i = end;
        const sigs = pool ? pool.sign(built.tbs) : Promise.all(built.tbs.map((t, k) => built.signers[k]!.sign(t)));
        // the previous batch is recorded while this one is signed
        if (pending) await record(pending);
        pending = { built, sigs, end };
      }
      if (pending) await record(pending);
    } finally {
      await pool?.close();
    }
    await sink.finish();
    log(
      `done: ${data.certificates} certificates in ${rt.storage.location} (this run ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
    );
  } finally {
    await sink?.close();
    await rt.close();
  }
}

try {
  await seedLoad(options(process.argv.slice(2)));
  process.exit(0);
} catch (e) {
  console.error(e instanceof UsageError ? `seed:load: ${e.message}` : e);
  process.exit(e instanceof UsageError ? 2 : 1);
}
