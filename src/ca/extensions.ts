// Encoders for the X.509 extensions our certificates, CRLs and OCSP responses carry.
import * as der from '../pki/der.js';
import { OID } from '../pki/oids.js';

export function extension(oidStr: string, critical: boolean, value: Buffer): Buffer {
  return critical
    ? der.seq(der.oid(oidStr), der.bool(true), der.octetString(value))
    : der.seq(der.oid(oidStr), der.octetString(value));
}

export const KEY_USAGE_BITS = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
} as const;
export type KeyUsageName = keyof typeof KEY_USAGE_BITS;

export const keyUsage = (names: KeyUsageName[]): Buffer =>
  extension(OID.keyUsage, true, der.namedBits(names.map((n) => KEY_USAGE_BITS[n])));

export const EKU_NAMES: Record<string, string> = {
  serverAuth: OID.serverAuth,
  clientAuth: OID.clientAuth,
  codeSigning: OID.codeSigning,
  emailProtection: OID.emailProtection,
  timeStamping: OID.timeStamping,
  ocspSigning: OID.ocspSigning,
};

export const extKeyUsage = (purposes: string[]): Buffer =>
  extension(OID.extKeyUsage, false, der.seq(...purposes.map((p) => der.oid(EKU_NAMES[p] ?? p))));

export function basicConstraints(ca: boolean, pathLen?: number): Buffer {
  const parts: Buffer[] = [];
  if (ca) parts.push(der.bool(true));
  if (ca && pathLen !== undefined) parts.push(der.int(pathLen));
  return extension(OID.basicConstraints, true, der.seq(...parts));
}

export const subjectKeyIdentifier = (keyId: Buffer): Buffer => extension(OID.subjectKeyIdentifier, false, der.octetString(keyId));
export const authorityKeyIdentifier = (keyId: Buffer): Buffer =>
  extension(OID.authorityKeyIdentifier, false, der.seq(der.implicitPrimitive(0, keyId)));

export const certificatePolicies = (oids: string[]): Buffer =>
  extension(OID.certificatePolicies, false, der.seq(...oids.map((o) => der.seq(der.oid(o)))));

/** uniformResourceIdentifier [6] IA5String */
const uri = (u: string): Buffer => der.implicitPrimitive(6, Buffer.from(u, 'latin1'));

export const crlDistributionPoints = (url: string): Buffer =>
  // DistributionPoint { distributionPoint [0] { fullName [0] GeneralNames } }
  extension(OID.cRLDistributionPoints, false, der.seq(der.seq(der.explicit(0, der.tlv(0xa0, uri(url))))));

/**
 * A shard CRL's scope (RFC 5280 §5.2.5), critical: distributionPoint fullName holds exactly the URLs
 * its certificates carry in their CRL DP (relying parties look for one name in common: §6.3.3 b.2 —
 * one per PKI_URL the shard's certificates were issued under), and onlyContainsUserCerts, since an
 * issuing CA's shards list end-entity certificates only.
 */
export const issuingDistributionPoint = (urls: string[]): Buffer =>
  extension(
    OID.issuingDistributionPoint,
    true,
    der.seq(der.explicit(0, der.tlv(0xa0, ...urls.map(uri))), der.implicitPrimitive(1, Buffer.from([0xff]))),
  );

export function authorityInfoAccess(ocspUrl: string | undefined, caIssuersUrl: string): Buffer {
  const ads: Buffer[] = [];
  if (ocspUrl) ads.push(der.seq(der.oid(OID.ocsp), uri(ocspUrl)));
  ads.push(der.seq(der.oid(OID.caIssuers), uri(caIssuersUrl)));
  return extension(OID.authorityInfoAccess, false, der.seq(...ads));
}

export const ocspNoCheck = (): Buffer => extension(OID.ocspNoCheck, false, der.nullValue());

/**
 * The holder's 唯一识别号 in a non-critical extension whose extnValue is a DER PrintableString — the
 * GM/T 0015 identity extensions' form (vendor readers strip a 0x13 or 0x0c header). The ID's
 * characters (letters, digits, dashes) are all PrintableString.
 */
export const identityCode = (oidStr: string, id: string): Buffer => extension(oidStr, false, der.printableString(id));

export const crlNumber = (n: number): Buffer => extension(OID.cRLNumber, false, der.int(n));
