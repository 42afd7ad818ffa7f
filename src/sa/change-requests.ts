// Change requests (变更证书) and their review decisions. Both tables are append-only: a request is
// written once with its order, a decision once (its primary key is the order id, so a second
// decision — another reviewer, a retry, a second instance — fails instead of overwriting the first).
import type { Selectable } from 'kysely';
import type { Executor } from './database.js';
import type { ChangeRequestTable, ChangeReviewTable, OrderState } from './schema.js';

export type ChangeRequest = Selectable<ChangeRequestTable>;
export type ChangeReview = Selectable<ChangeReviewTable>;
export type ChangeReviewState = 'pending' | ChangeReview['decision'];

/** A request with its decision (if any) and its order's state, as listings show it. */
export interface ChangeRequestRow extends ChangeRequest {
  review: ChangeReview | null;
  order_state: OrderState;
}

export async function insertChangeRequest(db: Executor, row: ChangeRequest): Promise<void> {
  await db.insertInto('change_requests').values(row).execute();
}

export async function getChangeRequest(db: Executor, orderId: string): Promise<ChangeRequest | undefined> {
  return db.selectFrom('change_requests').selectAll().where('order_id', '=', orderId).executeTakeFirst();
}

export async function getChangeReview(db: Executor, orderId: string): Promise<ChangeReview | undefined> {
  return db.selectFrom('change_reviews').selectAll().where('order_id', '=', orderId).executeTakeFirst();
}

/**
 * Records the decision; false when the request was decided already. Run it inside a write
 * transaction (writers are serialised there); the primary key stays the last word.
 */
export async function insertChangeReview(db: Executor, row: ChangeReview): Promise<boolean> {
  if (await getChangeReview(db, row.order_id)) return false;
  await db.insertInto('change_reviews').values(row).execute();
  return true;
}

export async function listChangeRequests(
  db: Executor,
  filter: {
    holderId?: number | null;
    certificateSerials?: string[];
    reviewState?: ChangeReviewState[];
    orderId?: string;
    limit?: number;
  },
): Promise<ChangeRequestRow[]> {
  let q = db
    .selectFrom('change_requests')
    .innerJoin('orders', 'orders.id', 'change_requests.order_id')
    .leftJoin('change_reviews', 'change_reviews.order_id', 'change_requests.order_id')
    .selectAll('change_requests')
    .select([
      'orders.state as order_state',
      'change_reviews.decision as review_decision',
      'change_reviews.reason as review_reason',
      'change_reviews.reviewer as review_reviewer',
      'change_reviews.decided_at as review_decided_at',
    ]);
  if (filter.orderId !== undefined) q = q.where('change_requests.order_id', '=', filter.orderId);
  if (filter.holderId !== undefined && filter.holderId !== null) q = q.where('change_requests.holder_id', '=', filter.holderId);
  else if (filter.certificateSerials)
    q = q.where('change_requests.certificate_serial', 'in', filter.certificateSerials.length ? filter.certificateSerials : ['']);
  const states = filter.reviewState;
  if (states?.length)
    q = q.where((eb) =>
      eb.or([
        ...(states.includes('pending') ? [eb('change_reviews.decision', 'is', null)] : []),
        ...states.filter((s) => s !== 'pending').map((s) => eb('change_reviews.decision', '=', s)),
      ]),
    );
  const rows = await q
    .orderBy('change_requests.created_at', 'desc')
    .limit(filter.limit ?? 200)
    .execute();
  return rows.map(({ review_decision, review_reason, review_reviewer, review_decided_at, ...r }) => ({
    ...r,
    review:
      review_decision !== null && review_reviewer !== null && review_decided_at !== null
        ? {
            order_id: r.order_id,
            decision: review_decision,
            reason: review_reason,
            reviewer: review_reviewer,
            decided_at: Number(review_decided_at),
          }
        : null,
  }));
}

export async function getChangeRequestRow(db: Executor, orderId: string): Promise<ChangeRequestRow | undefined> {
  return (await listChangeRequests(db, { orderId, limit: 1 }))[0];
}
