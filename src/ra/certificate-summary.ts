// How a certificate is described to holders (名称, 证书种类, 唯一识别号, validity …), one shape for
// the portal, the CLI and the key assistant's server side.
import { parseCertificate } from '../pki/certificate.js';
import { readHolderIdentity } from '../pki/holder-identity.js';
import { attributeValue, nameToString } from '../pki/name.js';
import type { CertificateRecord } from '../sa/certificates.js';
import { reasonName } from '../shared/revocation-reasons.js';

export interface CertificateSummary {
  serial: string;
  subject: string;
  commonName: string;
  organization: string | null;
  profile: string;
  /** 证书种类 in Chinese and in English (the profile's names) */
  profileName: string;
  profileNameEn: string;
  uniqueId: string | null;
  issuer: string;
  notBefore: string;
  notAfter: string;
  status: 'valid' | 'revoked' | 'expired';
  /** a revoked certificate: the RFC 5280 reason name and when */
  revocationReason?: string;
  revokedAt?: string;
  daysLeft: number;
  /** signing: the usual certificate (from a CSR); encryption: the KMC-key half of an SM2 dual pair */
  usage: 'signing' | 'encryption';
  /** an encryption certificate: the serial of its signing certificate */
  signingSerial?: string;
  /** a signing certificate of an SM2 dual pair: its encryption certificate (签名证书 / 加密证书) */
  encryption?: CertificateSummary;
}

/** The 唯一识别号 a certificate carries (see pki/holder-identity.ts for where it is looked for). */
export const uniqueIdOf = (certDer: Buffer, uniqueIdOid: string | undefined): string | null =>
  readHolderIdentity(parseCertificate(certDer), { uniqueIdOid }).uniqueId;

export function summarise(
  rec: CertificateRecord,
  profileNames: { name: string; nameEn: string },
  uniqueIdOid: string | undefined,
  now = Date.now(),
): CertificateSummary {
  const parsed = parseCertificate(rec.der);
  const expired = rec.not_after < now;
  return {
    serial: rec.serial,
    subject: rec.subject,
    commonName: attributeValue(parsed.subject, 'CN') ?? rec.subject,
    organization: attributeValue(parsed.subject, 'O') ?? null,
    profile: rec.profile,
    profileName: profileNames.name,
    profileNameEn: profileNames.nameEn,
    uniqueId: readHolderIdentity(parsed, { uniqueIdOid }).uniqueId,
    issuer: nameToString(parsed.issuer),
    notBefore: new Date(rec.not_before).toISOString(),
    notAfter: new Date(rec.not_after).toISOString(),
    status: rec.status === 'revoked' ? 'revoked' : expired ? 'expired' : 'valid',
    ...(rec.status === 'revoked' && rec.revoked_at !== null
      ? { revocationReason: reasonName(rec.revocation_reason ?? 0), revokedAt: new Date(rec.revoked_at).toISOString() }
      : {}),
    daysLeft: Math.floor((rec.not_after - now) / 86_400_000),
    usage: rec.signing_serial ? 'encryption' : 'signing',
    ...(rec.signing_serial ? { signingSerial: rec.signing_serial } : {}),
  };
}
