// Stored CRLs: every CRL the CA signed, numbered per CA; the newest is what /pki/crl serves.
import type { Executor } from './database.js';
import type { CrlTable } from './schema.js';

export async function latestCrl(db: Executor, caId: string): Promise<CrlTable | undefined> {
  return db.selectFrom('crls').selectAll().where('ca_id', '=', caId).orderBy('crl_number', 'desc').limit(1).executeTakeFirst();
}

export async function latestCrlNumber(db: Executor, caId: string): Promise<number> {
  const r = await db
    .selectFrom('crls')
    .select('crl_number')
    .where('ca_id', '=', caId)
    .orderBy('crl_number', 'desc')
    .limit(1)
    .executeTakeFirst();
  return r?.crl_number ?? 0;
}

export async function insertCrl(db: Executor, row: CrlTable): Promise<void> {
  await db.insertInto('crls').values(row).execute();
}
