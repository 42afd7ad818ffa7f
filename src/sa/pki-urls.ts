// The PKI_URLs certificates have been issued under. A certificate's CRL DP names its shard's URL under
// the PKI_URL of the day, for its whole lifetime; a shard CRL's issuingDistributionPoint must name
// that URL too, or relying parties reject the CRL as out of scope (RFC 5280 §6.3.3 b.2). So each
// URL is recorded before the first certificate names it, and every shard CRL lists its URL under
// each of them.
import { PreparedQuery } from './compiled.js';
import type { Executor } from './database.js';

// read by every shard CRL publication, a revocation's among them
const allUrls = new PreparedQuery([], (db) => db.selectFrom('pki_urls').select('url').orderBy('first_used_at').orderBy('url'));

/** Every PKI_URL recorded, oldest first. */
export async function pkiUrlsInUse(db: Executor): Promise<string[]> {
  return (await allUrls.execute(db, {})).map((r) => r.url);
}

/** Records `url` (kept once); true when it was not recorded before. */
export async function recordPkiUrl(db: Executor, url: string, at: number): Promise<boolean> {
  const r = await db
    .insertInto('pki_urls')
    .values({ url, first_used_at: at })
    .onConflict((oc) => oc.column('url').doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
}

/** The newest certificate of `caId` that names a CRL shard (its DER), if any. */
export async function newestShardedCertificate(db: Executor, caId: string): Promise<Buffer | undefined> {
  const row = await db
    .selectFrom('certificates')
    .select('der')
    .where('ca_id', '=', caId)
    .where('crl_shard', 'is not', null)
    .orderBy('issued_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.der;
}
