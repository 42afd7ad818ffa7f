// How a certificate is described to holders (名称, 证书种类, 唯一识别号, validity …), one shape for
// the portal, the CLI and the key assistant's server side.
import { findExtension, parseCertificate } from '../pki/certificate.js';
import * as der from '../pki/der.js';
import { attributeValue, nameToString } from '../pki/name.js';
import type { CertificateRecord } from '../sa/certificates.js';

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
  daysLeft: number;
}

export function uniqueIdOf(certDer: Buffer, oid: string): string | null {
  const ext = findExtension(parseCertificate(certDer), oid);
  if (!ext) return null;
  try {
    return der.decodeString(der.parse(ext.value));
  } catch {
    return null;
  }
}

export function summarise(
  rec: CertificateRecord,
  profileNames: { name: string; nameEn: string },
  uniqueIdOid: string,
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
    uniqueId: uniqueIdOf(rec.der, uniqueIdOid),
    issuer: nameToString(parsed.issuer),
    notBefore: new Date(rec.not_before).toISOString(),
    notAfter: new Date(rec.not_after).toISOString(),
    status: rec.status === 'revoked' ? 'revoked' : expired ? 'expired' : 'valid',
    daysLeft: Math.floor((rec.not_after - now) / 86_400_000),
  };
}
