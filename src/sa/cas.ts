// CA records: root, issuing CAs and their delegated OCSP responders, with where their keys live.
import type { Executor } from './database.js';
import type { CaKind, CaTable } from './schema.js';

export type CaRecord = CaTable;

export async function insertCa(db: Executor, row: CaRecord): Promise<void> {
  await db.insertInto('cas').values(row).execute();
}

export async function listCas(db: Executor, kind?: CaKind): Promise<CaRecord[]> {
  let q = db.selectFrom('cas').selectAll();
  if (kind) q = q.where('kind', '=', kind);
  return q.orderBy('created_at').execute();
}

export async function getCa(db: Executor, id: string): Promise<CaRecord | undefined> {
  return db.selectFrom('cas').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * Puts `row` in place of `previous` (deactivated) in one step of the caller's transaction. Returns
 * false, changing nothing, when `previous` is no longer active: another process replaced it first.
 */
export async function replaceCa(tx: Executor, previous: string | undefined, row: CaRecord): Promise<boolean> {
  if (previous !== undefined) {
    const r = await tx
      .updateTable('cas')
      .set({ active: 0 })
      .where('id', '=', previous)
      .where('active', '=', 1)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return false;
  }
  await insertCa(tx, row);
  return true;
}
