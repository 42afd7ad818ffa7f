// Object identifiers used across the PKI code, by name.
export const OID = {
  // attribute types (RFC 5280 / X.520)
  commonName: '2.5.4.3',
  surname: '2.5.4.4',
  serialNumber: '2.5.4.5',
  countryName: '2.5.4.6',
  localityName: '2.5.4.7',
  stateOrProvinceName: '2.5.4.8',
  streetAddress: '2.5.4.9',
  organizationName: '2.5.4.10',
  organizationalUnitName: '2.5.4.11',
  title: '2.5.4.12',
  givenName: '2.5.4.42',
  emailAddress: '1.2.840.113549.1.9.1',
  // extensions
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  cRLNumber: '2.5.29.20',
  cRLReason: '2.5.29.21',
  issuingDistributionPoint: '2.5.29.28',
  cRLDistributionPoints: '2.5.29.31',
  certificatePolicies: '2.5.29.32',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  // access methods
  ocsp: '1.3.6.1.5.5.7.48.1',
  caIssuers: '1.3.6.1.5.5.7.48.2',
  ocspBasic: '1.3.6.1.5.5.7.48.1.1',
  ocspNonce: '1.3.6.1.5.5.7.48.1.2',
  ocspNoCheck: '1.3.6.1.5.5.7.48.1.5',
  // extended key usages
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
  // CSR attributes
  extensionRequest: '1.2.840.113549.1.9.14',
  // key and signature algorithms
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  sha384WithRSAEncryption: '1.2.840.113549.1.1.12',
  sha512WithRSAEncryption: '1.2.840.113549.1.1.13',
  sha1WithRSAEncryption: '1.2.840.113549.1.1.5',
  rsassaPss: '1.2.840.113549.1.1.10',
  ecPublicKey: '1.2.840.10045.2.1',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
  ecdsaWithSHA512: '1.2.840.10045.4.3.4',
  prime256v1: '1.2.840.10045.3.1.7',
  secp384r1: '1.3.132.0.34',
  sm2Curve: '1.2.156.10197.1.301',
  sm2WithSM3: '1.2.156.10197.1.501',
  // digests (OCSP CertID)
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  sm3: '1.2.156.10197.1.401',
  // symmetric ciphers (SM2EnvelopedKey)
  sm4: '1.2.156.10197.1.104',
  sm4Ecb: '1.2.156.10197.1.104.1',
  // CMS (detached signatures on downloads and the key assistant's configuration)
  cmsData: '1.2.840.113549.1.7.1',
  cmsSignedData: '1.2.840.113549.1.7.2',
  // policies
  anyPolicy: '2.5.29.32.0',
} as const;

export type OidName = keyof typeof OID;

const byOid = new Map<string, string>(Object.entries(OID).map(([k, v]) => [v, k]));
export const oidName = (dotted: string): string => byOid.get(dotted) ?? dotted;

const MAX_ARC = 2n ** 31n - 1n;

/**
 * Why a dotted OID would be refused by common verifiers, or null when it is fine. Go's
 * encoding/asn1 (crypto/x509) rejects any arc above 2^31 − 1 — the first two arcs share one
 * subidentifier (40·first + second) — and X.660 allows first arcs 0–2, second arcs 0–39 under 0
 * and 1. Certificates with such an OID fail in Go ("malformed extension OID field") and GnuTLS.
 */
export function oidProblem(dotted: string): string | null {
  if (!/^(0|[1-9]\d*)(\.(0|[1-9]\d*))+$/.test(dotted)) return 'is not a dotted OID (decimal arcs, no leading zeros)';
  const arcs = dotted.split('.').map((a) => BigInt(a));
  if (arcs[0]! > 2n) return `has first arc ${arcs[0]}; only 0, 1 and 2 exist`;
  if (arcs[0]! < 2n && arcs[1]! >= 40n) return `has second arc ${arcs[1]} under ${arcs[0]}; it must be below 40`;
  if (arcs[0]! * 40n + arcs[1]! > MAX_ARC)
    return `has first arcs ${arcs[0]}.${arcs[1]} too large for Go's crypto/x509 (40·first + second ≥ 2^31)`;
  const big = arcs.slice(2).find((a) => a > MAX_ARC);
  if (big !== undefined) return `has arc ${big} ≥ 2^31, which Go's crypto/x509 and GnuTLS cannot parse`;
  return null;
}
