// The append-only audit log. Each entry's hash covers its content and the previous entry's hash,
// so an edited, deleted or reordered row breaks the chain at that row (`certdesk audit verify`).
// Appends must run inside writeTransaction (one writer at a time keeps `seq` and the chain linear).
import { hash } from 'node:crypto';
import { BulkInsert, PreparedQuery } from './compiled.js';
import type { Db, Tx } from './database.js';
import type { AuditTable } from './schema.js';

export interface AuditEntry {
  actor: string;
  action: string;
  target?: string | null;
  details?: Record<string, unknown>;
  at?: number;
}

const GENESIS = '0'.repeat(64);

export function entryHash(row: Omit<AuditTable, 'hash'>): string {
  const canonical = JSON.stringify([row.seq, row.at, row.actor, row.action, row.target, row.details, row.prev_hash]);
  return hash('sha256', canonical, 'hex');
}

const newestEntry = new PreparedQuery([], (db) =>
  db.selectFrom('audit_log').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1),
);

/**
 * The chain's head as a transaction last appended it, so that later appends in the same transaction
 * (a group commit's members: ~7 per renewal) need not read it back — one round trip each on
 * PostgreSQL. Sound because nothing else appends while the transaction holds the write lock (SQLite's
 * BEGIN IMMEDIATE, PostgreSQL's advisory lock), and because a rollback to a savepoint, which may undo
 * an append, forgets it (forgetAuditHead); a transaction ended is never used again.
 */
const heads = new WeakMap<Tx, { seq: number; hash: string }>();

/** After a rollback to a savepoint in `tx`: the next append reads the head from the database again. */
export function forgetAuditHead(tx: Tx): void {
  heads.delete(tx);
}

/** Appends entries in order; returns the rows written. */
export async function appendAudit(tx: Tx, entries: AuditEntry[]): Promise<AuditTable[]> {
  if (entries.length === 0) return [];
  const last = heads.get(tx) ?? (await newestEntry.first(tx, {}));
  let seq = last?.seq ?? 0;
  let prev = last?.hash ?? GENESIS;
  const rows: AuditTable[] = entries.map((e) => {
    const base = {
      seq: ++seq,
      at: e.at ?? Date.now(),
      actor: e.actor,
      action: e.action,
      target: e.target ?? null,
      details: JSON.stringify(e.details ?? {}),
      prev_hash: prev,
    };
    const hash = entryHash(base);
    prev = hash;
    return { ...base, hash };
  });
  // Chunked so a large batch stays under SQLite's bound-parameter limit.
  try {
    for (let i = 0; i < rows.length; i += 500) await insertAudit.execute(tx, rows.slice(i, i + 500));
  } catch (e) {
    heads.delete(tx); // part of it may be written: read the head again next time
    throw e;
  }
  if (tx.isTransaction) heads.set(tx, { seq, hash: prev });
  return rows;
}

const AUDIT_COLUMNS = [
  'seq',
  'at',
  'actor',
  'action',
  'target',
  'details',
  'prev_hash',
  'hash',
] as const satisfies readonly (keyof AuditTable)[];

/** INSERT INTO audit_log, compiled once per row count (every issuance appends one entry). */
const insertAudit = new BulkInsert<AuditTable>(AUDIT_COLUMNS, (db, rows) => db.insertInto('audit_log').values(rows));

export type AuditVerification =
  { ok: true; entries: number; head: AuditCheckpoint | null } | { ok: false; entries: number; brokenAt: number; reason: string };

/** An entry's seq and hash, kept outside the database (logs, a ticket, a TSA) to detect a truncated log later. */
export interface AuditCheckpoint {
  seq: number;
  hash: string;
}

/** `SEQ:HASH` as `certdesk audit verify` prints it and `--checkpoint` takes it. */
export const formatCheckpoint = (c: AuditCheckpoint): string => `${c.seq}:${c.hash}`;

export function parseCheckpoint(text: string): AuditCheckpoint | undefined {
  const m = /^(\d{1,15}):([0-9a-f]{64})$/.exec(text.trim());
  return m ? { seq: Number(m[1]), hash: m[2]! } : undefined;
}

/** The newest entry, as a checkpoint. */
export async function auditHead(db: Db): Promise<AuditCheckpoint | null> {
  return (await newestEntry.first(db, {})) ?? null;
}

/**
 * Walks the whole chain in seq order, in pages, recomputing every hash. The chain alone cannot show
 * that entries were cut off its end; given checkpoints taken earlier, it also checks that each is
 * still in the chain, unchanged.
 */
export async function verifyAuditChain(db: Db, checkpoints: AuditCheckpoint[] = []): Promise<AuditVerification> {
  let prev = GENESIS;
  let expectedSeq = 1;
  let count = 0;
  const expected = new Map(checkpoints.map((c) => [c.seq, c.hash]));
  for (;;) {
    const page = await db
      .selectFrom('audit_log')
      .selectAll()
      .where('seq', '>=', expectedSeq)
      .orderBy('seq')
      .limit(5000)
      .execute();
    if (page.length === 0) {
      const lost = [...expected.keys()].filter((seq) => seq > count).sort((a, b) => a - b)[0];
      if (lost !== undefined)
        return {
          ok: false,
          entries: count,
          brokenAt: count + 1,
          reason: `the log ends at entry ${count}, but checkpoint ${lost} was taken after it: entries ${count + 1}–${lost} or more were deleted`,
        };
      return { ok: true, entries: count, head: count ? { seq: count, hash: prev } : null };
    }
    for (const row of page) {
      if (row.seq !== expectedSeq) {
        return {
          ok: false,
          entries: count,
          brokenAt: expectedSeq,
          reason: `entry ${expectedSeq} is missing (next present is ${row.seq})`,
        };
      }
      if (row.prev_hash !== prev) {
        return {
          ok: false,
          entries: count,
          brokenAt: row.seq,
          reason: `entry ${row.seq} does not follow entry ${row.seq - 1} (prev_hash mismatch)`,
        };
      }
      const { hash, ...rest } = row;
      if (entryHash(rest) !== hash) {
        return { ok: false, entries: count, brokenAt: row.seq, reason: `entry ${row.seq} was altered (hash mismatch)` };
      }
      const want = expected.get(row.seq);
      if (want !== undefined && want !== hash) {
        return {
          ok: false,
          entries: count,
          brokenAt: row.seq,
          reason: `entry ${row.seq} is not the one checkpointed (its hash differs): the log was rewritten from entry ${row.seq} or earlier`,
        };
      }
      prev = hash;
      expectedSeq++;
      count++;
    }
  }
}

export async function listAudit(
  db: Db,
  opts: { target?: string; afterSeq?: number; limit?: number } = {},
): Promise<AuditTable[]> {
  let q = db.selectFrom('audit_log').selectAll();
  if (opts.target) q = q.where('target', '=', opts.target);
  if (opts.afterSeq) q = q.where('seq', '>', opts.afterSeq);
  return q
    .orderBy('seq')
    .limit(opts.limit ?? 100)
    .execute();
}
