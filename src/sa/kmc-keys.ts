// The KMC's escrow store: master key registrations and escrowed encryption keys. Both tables are
// append-only (migration 0010 triggers): rows are inserted once and never changed or deleted.
import type { Selectable } from 'kysely';
import type { Executor } from './database.js';
import type { KmcKeyTable, KmcMasterKeyTable } from './schema.js';

export type KmcMasterKeyRecord = Selectable<KmcMasterKeyTable>;
export type KmcKeyRecord = Selectable<KmcKeyTable>;

export async function listKmcMasterKeys(db: Executor): Promise<KmcMasterKeyRecord[]> {
  return db.selectFrom('kmc_master_keys').selectAll().orderBy('created_at').execute();
}

export async function insertKmcMasterKey(db: Executor, row: KmcMasterKeyRecord): Promise<void> {
  await db.insertInto('kmc_master_keys').values(row).execute();
}

export async function insertKmcKey(db: Executor, row: KmcKeyRecord): Promise<void> {
  await db.insertInto('kmc_keys').values(row).execute();
}

export async function getKmcKeyByRequest(db: Executor, requestId: string): Promise<KmcKeyRecord | undefined> {
  return db.selectFrom('kmc_keys').selectAll().where('request_id', '=', requestId).executeTakeFirst();
}

export async function getKmcKeyBySpkiHash(db: Executor, spkiSha256: string): Promise<KmcKeyRecord | undefined> {
  return db.selectFrom('kmc_keys').selectAll().where('spki_sha256', '=', spkiSha256).executeTakeFirst();
}

/** Escrowed keys per master key id. */
export async function countKmcKeys(db: Executor): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('kmc_keys')
    .select((eb) => ['master_key_id', eb.fn.countAll<number>().as('n')])
    .groupBy('master_key_id')
    .execute();
  return new Map(rows.map((r) => [r.master_key_id, Number(r.n)]));
}
