// Which CRL scopes a CA keeps fresh: its full CRL while certificates name it, and its shards.
import type { Config } from '../config/config.js';
import type { CaRecord } from '../sa/cas.js';
import { latestCrl, legacyCrlUntil, owedCrlScopes, publishedShards, retiredShardsInUse } from '../sa/crls.js';
import type { Executor } from '../sa/database.js';

/**
 * The scopes of `ca` owed a CRL (a revocation committed without one: crls_owed), and those whose
 * newest CRL is missing or older than 90 % of the refresh interval and that someone may still check
 * against (null: the full CRL):
 * - the full CRL of a root (its DP is in the issuing CA certificates), and of an issuing CA while a
 *   certificate from before shards (migration 0021's legacy_crl_scopes) has not expired;
 * - every shard below CRL_SHARDS, published or not (so each has a CRL before a lower count could
 *   retire it), and a retired shard (≥ CRL_SHARDS) while one of its certificates has not expired.
 * "Not expired" allows one CRL validity past notAfter, so an entry appears on a CRL issued after
 * its certificate expired (RFC 5280 §3.3).
 */
export async function crlScopesDue(
  db: Executor,
  config: Pick<Config, 'crlRefreshSeconds' | 'crlValiditySeconds' | 'crlShards'>,
  ca: Pick<CaRecord, 'id' | 'kind'>,
  now: number,
): Promise<(number | null)[]> {
  const stale = (thisUpdate: number | undefined) =>
    thisUpdate === undefined || now - thisUpdate >= config.crlRefreshSeconds * 900;
  const expiredBefore = now - config.crlValiditySeconds * 1000;
  // owed first: a revocation committed without its CRL, whatever the age of the newest one
  const due: (number | null)[] = await owedCrlScopes(db, ca.id);
  if (
    !due.includes(null) &&
    stale((await latestCrl(db, ca.id))?.this_update) &&
    (ca.kind !== 'issuing' || (await legacyCrlUntil(db, ca.id)) > expiredBefore)
  )
    due.push(null);
  if (ca.kind !== 'issuing') return due;
  const published = new Map((await publishedShards(db, ca.id)).map((p) => [p.shard, p.this_update]));
  for (let s = 0; s < config.crlShards; s++) if (stale(published.get(s)) && !due.includes(s)) due.push(s);
  const retired = [...published].filter(([s, t]) => s >= config.crlShards && stale(t) && !due.includes(s)).map(([s]) => s);
  if (retired.length) {
    const inUse = await retiredShardsInUse(db, ca.id, config.crlShards, expiredBefore);
    due.push(...retired.filter((s) => inUse.has(s)));
  }
  return due;
}
