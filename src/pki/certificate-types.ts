// The built-in certificate types (证书种类): the CA's default profiles take their names from here,
// and the key assistant (which must not import src/ca) names a certificate on a key by them.
import type { HolderKind } from './holder-identity.js';

export interface CertificateType {
  id: string;
  name: string;
  nameEn: string;
  holderKind: HolderKind;
}

export const BUILT_IN_CERTIFICATE_TYPES: readonly CertificateType[] = [
  { id: 'org-identity', name: '单位身份证书', nameEn: 'Organisation identity certificate', holderKind: 'org' },
  { id: 'personal-identity', name: '个人身份证书', nameEn: 'Personal identity certificate', holderKind: 'person' },
  // an SM2 dual pair: signing certificate + encryption certificate (KMC key), see docs/PROFILES.md
  {
    id: 'org-identity-sm2',
    name: '单位身份证书（SM2 双证书）',
    nameEn: 'Organisation identity certificate (SM2 dual)',
    holderKind: 'org',
  },
];

/** The plain (single-certificate) built-in type for a holder kind. */
export const builtInTypeFor = (kind: HolderKind): CertificateType =>
  BUILT_IN_CERTIFICATE_TYPES.find((t) => t.holderKind === kind)!;
