// Keeping shard CRLs in scope across a change of PKI_URL. A certificate names its shard's CRL under
// the PKI_URL it was issued under, for life; each shard CRL names its URL under every PKI_URL in use
// (crl-publisher.ts), so this one is recorded before the first certificate names it.
import { appendAudit } from '../sa/audit.js';
import { oweCrl, publishedShards } from '../sa/crls.js';
import { writeTransaction, type Storage } from '../sa/database.js';
import { newestShardedCertificate, pkiUrlsInUse, recordPkiUrl } from '../sa/pki-urls.js';
import { crlDistributionPointUris, parseCertificate } from '../pki/certificate.js';
import { pkiUrlOfShardCrl } from './urls.js';

/**
 * Records `pkiUrl` as one certificates are issued under. On a database from before this record
 * (migration 0023), the PKI_URL of each issuing CA's newest sharded certificate is recorded first.
 * When `pkiUrl` is new beside others (PKI_URL was changed), every published shard CRL is owed a new
 * one (recorded with the URL) and signed again at once through `republish`, so that it names the
 * new URL before a certificate does; what fails there is left to the CRL refresher.
 */
export async function recordPkiUrlInUse(
  storage: Storage,
  pkiUrl: string,
  issuingCaIds: string[],
  republish: (caId: string, shard: number) => Promise<unknown>,
): Promise<void> {
  const now = Date.now();
  const known = await pkiUrlsInUse(storage.db);
  if (known.includes(pkiUrl)) return;
  const earlier = new Set<string>();
  if (known.length === 0) {
    for (const caId of issuingCaIds) {
      const der = await newestShardedCertificate(storage.db, caId);
      const base = der && crlDistributionPointUris(parseCertificate(der)).map((u) => pkiUrlOfShardCrl(u, caId));
      for (const b of base ?? []) if (b && b !== pkiUrl) earlier.add(b);
    }
  }
  const changed = known.length + earlier.size > 0;
  const owed = await writeTransaction(storage, async (tx) => {
    for (const b of earlier) await recordPkiUrl(tx, b, now - 1);
    if (!(await recordPkiUrl(tx, pkiUrl, now))) return [];
    await appendAudit(tx, [
      { actor: 'system', action: 'pki_url.recorded', target: pkiUrl, details: { earlier: [...known, ...earlier] } },
    ]);
    if (!changed) return [];
    // every published shard is owed a CRL naming the new URL, with the record: if signing them now
    // fails, the refresher's next run does it (each publication settles its scope)
    const scopes: { caId: string; shard: number }[] = [];
    for (const caId of issuingCaIds)
      for (const { shard } of await publishedShards(tx, caId)) {
        await oweCrl(tx, caId, shard, now);
        scopes.push({ caId, shard });
      }
    return scopes;
  });
  try {
    for (const { caId, shard } of owed) await republish(caId, shard);
  } catch {
    // left owed (crls_owed): the CRL refresher signs them and reports what fails
  }
}
