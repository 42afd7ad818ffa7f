// Seal types (印章种类) and seal applications (印章申请). The seal an application made is recorded
// by a conditional update (… WHERE es_id IS NULL), so it is set once however many callers race.
import type { Selectable } from 'kysely';
import type { Executor } from './database.js';
import type { SealApplicationTable, SealReviewState, SealTypeTable } from './schema.js';

export type SealType = Selectable<SealTypeTable>;
export type SealApplication = Selectable<SealApplicationTable>;
/** an application without its picture bytes, for listings */
export type SealApplicationRow = Omit<SealApplication, 'picture_png'>;

const LISTED = [
  'order_id',
  'holder_id',
  'certificate_serial',
  'type_code',
  'type_name',
  'seal_name',
  'picture_width_mm',
  'picture_height_mm',
  'picture_source',
  'validity_days',
  'document_id',
  'review_state',
  'reviewer',
  'reviewed_at',
  'reason',
  'es_id',
  'made_at',
  'created_at',
] as const;

export async function listSealTypes(db: Executor, opts: { activeOnly?: boolean } = {}): Promise<SealType[]> {
  let q = db.selectFrom('seal_types').selectAll();
  if (opts.activeOnly) q = q.where('active', '=', 1);
  return q.orderBy('price_fen', 'desc').orderBy('code').execute();
}

export async function getSealType(db: Executor, code: string): Promise<SealType | undefined> {
  return db.selectFrom('seal_types').selectAll().where('code', '=', code).executeTakeFirst();
}

export async function upsertSealType(db: Executor, row: SealType): Promise<void> {
  const { code: _code, ...rest } = row;
  await db
    .insertInto('seal_types')
    .values(row)
    .onConflict((oc) => oc.column('code').doUpdateSet(rest))
    .execute();
}

export async function insertSealApplication(db: Executor, row: SealApplication): Promise<void> {
  await db.insertInto('seal_applications').values(row).execute();
}

export async function getSealApplication(db: Executor, orderId: string): Promise<SealApplication | undefined> {
  return db.selectFrom('seal_applications').selectAll().where('order_id', '=', orderId).executeTakeFirst();
}

export async function listSealApplications(
  db: Executor,
  filter: { holderId?: number | null; certificateSerials?: string[]; reviewState?: SealReviewState[]; limit?: number },
): Promise<SealApplicationRow[]> {
  let q = db.selectFrom('seal_applications').select(LISTED);
  if (filter.holderId !== undefined && filter.holderId !== null) q = q.where('holder_id', '=', filter.holderId);
  else if (filter.certificateSerials)
    q = q.where('certificate_serial', 'in', filter.certificateSerials.length ? filter.certificateSerials : ['']);
  if (filter.reviewState?.length) q = q.where('review_state', 'in', filter.reviewState);
  return q
    .orderBy('created_at', 'desc')
    .limit(filter.limit ?? 200)
    .execute();
}

/** pending → approved/rejected once; false when it was already decided. */
export async function decideSealApplication(
  db: Executor,
  orderId: string,
  decision: { state: 'approved' | 'rejected'; reviewer: string; reason: string | null; at: number },
): Promise<boolean> {
  const r = await db
    .updateTable('seal_applications')
    .set({ review_state: decision.state, reviewer: decision.reviewer, reason: decision.reason, reviewed_at: decision.at })
    .where('order_id', '=', orderId)
    .where('review_state', '=', 'pending')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Records the seal made for the application; false when one is recorded already. */
export async function recordSealMade(db: Executor, orderId: string, esId: string, at: number): Promise<boolean> {
  const r = await db
    .updateTable('seal_applications')
    .set({ es_id: esId, made_at: at })
    .where('order_id', '=', orderId)
    .where('es_id', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Approved applications whose order is paid and whose seal is not made yet (the making job's work). */
export async function sealApplicationsToMake(db: Executor, limit = 100): Promise<string[]> {
  const rows = await db
    .selectFrom('seal_applications')
    .innerJoin('orders', 'orders.id', 'seal_applications.order_id')
    .select('seal_applications.order_id')
    .where('seal_applications.review_state', '=', 'approved')
    .where('seal_applications.es_id', 'is', null)
    .where('orders.state', 'in', ['paid', 'issuing'])
    .limit(limit)
    .execute();
  return rows.map((r) => r.order_id);
}
