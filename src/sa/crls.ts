// Stored CRLs. A CA's full CRL (no issuingDistributionPoint, every revoked certificate of the CA) is
// in `crls`, every one it signed; shard CRLs are in `shard_crls`, numbered per (CA, shard). What
// /pki/crl serves is the newest of its scope.
import { PreparedQuery } from './compiled.js';
import type { Executor } from './database.js';
import type { CrlTable } from './schema.js';

/** A stored CRL of either kind; `shard` is null for the full CRL. */
export interface StoredCrl extends CrlTable {
  shard: number | null;
}

export async function latestCrl(db: Executor, caId: string, shard: number | null = null): Promise<StoredCrl | undefined> {
  if (shard === null) {
    const row = await db
      .selectFrom('crls')
      .selectAll()
      .where('ca_id', '=', caId)
      .orderBy('crl_number', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && { ...row, shard: null };
  }
  return db
    .selectFrom('shard_crls')
    .select(['ca_id', 'shard', 'crl_number', 'this_update', 'next_update', 'der'])
    .where('ca_id', '=', caId)
    .where('shard', '=', shard)
    .orderBy('crl_number', 'desc')
    .limit(1)
    .executeTakeFirst();
}

export async function latestCrlNumber(db: Executor, caId: string, shard: number | null = null): Promise<number> {
  const r =
    shard === null
      ? await db
          .selectFrom('crls')
          .select('crl_number')
          .where('ca_id', '=', caId)
          .orderBy('crl_number', 'desc')
          .limit(1)
          .executeTakeFirst()
      : await newestShardNumber.first(db, { caId, shard });
  return r?.crl_number ?? 0;
}

// a revocation publishes its shard: these run once per revocation, compiled once
const newestShardNumber = new PreparedQuery(['caId', 'shard'], (db, p) =>
  db
    .selectFrom('shard_crls')
    .select('crl_number')
    .where('ca_id', '=', p.caId)
    .where('shard', '=', p.shard)
    .orderBy('crl_number', 'desc')
    .limit(1),
);
const insertShardCrl = new PreparedQuery(
  ['ca_id', 'crl_number', 'this_update', 'next_update', 'der', 'shard', 'entries'],
  (db, p) =>
    db.insertInto('shard_crls').values({
      ca_id: p.ca_id,
      crl_number: p.crl_number,
      this_update: p.this_update,
      next_update: p.next_update,
      der: p.der,
      shard: p.shard,
      entries: p.entries,
    }),
);
const pruneShardCrls = new PreparedQuery(['caId', 'shard', 'below'], (db, p) =>
  db.deleteFrom('shard_crls').where('ca_id', '=', p.caId).where('shard', '=', p.shard).where('crl_number', '<', p.below),
);

export async function insertCrl(db: Executor, row: StoredCrl, entries: number): Promise<void> {
  const { shard, ...crl } = row;
  if (shard === null) {
    await db.insertInto('crls').values(crl).execute();
    return;
  }
  await insertShardCrl.run(db, {
    ca_id: crl.ca_id,
    crl_number: crl.crl_number,
    this_update: crl.this_update,
    next_update: crl.next_update,
    der: crl.der,
    shard,
    entries,
  });
  // A shard's history is its audit entries (number, entries); of the bytes only the newest two are
  // kept, or a 1M-entry CA would store the size of all its CRLs again at every refresh.
  await pruneShardCrls.run(db, { caId: row.ca_id, shard, below: row.crl_number - 1 });
}

const scopeOf = (caId: string, shard: number | null): string => (shard === null ? caId : `${caId}/${shard}`);

/** A revocation in this scope committed without its CRL: the refresher signs one at its next run. */
export async function oweCrl(db: Executor, caId: string, shard: number | null, at: number): Promise<void> {
  await db
    .insertInto('crls_owed')
    .values({ scope: scopeOf(caId, shard), ca_id: caId, shard, owed_since: at })
    .onConflict((oc) => oc.column('scope').doNothing())
    .execute();
}

// every publication settles its scope (a revocation's among them)
const settle = new PreparedQuery(['scope'], (db, p) => db.deleteFrom('crls_owed').where('scope', '=', p.scope));

/** Called in the transaction that stores a CRL of the scope: it lists every revocation committed before. */
export async function settleCrl(db: Executor, caId: string, shard: number | null): Promise<void> {
  await settle.run(db, { scope: scopeOf(caId, shard) });
}

/** The scopes of a CA owed a CRL (null: its full CRL). */
export async function owedCrlScopes(db: Executor, caId: string): Promise<(number | null)[]> {
  const rows = await db.selectFrom('crls_owed').select('shard').where('ca_id', '=', caId).orderBy('owed_since').execute();
  return rows.map((r) => r.shard);
}

/**
 * The shards of a CA that have a stored CRL, with the newest one's thisUpdate — what the refresher
 * keeps fresh (a shard no one revoked in or fetched yet is signed on its first request).
 */
export async function publishedShards(db: Executor, caId: string): Promise<{ shard: number; this_update: number }[]> {
  return db
    .selectFrom('shard_crls')
    .select(['shard', (eb) => eb.fn.max('this_update').as('this_update')])
    .where('ca_id', '=', caId)
    .groupBy('shard')
    .orderBy('shard')
    .execute();
}

/**
 * Of the CA's shards numbered `from` and up (retired by a lower CRL_SHARDS), those with a certificate
 * that can still be checked against their CRL (`after`: the expiry cut-off). One pass over the CA's
 * certificates, run only when such a shard's CRL is due.
 */
export async function retiredShardsInUse(db: Executor, caId: string, from: number, after: number): Promise<Set<number>> {
  const rows = await db
    .selectFrom('certificates')
    .select('crl_shard')
    .where('ca_id', '=', caId)
    .where('crl_shard', '>=', from)
    .where('not_after', '>', after)
    .groupBy('crl_shard')
    .execute();
  return new Set(rows.map((r) => r.crl_shard!));
}

/** When the last certificate naming the CA's full CRL in its DP expires (0: none does). */
export async function legacyCrlUntil(db: Executor, caId: string): Promise<number> {
  const r = await db.selectFrom('legacy_crl_scopes').select('not_after').where('ca_id', '=', caId).executeTakeFirst();
  return r?.not_after ?? 0;
}
