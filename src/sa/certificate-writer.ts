// Recording issued certificates: CertificateWriter group-commits concurrent issuances (one
// transaction, one fsync for many certificates) so durability does not cap throughput; with SQLite a
// busy CA moves the commits to a writer thread (certificate-writer-worker.ts).
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { appendAudit, type AuditEntry } from './audit.js';
import { CERTIFICATE_COLUMNS, type CertificateRecord } from './certificates.js';
import { BulkInsert } from './compiled.js';
import { isUniqueViolation, writeTransaction, type Storage, type Tx } from './database.js';

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
