// A holder's first SM2 dual pair, as a service point (受理点) issues it onto a new key: the CA
// certifies the CSR of the signing key made on the key, the KMC makes and escrows the encryption key
// and envelopes it to that signing key, the CA certifies the encryption key. Renewals go through
// RenewalService instead (an order, a renewal proof). Used by the demo's SM2 holder.
import type { CertificateAuthority, IssuedCertificate, IssueRequest } from '../ca/authority.js';
import { CaError } from '../ca/errors.js';
import type { KeyManagement } from '../kmc/kmc-api.js';
import { parseCsr } from '../pki/csr.js';

export interface FirstDualPair {
  signing: IssuedCertificate;
  encryption: IssuedCertificate;
  /** DER SM2EnvelopedKey of the encryption key, to the CSR's signing key */
  envelope: Buffer;
}

export async function issueFirstDualPair(
  deps: { ca: CertificateAuthority; kmc: KeyManagement },
  req: Omit<IssueRequest, 'csr' | 'orderId' | 'renewsSerial'> & { csr: Buffer },
): Promise<FirstDualPair> {
  if (!deps.ca.profiles.get(req.profileId)?.encryptionProfile)
    throw new CaError(
      'not_dual',
      `profile ${req.profileId} is not a dual-pair profile (it names no encryptionProfile)`,
      'profile',
    );
  const signing = await deps.ca.issue(req);
  // one KMC key per signing certificate, however often the rest is retried (idempotent per requestId)
  const key = await deps.kmc.issueEncryptionKey({
    requestId: `first-${signing.record.serial}`,
    signingSpki: parseCsr(req.csr).spki,
    actor: req.actor,
  });
  const encryption = await deps.ca.issueEncryption({
    signing: signing.record,
    spki: key.publicSpki,
    kmcKeyId: key.keyId,
    actor: req.actor,
  });
  return { signing, encryption, envelope: key.envelope };
}
