// Storage for revocation evidence (revocation_statements, append-only) and 挂失 requests.
import type { Selectable } from 'kysely';
import type { Executor } from './database.js';
import type { RevocationRequestState, RevocationRequestTable, RevocationStatementTable } from './schema.js';

export type RevocationStatementRecord = Selectable<RevocationStatementTable>;
export type RevocationRequest = Selectable<RevocationRequestTable>;

export async function insertRevocationStatement(db: Executor, row: RevocationStatementTable): Promise<void> {
  await db.insertInto('revocation_statements').values(row).execute();
}

export async function statementsFor(db: Executor, serial: string): Promise<RevocationStatementRecord[]> {
  return db.selectFrom('revocation_statements').selectAll().where('serial', '=', serial).orderBy('created_at').execute();
}

export async function insertRevocationRequest(db: Executor, row: RevocationRequestTable): Promise<void> {
  await db.insertInto('revocation_requests').values(row).execute();
}

export async function getRevocationRequest(db: Executor, id: string): Promise<RevocationRequest | undefined> {
  return db.selectFrom('revocation_requests').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listRevocationRequests(
  db: Executor,
  f: { state?: RevocationRequestState; limit?: number } = {},
): Promise<RevocationRequest[]> {
  let q = db.selectFrom('revocation_requests').selectAll();
  if (f.state) q = q.where('state', '=', f.state);
  return q
    .orderBy('created_at', 'desc')
    .limit(f.limit ?? 200)
    .execute();
}

/** Records a decision; true only for the first decision on a pending request (no double approval). */
export async function decideRevocationRequest(
  db: Executor,
  d: {
    id: string;
    state: 'approved' | 'rejected';
    reviewer: string;
    reason: string | null;
    at: number;
    /** approved: the certificate staff revoked (the match, or another of the holder's they chose) */
    serial?: string;
  },
): Promise<boolean> {
  const r = await db
    .updateTable('revocation_requests')
    .set({
      state: d.state,
      reviewer: d.reviewer,
      decision_reason: d.reason,
      reviewed_at: d.at,
      ...(d.serial !== undefined ? { matched_serial: d.serial } : {}),
    })
    .where('id', '=', d.id)
    .where('state', '=', 'pending')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}
