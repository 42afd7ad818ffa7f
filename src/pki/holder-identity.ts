// Where a certificate carries its holder's 唯一识别号, and how to read it back — one reader for the
// CA/RA side, the portal and the key assistant (which must not import src/ca).
//
// We write it where every verifier parses it: the subject's serialNumber attribute (2.5.4.5); where
// the 唯一识别号 is a 统一社会信用代码 (org) or 居民身份证号 (person), also as the GM/T 0015 identity
// extension Chinese relying parties read; and, when the operator set UNIQUE_ID_OID (their own
// registered OID), in that extension too. Certificates issued before carry it in an extension under
// certdesk's UUID-derived arc (LEGACY_UNIQUE_ID_OID), which Go and GnuTLS cannot parse; we still read it.
import { findExtension, type ParsedCertificate } from './certificate.js';
import * as der from './der.js';
import { attributeValue } from './name.js';
import { OID } from './oids.js';

export type HolderKind = 'org' | 'person';

/** certdesk's old UUID-derived arc (ITU-T X.667): in certificates issued before, never written now. */
export const LEGACY_CERTDESK_ARC = '2.25.207427386145434213838012353926395166810';
/** The old 唯一识别号 extension (a UTF8String). */
export const LEGACY_UNIQUE_ID_OID = `${LEGACY_CERTDESK_ARC}.1.1`;
/** The old default certificate policies of the built-in profiles: how old certificates name their type. */
export const LEGACY_POLICY_KIND: Record<string, HolderKind> = {
  [`${LEGACY_CERTDESK_ARC}.2.1`]: 'org',
  [`${LEGACY_CERTDESK_ARC}.2.2`]: 'person',
};

/** GM/T 0015 private identity extensions (non-critical; extnValue is a DER string). */
export const GMT_IDENTITY_OID = {
  /** 个人身份标识码 (居民身份证号) — what we write for persons */
  personId: '1.2.156.10260.4.1.1',
  /** 企业组织机构代码, used by CAs for the 18-character 统一社会信用代码 — what we write for organisations */
  orgCode: '1.2.156.10260.4.1.4',
} as const;

/** Read as well: the GM/T 0015-2023 forms (resident ID card, USCC) and the 2012 企业工商注册号. */
const READ_IDENTITY_OIDS: [string, HolderKind][] = [
  [GMT_IDENTITY_OID.orgCode, 'org'],
  ['1.2.156.10260.4.4', 'org'],
  ['1.2.156.10260.4.1.3', 'org'],
  [GMT_IDENTITY_OID.personId, 'person'],
  ['1.2.156.10260.4.1.1.1', 'person'],
];

const USCC_CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/** A 统一社会信用代码 (GB 32100-2015): 18 characters with its check character. */
export function isUscc(s: string): boolean {
  if (!/^[0-9A-HJ-NPQRTUWXY]{18}$/.test(s)) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += USCC_CHARS.indexOf(s[i]!) * USCC_WEIGHTS[i]!;
  return USCC_CHARS[(31 - (sum % 31)) % 31] === s[17];
}

/** A 居民身份证号 (GB 11643-1999): 17 digits and the ISO 7064 MOD 11-2 check character. */
export function isResidentId(s: string): boolean {
  if (!/^\d{17}[\dX]$/.test(s)) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(s[i]) * (2 ** (17 - i) % 11);
  return '10X98765432'[sum % 11] === s[17];
}

/** The GM/T 0015 extension to write for this holder, when the 唯一识别号 is a code it names. */
export function identityExtensionOid(kind: HolderKind, uniqueId: string): string | undefined {
  if (kind === 'org') return isUscc(uniqueId) ? GMT_IDENTITY_OID.orgCode : undefined;
  return isResidentId(uniqueId) ? GMT_IDENTITY_OID.personId : undefined;
}

function stringExtension(cert: ParsedCertificate, oid: string): string | null {
  const ext = findExtension(cert, oid);
  if (!ext) return null;
  try {
    return der.decodeString(der.parse(ext.value)) || null;
  } catch {
    return null;
  }
}

export interface HolderIdentity {
  uniqueId: string | null;
  /** from the identity extension or the old policies; null when the certificate does not say */
  kind: HolderKind | null;
}

/**
 * The 唯一识别号 of a certificate: the operator's extension (`uniqueIdOid`, when configured), the
 * GM/T 0015 identity extension, the subject's serialNumber. A certificate that carries the legacy
 * extension was issued before serialNumber held the 唯一识别号, so there the extension wins (a
 * serialNumber in it, if any, was the requester's own).
 */
export function readHolderIdentity(cert: ParsedCertificate, opts: { uniqueIdOid?: string | undefined } = {}): HolderIdentity {
  let kind: HolderKind | null = null;
  let fromIdentityExt: string | null = null;
  for (const [oid, k] of READ_IDENTITY_OIDS) {
    const v = stringExtension(cert, oid);
    if (v) {
      fromIdentityExt = v;
      kind = k;
      break;
    }
  }
  if (!kind) {
    const policies = findExtension(cert, OID.certificatePolicies);
    if (policies) kind = legacyPolicyKind(policies.value);
  }
  const uniqueId =
    (opts.uniqueIdOid ? stringExtension(cert, opts.uniqueIdOid) : null) ??
    fromIdentityExt ??
    stringExtension(cert, LEGACY_UNIQUE_ID_OID) ??
    attributeValue(cert.subject, 'serialNumber') ??
    null;
  return { uniqueId, kind };
}

/** The policy OIDs of a certificatePolicies extension value (empty when it does not parse). */
export function policyOids(value: Buffer): string[] {
  try {
    return der.children(der.parse(value)).map((pi) => der.decodeOid(der.children(pi)[0]!));
  } catch {
    return [];
  }
}

function legacyPolicyKind(value: Buffer): HolderKind | null {
  for (const p of policyOids(value)) if (LEGACY_POLICY_KIND[p]) return LEGACY_POLICY_KIND[p];
  return null;
}
