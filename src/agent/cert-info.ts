// What the UKey 管理 page, `certdesk token list` and GET /v1/tokens/:id/certificates show about a
// certificate on a key: 名称, 证书种类, 唯一识别号, issuer, serial, validity, days left, whether
// renewal is open (shared/renewal-window.ts with the catalogue's default days: the assistant does not
// know the CA's catalogue). Dates for display are Shanghai calendar days (shared/china-date.ts).
import { createHash } from 'node:crypto';
import { keyTypeOfSpki } from '../pki/algorithms.js';
import { findExtension, parseCertificate, type ParsedCertificate } from '../pki/certificate.js';
import { BUILT_IN_CERTIFICATE_TYPES, builtInTypeFor, type CertificateType } from '../pki/certificate-types.js';
import { policyOids, readHolderIdentity, type HolderKind } from '../pki/holder-identity.js';
import { certificateUsage } from '../pki/key-usage.js';
import { attributeValue, nameToString } from '../pki/name.js';
import { OID } from '../pki/oids.js';
import { chinaDate } from '../shared/china-date.js';
import { inRenewalWindow, renewalWindow } from '../shared/renewal-window.js';
import { ENCRYPTION_LABEL_SUFFIX, labelState, type StoredCertificate } from './tokens/driver.js';

const DAY_MS = 86_400_000;

export interface CertificateView {
  /** CKA_ID on the key, hex */
  id: string;
  label: string;
  /** current, or left by a renewal: pending (new, not yet switched) / retired (old, kept) */
  state: 'current' | 'pending' | 'retired';
  /** 名称: the subject CN (else O) */
  name: string;
  subject: string;
  organization: string | null;
  /** 证书种类 */
  profile: { id: string | null; name: string | null; nameEn: string | null; policies: string[] };
  /** 唯一识别号 */
  uniqueId: string | null;
  issuer: string;
  issuerName: string;
  /** uppercase hex, as printed on paper */
  serial: string;
  notBefore: string;
  notAfter: string;
  /** whole days until notAfter; negative once expired */
  daysLeft: number;
  expired: boolean;
  renewal: { open: boolean; opensAt: string; closesAt: string };
  /** the same instants as calendar days in Asia/Shanghai (YYYY-MM-DD), as token list and the portal show them */
  dates: { notBefore: string; notAfter: string; renewalOpens: string; renewalCloses: string };
  keyType: string | null;
  /** 签名证书 / 加密证书: from keyUsage (encipherment or key agreement without digitalSignature ⇒ encryption) */
  usage: 'signing' | 'encryption';
  /** an SM2 signing certificate's encryption partner on the same key (its id), else null */
  pairedWith: string | null;
  /** SHA-256 of the DER, hex */
  fingerprint: string;
  /** DER, base64 */
  certificate: string;
}

/**
 * The holder kind, and so the built-in 证书种类: from the GM/T 0015 identity extension or the old
 * policies when the certificate has them, else from the subject — an organisation's certificate
 * names the organisation (O, and CN = O when there is a CN); a person's has no O.
 */
function kindOf(cert: ParsedCertificate, fromCert: HolderKind | null): HolderKind | null {
  if (fromCert) return fromCert;
  const o = attributeValue(cert.subject, 'O');
  const cn = attributeValue(cert.subject, 'CN');
  if (!o) return cn ? 'person' : null;
  return !cn || cn === o ? 'org' : null;
}

export function describeCertificate(
  c: StoredCertificate,
  opts: { uniqueIdOid?: string | undefined; now?: Date } = {},
): CertificateView {
  const now = opts.now ?? new Date();
  const cert = parseCertificate(c.der);
  const policiesExt = findExtension(cert, OID.certificatePolicies);
  const policies = policiesExt ? policyOids(policiesExt.value) : [];
  const identity = readHolderIdentity(cert, { uniqueIdOid: opts.uniqueIdOid });
  const kind = kindOf(cert, identity.kind);
  let keyType: string | null = null;
  try {
    keyType = keyTypeOfSpki(cert.spki).keyType;
  } catch {
    // shown as unknown
  }
  const usage = certificateUsage(cert);
  // An encryption certificate is half of an SM2 dual pair; its signing half is named so in describeAll.
  const profile = kind ? (usage === 'encryption' && dualTypeFor(kind)) || builtInTypeFor(kind) : undefined;
  const w = renewalWindow(cert.notAfter);
  const msLeft = cert.notAfter.getTime() - now.getTime();
  return {
    id: c.id,
    label: c.label,
    state: labelState(c.label),
    name: attributeValue(cert.subject, 'CN') ?? attributeValue(cert.subject, 'O') ?? nameToString(cert.subject),
    subject: nameToString(cert.subject),
    organization: attributeValue(cert.subject, 'O') ?? null,
    profile: { id: profile?.id ?? null, name: profile?.name ?? null, nameEn: profile?.nameEn ?? null, policies },
    uniqueId: identity.uniqueId,
    issuer: nameToString(cert.issuer),
    issuerName: attributeValue(cert.issuer, 'CN') ?? nameToString(cert.issuer),
    serial: cert.serialHex.toUpperCase(),
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    daysLeft: msLeft >= 0 ? Math.floor(msLeft / DAY_MS) : -Math.ceil(-msLeft / DAY_MS),
    expired: msLeft < 0,
    renewal: { open: inRenewalWindow(w, now), opensAt: w.opensAt.toISOString(), closesAt: w.closesAt.toISOString() },
    dates: {
      notBefore: chinaDate(cert.notBefore),
      notAfter: chinaDate(cert.notAfter),
      renewalOpens: chinaDate(w.opensAt),
      renewalCloses: chinaDate(w.closesAt),
    },
    keyType,
    usage,
    pairedWith: null,
    fingerprint: createHash('sha256').update(c.der).digest('hex'),
    certificate: c.der.toString('base64'),
  };
}

/** Describes what parses; a certificate object that is not X.509 is reported, not fatal. */
export function describeAll(
  certs: StoredCertificate[],
  opts: { uniqueIdOid?: string | undefined; now?: Date } = {},
): CertificateView[] {
  const out: CertificateView[] = [];
  for (const c of certs) {
    try {
      out.push(describeCertificate(c, opts));
    } catch {
      // not a certificate we can read; skipped
    }
  }
  for (const v of out) {
    if (v.usage !== 'signing' || v.keyType !== 'sm2') continue;
    v.pairedWith = encryptionPartner(v, certs)?.id ?? null;
    const dual = v.pairedWith !== null && BUILT_IN_CERTIFICATE_TYPES.find((t) => t.id === `${v.profile.id}-sm2`);
    if (dual) v.profile = { ...v.profile, id: dual.id, name: dual.name, nameEn: dual.nameEn };
  }
  return out;
}

/** The SM2 dual-pair type of a holder kind (org-identity-sm2), when there is one. */
const dualTypeFor = (kind: HolderKind): CertificateType | undefined =>
  BUILT_IN_CERTIFICATE_TYPES.find((t) => t.id === `${builtInTypeFor(kind).id}-sm2`);

/**
 * The encryption certificate of an SM2 signing certificate among `certs`: SM2, for encryption, same
 * subject and issuer, and in the same renewal state — by label first (`<label>:enc`, the
 * assistant's convention), else the only one in that state.
 */
export function encryptionPartner(
  signing: { id: string; label: string; der?: Buffer; certificate?: string },
  certs: StoredCertificate[],
): StoredCertificate | undefined {
  const s = parseCertificate(signing.der ?? Buffer.from(signing.certificate ?? '', 'base64'));
  const candidates = certs.filter((c) => {
    if (c.id === signing.id && c.label === signing.label) return false;
    try {
      const e = parseCertificate(c.der);
      return (
        certificateUsage(e) === 'encryption' &&
        e.subjectDer.equals(s.subjectDer) &&
        e.issuerDer.equals(s.issuerDer) &&
        keyTypeOfSpki(e.spki).keyType === 'sm2'
      );
    } catch {
      return false;
    }
  });
  const byLabel = candidates.find((c) => c.label === `${signing.label}${ENCRYPTION_LABEL_SUFFIX}`);
  if (byLabel) return byLabel;
  const sameState = candidates.filter((c) => labelState(c.label) === labelState(signing.label));
  return sameState.length === 1 ? sameState[0] : undefined;
}
