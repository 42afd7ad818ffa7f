// The staff console's queries: paged, filtered lists of orders, certificates and audit entries,
// the offline-payment queue, refunds and processed bank-statement lines. Every list is
// server-side paged and ordered along an index (migration 0003 adds the ones these need).
import { sql, type Insertable, type Selectable, type SelectQueryBuilder } from 'kysely';
import type { Executor } from './database.js';
import { containsText, escapeLike, likeText } from './text-match.js';
import type {
  AuditTable,
  CertificateStatus,
  OrderState,
  PaymentMethod,
  RefundTable,
  StatementImportTable,
  StatementLineTable,
} from './schema.js';
import type { Order } from './orders.js';

export interface Page<T> {
  rows: T[];
  total: number;
  /** true when more rows match than `total` says: the count stops at COUNT_CAP */
  capped?: boolean;
}

/**
 * Lists count their matches up to this many: an exact count of millions of certificates reads every
 * index entry (a second at 10M rows), and nobody pages through more than this without a filter.
 */
export const COUNT_CAP = 10_000;

/** The number of rows `q` selects, counted up to COUNT_CAP (then `capped`). */
async function countUpTo<DB, TB extends keyof DB, O>(
  db: Executor,
  q: SelectQueryBuilder<DB, TB, O>,
): Promise<{ total: number; capped: boolean }> {
  const limited = q.select(sql<number>`1`.as('one')).limit(COUNT_CAP + 1);
  const r = await db
    .selectFrom(limited.as('matches') as never)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  const n = Number((r as { n: number }).n);
  return n > COUNT_CAP ? { total: COUNT_CAP, capped: true } : { total: n, capped: false };
}

export type OrderRow = Order & { holder_unique_id: string | null; holder_name: string | null };

export interface OrderFilter {
  /** substring of the holder's name (单位名称 as on the order, or the holder record) */
  name?: string;
  /** 唯一识别号, exact */
  uniqueId?: string;
  /** order id or remittance reference code, exact (case-insensitive for the reference) */
  order?: string;
  states?: OrderState[];
  methods?: PaymentMethod[];
  /** created_at range, ms */
  from?: number;
  to?: number;
  /** oldest first (the work queue) instead of newest first */
  oldestFirst?: boolean;
  limit: number;
  offset: number;
}

export async function searchOrders(db: Executor, f: OrderFilter): Promise<Page<OrderRow>> {
  let q = db.selectFrom('orders');
  if (f.order) {
    const key = f.order.trim();
    q = q.where((eb) => eb.or([eb('orders.id', '=', key), eb('orders.reference', '=', key.toUpperCase())]));
  }
  if (f.uniqueId) {
    const holder = await db.selectFrom('holders').select('id').where('unique_id', '=', f.uniqueId.trim()).executeTakeFirst();
    q = q.where('orders.holder_id', '=', holder?.id ?? -1);
  }
  if (f.states?.length) q = q.where('orders.state', 'in', f.states);
  if (f.methods?.length) q = q.where('orders.payment_method', 'in', f.methods);
  if (f.from !== undefined) q = q.where('orders.created_at', '>=', f.from);
  if (f.to !== undefined) q = q.where('orders.created_at', '<', f.to);
  // 单位名称 as recorded on the order (the certificate's O at ordering time): a substring scan
  if (f.name) q = q.where(containsText('orders.organization', f.name.trim()));
  const { total, capped } = await countUpTo(db, q);
  const rows = await q
    .selectAll('orders')
    .orderBy('orders.created_at', f.oldestFirst ? 'asc' : 'desc')
    .orderBy('orders.id', f.oldestFirst ? 'asc' : 'desc')
    .limit(f.limit)
    .offset(f.offset)
    .execute();
  // holders for this page only (one indexed lookup), not joined across every matching row
  const ids = [...new Set(rows.map((r) => r.holder_id).filter((id): id is number => id !== null))];
  const holders = ids.length
    ? await db.selectFrom('holders').select(['id', 'unique_id', 'name']).where('id', 'in', ids).execute()
    : [];
  const byId = new Map(holders.map((h) => [h.id, h]));
  return {
    rows: rows.map((r) => {
      const h = r.holder_id !== null ? byId.get(r.holder_id) : undefined;
      return { ...r, holder_unique_id: h?.unique_id ?? null, holder_name: h?.name ?? null };
    }),
    total,
    capped,
  };
}

/** Offline (postal/bank) orders waiting for their money, oldest first. */
export function offlineQueue(db: Executor, limit: number, offset: number): Promise<Page<OrderRow>> {
  return searchOrders(db, {
    states: ['awaiting_payment', 'expired'],
    methods: ['postal', 'bank'],
    oldestFirst: true,
    limit,
    offset,
  });
}

export type Refund = Selectable<RefundTable>;

export async function insertRefund(db: Executor, r: Insertable<RefundTable>): Promise<void> {
  await db.insertInto('refunds').values(r).execute();
}

export async function refundsForOrder(db: Executor, orderId: string): Promise<Refund[]> {
  return db.selectFrom('refunds').selectAll().where('order_id', '=', orderId).orderBy('id').execute();
}

export type StatementLine = Selectable<StatementLineTable>;

export async function getStatementLine(db: Executor, source: string, transactionId: string): Promise<StatementLine | undefined> {
  return db
    .selectFrom('statement_lines')
    .selectAll()
    .where('source', '=', source)
    .where('transaction_id', '=', transactionId)
    .executeTakeFirst();
}

export async function insertStatementLine(db: Executor, l: Insertable<StatementLineTable>): Promise<void> {
  await db.insertInto('statement_lines').values(l).execute();
}

export async function updateStatementLine(db: Executor, id: number, set: Partial<Omit<StatementLine, 'id'>>): Promise<void> {
  await db.updateTable('statement_lines').set(set).where('id', '=', id).execute();
}

export async function insertStatementImport(db: Executor, r: Omit<Insertable<StatementImportTable>, 'id'>): Promise<number> {
  const row = await db.insertInto('statement_imports').values(r).returning('id').executeTakeFirstOrThrow();
  return Number(row.id);
}

export async function finishStatementImport(
  db: Executor,
  id: number,
  counts: { lines: number; recorded: number; unmatched: number },
): Promise<void> {
  await db.updateTable('statement_imports').set(counts).where('id', '=', id).execute();
}

export interface CertificateSearch {
  /** serial (exact, any common spelling) */
  serial?: string;
  /** substring of the subject */
  subject?: string;
  uniqueId?: string;
  status?: CertificateStatus;
  limit: number;
  offset: number;
}

export type CertificateRow = {
  serial: string;
  ca_id: string;
  profile: string;
  subject: string;
  not_before: number;
  not_after: number;
  status: CertificateStatus;
  revoked_at: number | null;
  revocation_reason: number | null;
  holder_id: number | null;
  order_id: string | null;
  issued_at: number;
  holder_unique_id: string | null;
  holder_name: string | null;
};

export async function searchCertificates(db: Executor, f: CertificateSearch): Promise<Page<CertificateRow>> {
  let q = db.selectFrom('certificates');
  if (f.serial) q = q.where('certificates.serial', '=', f.serial);
  if (f.uniqueId) {
    const holder = await db.selectFrom('holders').select('id').where('unique_id', '=', f.uniqueId.trim()).executeTakeFirst();
    q = q.where('certificates.holder_id', '=', holder?.id ?? -1);
  }
  if (f.status) q = q.where('certificates.status', '=', f.status);
  if (f.subject) q = q.where(containsText('certificates.subject', f.subject.trim()));
  const { total, capped } = await countUpTo(db, q);
  // The page's serials first, from an index alone ((status,) issued_at, serial: migration 0022), and
  // only then those rows and their holders: an OFFSET skips index entries, not whole rows and joins.
  const serials = (
    await q
      .select('certificates.serial')
      .orderBy('certificates.issued_at', 'desc')
      .orderBy('certificates.serial', 'desc')
      .limit(f.limit)
      .offset(f.offset)
      .execute()
  ).map((r) => r.serial);
  if (serials.length === 0) return { rows: [], total, capped };
  const rows = await db
    .selectFrom('certificates')
    .leftJoin('holders', 'holders.id', 'certificates.holder_id')
    .select([
      'certificates.serial',
      'certificates.ca_id',
      'certificates.profile',
      'certificates.subject',
      'certificates.not_before',
      'certificates.not_after',
      'certificates.status',
      'certificates.revoked_at',
      'certificates.revocation_reason',
      'certificates.holder_id',
      'certificates.order_id',
      'certificates.issued_at',
      'holders.unique_id as holder_unique_id',
      'holders.name as holder_name',
    ])
    .where('certificates.serial', 'in', serials)
    .orderBy('certificates.issued_at', 'desc')
    .orderBy('certificates.serial', 'desc')
    .execute();
  return { rows, total, capped };
}

export interface AuditSearch {
  actor?: string;
  /** exact action, or a prefix ending in '.' (e.g. 'payment.') */
  action?: string;
  target?: string;
  from?: number;
  to?: number;
  /** entries with seq below this (keyset paging, newest first) */
  beforeSeq?: number;
  /** entries with seq above this (export, oldest first) */
  afterSeq?: number;
  limit: number;
  order: 'desc' | 'asc';
}

export async function searchAudit(db: Executor, f: AuditSearch): Promise<AuditTable[]> {
  let q = db.selectFrom('audit_log').selectAll();
  if (f.actor) q = q.where('actor', '=', f.actor);
  if (f.action)
    q = f.action.endsWith('.') ? q.where(likeText('action', `${escapeLike(f.action)}%`)) : q.where('action', '=', f.action);
  if (f.target) q = q.where('target', '=', f.target);
  if (f.from !== undefined) q = q.where('at', '>=', f.from);
  if (f.to !== undefined) q = q.where('at', '<', f.to);
  if (f.beforeSeq !== undefined) q = q.where('seq', '<', f.beforeSeq);
  if (f.afterSeq !== undefined) q = q.where('seq', '>', f.afterSeq);
  return q.orderBy('seq', f.order).limit(f.limit).execute();
}

export async function auditCount(db: Executor): Promise<number> {
  const r = await db
    .selectFrom('audit_log')
    .select((eb) => eb.fn.max('seq').as('n'))
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}
