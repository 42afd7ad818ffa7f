// Issued certificates. Recording goes through CertificateWriter, which group-commits concurrent
// issuances (one transaction, one fsync for many certificates) so durability does not cap throughput.
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { Worker } from 'node:worker_threads';
import { sql, type Selectable } from 'kysely';
import { appendAudit, type AuditEntry } from './audit.js';
import { BulkInsert, PreparedQuery } from './compiled.js';
import { isUniqueViolation, writeTransaction, type Executor, type Storage, type Tx } from './database.js';
import type { CertificateStatus, CertificateTable } from './schema.js';
import { containsText } from './text-match.js';

export type CertificateRecord = Selectable<CertificateTable>;

export class DuplicateCertificateError extends Error {
  constructor(readonly field: 'serial' | 'order_id' | 'signing_serial') {
    super(`a certificate with this ${field} is already recorded`);
    this.name = 'DuplicateCertificateError';
  }
}

interface PendingWrite {
  row: CertificateRecord;
  audit: AuditEntry;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** A certificate row and its audit entry: recorded together or not at all. */
export interface CertificateWrite {
  row: CertificateRecord;
  audit: AuditEntry;
}

const BATCH = 400;
/** SQLite: hand work to the writer thread once this many records are waiting (pipelining). */
const FLUSH_AT = 64;
/** SQLite: start the writer thread the first time this many records wait at once. */
const THREAD_AT = 32;

/**
 * Records issued certificates with group commit: concurrent issuances share one transaction (and one
 * fsync). Every record() resolves only after its row and audit entry are committed.
 *
 * With SQLite, whose calls are synchronous, a busy CA moves the commits to a writer thread with its
 * own connection to the same file (like a second process — SQLite serialises the writers), so the
 * event loop keeps signing while the previous batch is written and fsynced. PostgreSQL commits are
 * asynchronous already and stay in-process.
 */
export class CertificateWriter {
  private pending: PendingWrite[] = [];
  private scheduled = false;
  private draining: Promise<void> | undefined;
  private thread: WriterThread | undefined;
  private threadFailed = false;

  constructor(private readonly storage: Storage) {}

  /** Resolves once the certificate and its audit entry are committed. */
  record(row: CertificateRecord, audit: AuditEntry): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ row, audit, resolve, reject });
      if (this.thread?.ready && this.pending.length >= FLUSH_AT) {
        this.thread.send(this.pending);
        this.pending = [];
      } else if (!this.scheduled) {
        this.scheduled = true;
        // Let the other issuances of this tick join the batch.
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    if (this.thread?.ready) {
      this.thread.send(this.pending);
      this.pending = [];
      return;
    }
    if (!this.thread && !this.threadFailed && this.storage.dialect === 'sqlite' && this.pending.length >= THREAD_AT) {
      this.thread = new WriterThread(this.storage, () => {
        this.thread = undefined;
        this.threadFailed = true;
      });
      this.thread.onReady = () => this.flush();
    }
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
      if (this.pending.length > 0) this.flush();
    });
  }

  /** In-process writing, one transaction at a time. */
  private async drain(): Promise<void> {
    while (this.pending.length > 0 && !this.thread?.ready) {
      const batch = this.pending.splice(0, BATCH);
      let errors: (unknown | null)[];
      try {
        errors = await writeCertificates(this.storage, batch);
      } catch (e) {
        errors = batch.map(() => e);
      }
      settle(batch, errors);
    }
  }

  /** Waits for every record() so far to settle, then stops the writer thread. */
  async close(): Promise<void> {
    while (this.pending.length > 0 || this.draining || this.thread?.busy) {
      this.flush();
      if (this.draining) await this.draining;
      if (this.thread?.busy) await this.thread.idle();
      else if (this.pending.length > 0 && !this.draining) await new Promise<void>((r) => setImmediate(r));
    }
    const t = this.thread;
    this.thread = undefined;
    if (t) await t.stop();
  }
}

function settle(batch: PendingWrite[], errors: readonly (unknown | null)[]): void {
  batch.forEach((p, i) => {
    const e = errors[i];
    if (e === null || e === undefined) p.resolve();
    else p.reject(classifyWriteError(e, p.row));
  });
}

/** A constraint violation (unique, foreign key, check): SQLITE_CONSTRAINT_* or PostgreSQL class 23. */
function isConstraintViolation(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CONSTRAINT') || /^23[0-9A-Z]{3}$/.test(code));
}

function classifyWriteError(e: unknown, row: CertificateRecord): unknown {
  if (!isUniqueViolation(e)) return e;
  const msg = String((e as Error).message);
  if (row.order_id && /order_id/.test(msg)) return new DuplicateCertificateError('order_id');
  if (row.signing_serial && /signing_serial/.test(msg)) return new DuplicateCertificateError('signing_serial');
  return new DuplicateCertificateError('serial');
}

async function writeBatch(storage: Storage, batch: readonly CertificateWrite[]): Promise<void> {
  await writeTransaction(storage, async (tx) => {
    // Chunked so a large batch stays under the bound-parameter limits (16 columns × 100 rows).
    for (let i = 0; i < batch.length; i += 100) {
      await insertCertificates.execute(
        tx,
        batch.slice(i, i + 100).map((p) => p.row),
      );
    }
    await appendAudit(
      tx,
      batch.map((p) => p.audit),
    );
  });
}

/**
 * Records one certificate and its audit entry in a transaction with `also` (the RA's own writes that
 * must hold exactly when the certificate does, such as the order's move to issued): both or neither.
 * Joins the group commit directly instead of CertificateWriter's batch, which `also` could not share.
 */
export async function recordCertificateWith(
  storage: Storage,
  write: CertificateWrite,
  also: (tx: Tx, row: CertificateRecord) => Promise<void>,
): Promise<void> {
  let alsoFailed: { e: unknown } | undefined;
  try {
    await writeTransaction(storage, async (tx) => {
      await insertCertificates.execute(tx, [write.row]);
      await appendAudit(tx, [write.audit]);
      try {
        await also(tx, write.row);
      } catch (e) {
        alsoFailed = { e };
        throw e;
      }
    });
  } catch (e) {
    // the RA's error is its own: only the certificate's insert can be a duplicate serial or order
    throw alsoFailed?.e === e ? e : classifyWriteError(e, write.row);
  }
}

/**
 * Writes certificate rows with their audit entries in one transaction; when that fails, writes each
 * on its own so one bad row (a duplicate serial or order) cannot fail the others. Returns, per
 * item, null when committed or the error that refused it.
 */
export async function writeCertificates(storage: Storage, batch: readonly CertificateWrite[]): Promise<(unknown | null)[]> {
  try {
    await writeBatch(storage, batch);
    return batch.map(() => null);
  } catch (e) {
    // Only a row can break a constraint; anything else (busy, I/O) fails the batch as a whole.
    if (batch.length === 1 || !isConstraintViolation(e)) return batch.map(() => e);
  }
  const errors: (unknown | null)[] = [];
  for (const item of batch) {
    try {
      await writeBatch(storage, [item]);
      errors.push(null);
    } catch (e) {
      errors.push(e);
    }
  }
  return errors;
}

/** Messages between CertificateWriter and its thread (src/sa/certificate-writer-worker.ts). */
export type WriterRequest = { type: 'write'; id: number; items: CertificateWrite[] } | { type: 'close' };
export type WriterReply =
  | { type: 'ready' }
  | { type: 'done'; id: number; errors: (SerializedError | null)[] }
  | { type: 'failed'; error: SerializedError };
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
}

export function serializeError(e: unknown): SerializedError {
  const err = e as { name?: unknown; message?: unknown; code?: unknown };
  return {
    name: typeof err?.name === 'string' ? err.name : 'Error',
    message: typeof err?.message === 'string' ? err.message : String(e),
    ...(typeof err?.code === 'string' ? { code: err.code } : {}),
  };
}

function deserializeError(s: SerializedError): Error {
  const e = new Error(s.message) as Error & { code?: string };
  e.name = s.name;
  if (s.code !== undefined) e.code = s.code;
  return e;
}

/** The SQLite writer thread: batches go out as messages, each answered after its commit. */
class WriterThread {
  ready = false;
  onReady: (() => void) | undefined;
  private readonly worker: Worker;
  private readonly inFlight = new Map<number, PendingWrite[]>();
  private nextId = 1;
  private idleWaiters: (() => void)[] = [];
  private readonly exited: Promise<void>;
  private stopping = false;

  constructor(storage: Storage, onFailure: () => void) {
    const dataDir = path.dirname(storage.location);
    // Under tsx (tests, `npm run bench:*`) the worker is TypeScript and needs tsx's loader too.
    const ts = import.meta.url.endsWith('.ts');
    const entry = new URL(ts ? './certificate-writer-worker.ts' : './certificate-writer-worker.js', import.meta.url);
    this.worker = ts
      ? new Worker(
          `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`,
          { eval: true, workerData: { dataDir } },
        )
      : new Worker(entry, { workerData: { dataDir } });
    this.worker.unref();
    const fail = (error: Error): void => {
      this.ready = false;
      for (const batch of this.inFlight.values()) for (const p of batch) p.reject(error);
      this.inFlight.clear();
      this.notifyIdle();
      onFailure();
    };
    this.worker.on('message', (m: WriterReply) => {
      if (m.type === 'ready') {
        this.ready = true;
        this.onReady?.();
      } else if (m.type === 'done') {
        const batch = this.inFlight.get(m.id);
        if (!batch) return;
        this.inFlight.delete(m.id);
        if (this.inFlight.size === 0) {
          this.worker.unref();
          this.notifyIdle();
        }
        settle(
          batch,
          m.errors.map((e) => (e ? deserializeError(e) : null)),
        );
      } else if (m.type === 'failed') {
        fail(deserializeError(m.error));
        void this.worker.terminate();
      }
    });
    this.worker.on('error', (e) => fail(e));
    this.exited = new Promise((resolve) =>
      this.worker.once('exit', (code) => {
        if (!this.stopping || this.inFlight.size > 0) fail(new Error(`certificate writer thread exited (code ${code})`));
        resolve();
      }),
    );
  }

  get busy(): boolean {
    return this.inFlight.size > 0;
  }

  send(batch: PendingWrite[]): void {
    const id = this.nextId++;
    this.inFlight.set(id, batch);
    this.worker.ref(); // keep the process alive until every record is committed
    const msg: WriterRequest = { type: 'write', id, items: batch.map((p) => ({ row: p.row, audit: p.audit })) };
    this.worker.postMessage(msg);
  }

  idle(): Promise<void> {
    if (this.inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private notifyIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const r of w) r();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.ready = false;
    const msg: WriterRequest = { type: 'close' };
    this.worker.postMessage(msg);
    this.worker.ref();
    await this.exited;
  }
}

/** Every column of a certificate row, in table order (bulk inserts here, and bench:seed-load's COPY). */
export const CERTIFICATE_COLUMNS = [
  'serial',
  'ca_id',
  'holder_id',
  'profile',
  'subject',
  'not_before',
  'not_after',
  'status',
  'revoked_at',
  'revocation_reason',
  'renews_serial',
  'order_id',
  'spki_sha256',
  'der',
  'issued_at',
  'signing_serial',
  'crl_shard',
] as const satisfies readonly (keyof CertificateRecord)[];

/** INSERT INTO certificates, compiled once per row count (the group commit's hot path). */
const insertCertificates = new BulkInsert<CertificateRecord>(CERTIFICATE_COLUMNS, (db, rows) =>
  db.insertInto('certificates').values(
    rows.map((r) => {
      const o: Partial<Record<keyof CertificateRecord, unknown>> = {};
      for (const c of CERTIFICATE_COLUMNS) o[c] = r[c];
      return o as CertificateRecord;
    }),
  ),
);

const certificateBySerial = new PreparedQuery(['serial'], (db, p) =>
  db.selectFrom('certificates').selectAll().where('serial', '=', p.serial),
);

export async function getCertificate(db: Executor, serial: string): Promise<CertificateRecord | undefined> {
  return certificateBySerial.first(db, { serial: normaliseSerial(serial) });
}

const revokeUpdate = new PreparedQuery(['serial', 'revokedAt', 'reason'], (db, p) =>
  db
    .updateTable('certificates')
    .set({ status: 'revoked', revoked_at: p.revokedAt, revocation_reason: p.reason })
    .where('serial', '=', p.serial),
);

/** Sets the certificate revoked (the CA checks first that it was not, in the same transaction). */
export async function markRevoked(tx: Executor, serial: string, revokedAt: number, reason: number): Promise<void> {
  await revokeUpdate.run(tx, { serial, revokedAt, reason });
}

const certificateByOrder = new PreparedQuery(['orderId'], (db, p) =>
  db.selectFrom('certificates').selectAll().where('order_id', '=', p.orderId),
);

export async function getCertificateByOrder(db: Executor, orderId: string): Promise<CertificateRecord | undefined> {
  return certificateByOrder.first(db, { orderId });
}

const encryptionPartner = new PreparedQuery(['signingSerial'], (db, p) =>
  db.selectFrom('certificates').selectAll().where('signing_serial', '=', p.signingSerial),
);

/** The encryption certificate paired with a signing certificate (SM2 dual pair), if any. */
export async function getEncryptionPartner(db: Executor, signingSerial: string): Promise<CertificateRecord | undefined> {
  return encryptionPartner.first(db, { signingSerial: normaliseSerial(signingSerial) });
}

/** The encryption partners of several signing certificates in one query, by signing serial. */
export async function getEncryptionPartners(db: Executor, signingSerials: string[]): Promise<Map<string, CertificateRecord>> {
  return new Map((await certificatesWhereIn(db, 'signing_serial', signingSerials)).map((r) => [r.signing_serial!, r]));
}

/** Several certificates by serial in one query (per 64), by serial; a serial not found is absent. */
export async function getCertificates(db: Executor, serials: string[]): Promise<Map<string, CertificateRecord>> {
  return new Map((await certificatesWhereIn(db, 'serial', serials.map(normaliseSerial))).map((r) => [r.serial, r]));
}

/**
 * The signing certificates still in force (not revoked, not expired at `now`; not the encryption
 * half of a pair) of these holders, newest first: what a 挂失 may mean.
 */
export async function liveSigningCertificatesOf(db: Executor, holderIds: number[], now: number): Promise<CertificateRecord[]> {
  return (
    await certificatesWhereIn(db, 'holder_id', holderIds, (q) =>
      q.where('status', '=', 'valid').where('signing_serial', 'is', null).where('not_after', '>', now),
    )
  ).sort((a, b) => b.issued_at - a.issued_at || (a.serial < b.serial ? 1 : -1));
}

type CertificateQuery = ReturnType<typeof allCertificates>;
const allCertificates = (db: Executor) => db.selectFrom('certificates').selectAll();

/** Rows whose `column` is one of `values`, in IN queries of STATUS_LIST_CHUNK values each (none: no query). */
async function certificatesWhereIn<C extends 'serial' | 'signing_serial' | 'holder_id'>(
  db: Executor,
  column: C,
  values: NonNullable<CertificateRecord[C]>[],
  also: (q: CertificateQuery) => CertificateQuery = (q) => q,
): Promise<CertificateRecord[]> {
  const unique = [...new Set(values)];
  const out: CertificateRecord[] = [];
  for (let i = 0; i < unique.length; i += STATUS_LIST_CHUNK)
    out.push(
      ...(await also(allCertificates(db))
        .where(column, 'in', unique.slice(i, i + STATUS_LIST_CHUNK) as never)
        .execute()),
    );
  return out;
}

export type CertificateStatusRow = Pick<CertificateRecord, 'ca_id' | 'status' | 'revoked_at' | 'revocation_reason' | 'not_after'>;

const STATUS_LIST_CHUNK = 64;
const statusQuery = (db: Executor, serials: string[]) =>
  db
    .selectFrom('certificates')
    .select(['serial', 'ca_id', 'status', 'revoked_at', 'revocation_reason', 'not_after'])
    .where('serial', 'in', serials);
type StatusResultRow = CertificateStatusRow & { serial: string };

/**
 * The status read the OCSP responder answers from — the one place that decides where certificate
 * status is read, for every request (so a revocation by any process shows at once). The SQL is the
 * Kysely builder's, compiled once per list length; it runs on the driver's own handle, prepared once:
 * Kysely's SQLite driver prepares every statement on every call, which was among the top items of
 * an OCSP profile. Reads asked for in the same event-loop turn (concurrent requests) share one query
 * — on SQLite each read transaction costs more than the lookup in it; PostgreSQL uses named prepared
 * statements.
 */
export class CertificateStatusReader {
  private readonly sqlite = new Map<number, BetterSqlite3.Statement<string[], StatusResultRow>>();
  private readonly sqlByLength = new Map<number, string>();
  private waiting = new Map<
    string,
    { resolve: (row: CertificateStatusRow | undefined) => void; reject: (e: unknown) => void }[]
  >();
  private scheduled = false;

  constructor(private readonly storage: Storage) {}

  /** Status rows by serial (stored form); serials the database does not know are left out. */
  read(serials: string[]): Promise<Map<string, CertificateStatusRow>> {
    return Promise.all(serials.map((s) => this.readBatched(s))).then((rows) => {
      const out = new Map<string, CertificateStatusRow>();
      rows.forEach((row, i) => row && out.set(serials[i]!, row));
      return out;
    });
  }

  /** SQLite: one synchronous query per chunk, on statements prepared once. */
  private readSqlite(sqlite: BetterSqlite3.Database, serials: string[]): Map<string, CertificateStatusRow> {
    const out = new Map<string, CertificateStatusRow>();
    for (let i = 0; i < serials.length; i += STATUS_LIST_CHUNK) {
      const chunk = serials.slice(i, i + STATUS_LIST_CHUNK);
      let stmt = this.sqlite.get(chunk.length);
      if (!stmt) this.sqlite.set(chunk.length, (stmt = sqlite.prepare(this.sql(chunk))));
      for (const { serial, ...row } of stmt.all(...chunk)) out.set(serial, row);
    }
    return out;
  }

  private sql(serials: string[]): string {
    let sql = this.sqlByLength.get(serials.length);
    if (sql === undefined) {
      const compiled = statusQuery(this.storage.db, serials).compile();
      if (compiled.parameters.length !== serials.length) throw new Error('status query: unexpected parameters');
      this.sqlByLength.set(serials.length, (sql = compiled.sql));
    }
    return sql;
  }

  private readBatched(serial: string): Promise<CertificateStatusRow | undefined> {
    return new Promise((resolve, reject) => {
      let waiters = this.waiting.get(serial);
      if (!waiters) this.waiting.set(serial, (waiters = []));
      waiters.push({ resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    const batch = this.waiting;
    this.waiting = new Map();
    this.scheduled = false;
    const native = this.storage.native;
    try {
      const serials = [...batch.keys()];
      const rows =
        native.dialect === 'sqlite' ? this.readSqlite(native.sqlite, serials) : new Map<string, CertificateStatusRow>();
      for (let i = 0; native.dialect === 'postgres' && i < serials.length; i += STATUS_LIST_CHUNK) {
        const chunk = serials.slice(i, i + STATUS_LIST_CHUNK);
        // named: pg prepares it once per connection and then only binds and executes
        const r = await native.pool.query<StatusResultRow>({
          name: `certdesk-status-${chunk.length}`,
          text: this.sql(chunk),
          values: chunk,
        });
        for (const { serial, ...row } of r.rows) rows.set(serial, row);
      }
      for (const [serial, waiters] of batch) for (const w of waiters) w.resolve(rows.get(serial));
    } catch (e) {
      for (const waiters of batch.values()) for (const w of waiters) w.reject(e);
    }
  }
}

export interface CertificateFilter {
  holderId?: number;
  status?: CertificateStatus;
  profile?: string;
  /** substring of the subject */
  subject?: string;
  limit?: number;
  offset?: number;
}

export async function listCertificates(db: Executor, f: CertificateFilter = {}): Promise<CertificateRecord[]> {
  let q = db.selectFrom('certificates').selectAll();
  if (f.holderId !== undefined) q = q.where('holder_id', '=', f.holderId);
  if (f.status) q = q.where('status', '=', f.status);
  if (f.profile) q = q.where('profile', '=', f.profile);
  if (f.subject) q = q.where(containsText('subject', f.subject));
  return q
    .orderBy('issued_at', 'desc')
    .orderBy('serial')
    .limit(f.limit ?? 100)
    .offset(f.offset ?? 0)
    .execute();
}

/** One revoked certificate as a CRL lists it: [serial hex, revoked_at ms, reason code or null]. */
export type CrlEntryRow = { serial: string; revoked_at: number | null; revocation_reason: number | null };

/**
 * The revoked certificates of a CA (`shard` null: all of them, for the full CRL; else those of one
 * shard) in batches of `batch`, by keyset on serial: each batch is one index range read
 * (certificates_crl_entries / certificates_crl_shard_entries, migration 0021), so 1M entries never
 * sit in memory as row objects at once.
 */
export async function* revokedBatches(
  db: Executor,
  caId: string,
  shard: number | null,
  batch = 10_000,
): AsyncGenerator<CrlEntryRow[]> {
  let after = '';
  for (;;) {
    const rows =
      shard === null
        ? await revokedOfCa.execute(db, { caId, after, batch })
        : await revokedOfShard.execute(db, { caId, shard, after, batch });
    if (rows.length) yield rows;
    if (rows.length < batch) return;
    after = rows[rows.length - 1]!.serial;
  }
}

const revokedQuery = (db: Executor, caId: string) =>
  db
    .selectFrom('certificates')
    .select(['serial', 'revoked_at', 'revocation_reason'])
    .where('ca_id', '=', caId)
    // a literal, so both databases match the partial indexes' predicate
    .where(sql<boolean>`status = 'revoked'`);
const revokedOfCa = new PreparedQuery(['caId', 'after', 'batch'], (db, p) =>
  revokedQuery(db, p.caId).where('serial', '>', p.after).orderBy('serial').limit(p.batch),
);
const revokedOfShard = new PreparedQuery(['caId', 'shard', 'after', 'batch'], (db, p) =>
  revokedQuery(db, p.caId).where('crl_shard', '=', p.shard).where('serial', '>', p.after).orderBy('serial').limit(p.batch),
);

/**
 * The one stored form of a serial: lowercase hex of the INTEGER's octets without leading zero octets
 * (what DER decoding yields and OpenSSL prints, e.g. "0cdd…"). Accepts colons, spaces, a 0x prefix.
 */
export function normaliseSerial(s: string): string {
  const hex = s
    .trim()
    .replace(/^0x/i, '')
    .replace(/[:\s]/g, '')
    .toLowerCase()
    .replace(/^0+(?=.)/, '');
  return hex.length % 2 ? '0' + hex : hex;
}
