// Seals and seal makers in the database. A seal row is never deleted; re-making it (on renewal)
// is a conditional update from the certificate it was bound to, so two instances re-making the same
// seal for the same renewal make it once; every DER made is also kept in seal_versions.
import { PreparedQuery } from './compiled.js';
import type { Executor } from './database.js';
import type { SealMakerTable, SealTable } from './schema.js';

export type SealRecord = SealTable;
export type SealMakerRecord = SealMakerTable;

export async function insertSealMaker(db: Executor, row: SealMakerRecord): Promise<void> {
  await db.insertInto('seal_makers').values(row).execute();
}

export async function activeSealMaker(db: Executor, issuingCaId: string): Promise<SealMakerRecord | undefined> {
  return db
    .selectFrom('seal_makers')
    .selectAll()
    .where('issuing_ca_id', '=', issuingCaId)
    .where('active', '=', 1)
    .orderBy('created_at', 'desc')
    .executeTakeFirst();
}

export async function getSealMaker(db: Executor, id: string): Promise<SealMakerRecord | undefined> {
  return db.selectFrom('seal_makers').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listSealMakers(db: Executor): Promise<SealMakerRecord[]> {
  return db.selectFrom('seal_makers').selectAll().orderBy('created_at').execute();
}

/** Deactivates `previous` (when still active) and inserts `row`; false when another process replaced it first. */
export async function replaceSealMaker(tx: Executor, previous: string | undefined, row: SealMakerRecord): Promise<boolean> {
  if (previous !== undefined) {
    const r = await tx
      .updateTable('seal_makers')
      .set({ active: 0 })
      .where('id', '=', previous)
      .where('active', '=', 1)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return false;
  }
  await insertSealMaker(tx, row);
  return true;
}

export async function insertSeal(tx: Executor, row: SealRecord): Promise<void> {
  await tx.insertInto('seals').values(row).execute();
  await tx
    .insertInto('seal_versions')
    .values({
      es_id: row.es_id,
      generation: row.generation,
      bound_serial: row.bound_serial,
      der: row.der,
      made_at: row.updated_at,
      made_by: row.created_by,
    })
    .execute();
}

export async function getSeal(db: Executor, esId: string): Promise<SealRecord | undefined> {
  return db.selectFrom('seals').selectAll().where('es_id', '=', esId).executeTakeFirst();
}

export async function getSealByOrder(db: Executor, orderId: string): Promise<SealRecord | undefined> {
  return db.selectFrom('seals').selectAll().where('order_id', '=', orderId).executeTakeFirst();
}

// every issuance asks for the seals bound to the old and the new certificate: compiled once
const validSealsBoundTo = new PreparedQuery(['serial'], (db, p) =>
  db.selectFrom('seals').selectAll().where('bound_serial', '=', p.serial).where('status', '=', 'valid').orderBy('created_at'),
);

export async function sealsBoundTo(db: Executor, serial: string, status: 'valid' | 'any' = 'valid'): Promise<SealRecord[]> {
  if (status === 'valid') return validSealsBoundTo.execute(db, { serial });
  return db.selectFrom('seals').selectAll().where('bound_serial', '=', serial).orderBy('created_at').execute();
}

export async function listSeals(db: Executor, f: { holderUniqueId?: string; limit?: number } = {}): Promise<SealRecord[]> {
  let q = db.selectFrom('seals').selectAll();
  if (f.holderUniqueId !== undefined) q = q.where('holder_unique_id', '=', f.holderUniqueId);
  return q
    .orderBy('created_at', 'desc')
    .limit(f.limit ?? 1000)
    .execute();
}

export async function sealVersions(db: Executor, esId: string) {
  return db.selectFrom('seal_versions').selectAll().where('es_id', '=', esId).orderBy('generation').execute();
}

/**
 * The seal re-made for a new certificate: applied only while it is still bound to `fromSerial` at
 * `generation` (another instance that got there first wins; the caller reads the row again).
 */
export async function rebindSeal(
  tx: Executor,
  current: SealRecord,
  next: Pick<SealRecord, 'bound_serial' | 'der' | 'valid_start' | 'valid_end' | 'maker_id' | 'updated_at'>,
  actor: string,
): Promise<boolean> {
  const r = await tx
    .updateTable('seals')
    .set({ ...next, generation: current.generation + 1 })
    .where('es_id', '=', current.es_id)
    .where('bound_serial', '=', current.bound_serial)
    .where('generation', '=', current.generation)
    .where('status', '=', 'valid')
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) !== 1) return false;
  await tx
    .insertInto('seal_versions')
    .values({
      es_id: current.es_id,
      generation: current.generation + 1,
      bound_serial: next.bound_serial,
      der: next.der,
      made_at: next.updated_at,
      made_by: actor,
    })
    .execute();
  return true;
}

/** Marks seals revoked (all bound to `serial`, or one esID); returns the esIDs changed. */
export async function revokeSeals(
  tx: Executor,
  where: { boundSerial: string } | { esId: string },
  reason: string,
  at: number,
): Promise<string[]> {
  let q = tx.selectFrom('seals').select('es_id').where('status', '=', 'valid');
  q = 'esId' in where ? q.where('es_id', '=', where.esId) : q.where('bound_serial', '=', where.boundSerial);
  const ids = (await q.execute()).map((r) => r.es_id);
  if (ids.length === 0) return [];
  await tx
    .updateTable('seals')
    .set({ status: 'revoked', revoked_at: at, revoked_reason: reason, updated_at: at })
    .where('es_id', 'in', ids)
    .where('status', '=', 'valid')
    .execute();
  return ids;
}

/**
 * Marks the valid seals bound to one of `boundSerials` and named `name` for re-application because
 * of change order `orderId` (a seal already marked keeps its first mark); returns the esIDs marked now.
 */
export async function markSealsForReapplication(
  tx: Executor,
  f: { boundSerials: string[]; name: string; orderId: string; at: number },
): Promise<string[]> {
  const ids = (
    await tx
      .selectFrom('seals')
      .select('es_id')
      .where('bound_serial', 'in', f.boundSerials)
      .where('name', '=', f.name)
      .where('status', '=', 'valid')
      .where('reapply_order', 'is', null)
      .execute()
  ).map((r) => r.es_id);
  if (ids.length === 0) return [];
  await tx
    .updateTable('seals')
    .set({ reapply_order: f.orderId, reapply_at: f.at })
    .where('es_id', 'in', ids)
    .where('reapply_order', 'is', null)
    .execute();
  return ids;
}

/** The seals a change order marked for re-application. */
export async function sealsToReapply(db: Executor, orderId: string): Promise<SealRecord[]> {
  return db.selectFrom('seals').selectAll().where('reapply_order', '=', orderId).orderBy('created_at').execute();
}

/** Valid seals bound to `serial` whose name is `name` (what a change of that 名称 will mark). */
export async function sealsNamed(db: Executor, serial: string, name: string): Promise<SealRecord[]> {
  return db
    .selectFrom('seals')
    .selectAll()
    .where('bound_serial', '=', serial)
    .where('name', '=', name)
    .where('status', '=', 'valid')
    .orderBy('created_at')
    .execute();
}
