// Signing and storing CRLs, per scope: a CA's full CRL (shard null: no issuingDistributionPoint,
// every revoked certificate of the CA — the DP of CA certificates and of certificates from before
// shards) or one shard of an issuing CA (IDP = the shard's URL, the certificates that name it).
import type { Config } from '../config/config.js';
import { appendAudit } from '../sa/audit.js';
import { revokedBatches } from '../sa/certificates.js';
import { insertCrl, latestCrlNumber, settleCrl, type StoredCrl } from '../sa/crls.js';
import { pkiUrlsInUse } from '../sa/pki-urls.js';
import { writeTransaction, type Storage, type Tx } from '../sa/database.js';
import type { Signer } from '../signer/signer.js';
import type { ParsedCertificate } from '../pki/certificate.js';
import { wholeSeconds } from './certificate-builder.js';
import { buildCrl } from './crl-builder.js';
import { shardCrlUrl } from './urls.js';

export interface CrlIssuer {
  record: { id: string };
  cert: ParsedCertificate;
  signer: Signer;
  keyId: Buffer;
}

/**
 * The PKI_URLs a shard CRL names its URL under: every one certificates were issued under (read in
 * the publishing transaction, so one recorded by another instance is included) and this instance's.
 */
async function shardUrlBases(tx: Tx, config: Pick<Config, 'pkiUrl'>): Promise<string[]> {
  const recorded = await pkiUrlsInUse(tx);
  return recorded.includes(config.pkiUrl) ? recorded : [...recorded, config.pkiUrl];
}

/** Signs and stores the next CRL of one scope, with its audit entry. */
export async function publishCrl(
  storage: Storage,
  config: Pick<Config, 'pkiUrl' | 'crlValiditySeconds'>,
  ca: CrlIssuer,
  shard: number | null,
  actor: string,
): Promise<StoredCrl> {
  // under the audit chain's lock (writeTransaction's), which also serialises CRL numbers: a lock of
  // its own let a CRL's audit entry race another writer's for the same seq on PostgreSQL
  return writeTransaction(storage, (tx) => publishCrlIn(tx, config, ca, shard, actor));
}

/**
 * publishCrl inside the caller's write transaction (a revocation publishes its scope's CRL in its
 * own transaction: no committed revocation is missing from the newest CRL, even after a crash).
 */
export async function publishCrlIn(
  tx: Tx,
  config: Pick<Config, 'pkiUrl' | 'crlValiditySeconds'>,
  ca: CrlIssuer,
  shard: number | null,
  actor: string,
): Promise<StoredCrl> {
  const caId = ca.record.id;
  // entries are read in the numbering transaction: a CRL never has a higher number than one
  // that lists a revocation it misses
  const number = (await latestCrlNumber(tx, caId, shard)) + 1;
  const thisUpdate = wholeSeconds(Date.now());
  const nextUpdate = wholeSeconds(thisUpdate.getTime() + config.crlValiditySeconds * 1000);
  const built = await buildCrl({
    signer: ca.signer,
    issuerName: ca.cert.subjectDer,
    issuerKeyId: ca.keyId,
    number,
    thisUpdate,
    nextUpdate,
    revoked: revokedBatches(tx, caId, shard),
    ...(shard !== null ? { distributionPoints: (await shardUrlBases(tx, config)).map((u) => shardCrlUrl(u, caId, shard)) } : {}),
  });
  const row: StoredCrl = {
    ca_id: caId,
    shard,
    crl_number: number,
    this_update: thisUpdate.getTime(),
    next_update: nextUpdate.getTime(),
    der: built.der,
  };
  await insertCrl(tx, row, built.entries);
  await settleCrl(tx, caId, shard);
  await appendAudit(tx, [
    {
      actor,
      action: 'crl.published',
      // the scope: the CA, or the CA and shard as in the shard's URL
      target: shard === null ? caId : `${caId}/${shard}`,
      details: { number, entries: built.entries, ...(shard !== null ? { shard } : {}) },
    },
  ]);
  return row;
}
