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

/** Makes `id` the only active CA of its kind (and parent, for responders). */
export async function activateCa(db: Executor, ca: CaRecord): Promise<void> {
  let q = db.updateTable('cas').set({ active: 0 }).where('kind', '=', ca.kind).where('id', '!=', ca.id);
  if (ca.kind === 'ocsp' && ca.parent_id) q = q.where('parent_id', '=', ca.parent_id);
  await q.execute();
  await db.updateTable('cas').set({ active: 1 }).where('id', '=', ca.id).execute();
}
