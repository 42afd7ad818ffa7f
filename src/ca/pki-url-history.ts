// Keeping shard CRLs in scope across a change of PKI_URL. A certificate names its shard's CRL under
// the PKI_URL it was issued under, for life; each shard CRL names its URL under every PKI_URL in use
// (crl-publisher.ts), so this one is recorded before the first certificate names it.
import { appendAudit } from '../sa/audit.js';
import { publishedShards } from '../sa/crls.js';
import { writeTransaction, type Storage } from '../sa/database.js';
import { newestShardedCertificate, pkiUrlsInUse, recordPkiUrl } from '../sa/pki-urls.js';
import { crlDistributionPointUris, parseCertificate } from '../pki/certificate.js';
import { pkiUrlOfShardCrl } from './urls.js';

/**
 * Records `pkiUrl` as one certificates are issued under. On a database from before this record
 * (migration 0023), the PKI_URL of each issuing CA's newest sharded certificate is recorded first.
 * When `pkiUrl` is new beside others (PKI_URL was changed), every published shard CRL is signed
 * again at once through `republish`, so that it names the new URL before a certificate does.
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
  const added = await writeTransaction(storage, async (tx) => {
    for (const b of earlier) await recordPkiUrl(tx, b, now - 1);
    if (!(await recordPkiUrl(tx, pkiUrl, now))) return false;
    await appendAudit(tx, [
      { actor: 'system', action: 'pki_url.recorded', target: pkiUrl, details: { earlier: [...known, ...earlier] } },
    ]);
    return true;
  });
  if (!added || known.length + earlier.size === 0) return;
  for (const caId of issuingCaIds) for (const { shard } of await publishedShards(storage.db, caId)) await republish(caId, shard);
}
