// The keyUsage extension (RFC 5280 §4.2.1.3) read back, and what it says a certificate is for: of an
// SM2 dual pair (GM/T 0015), the signing certificate has digitalSignature / nonRepudiation, the
// encryption certificate keyEncipherment / dataEncipherment / keyAgreement and no digitalSignature.
import { findExtension, type ParsedCertificate } from './certificate.js';
import * as der from './der.js';
import { OID } from './oids.js';

export const KEY_USAGE_NAMES = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;
export type KeyUsage = (typeof KEY_USAGE_NAMES)[number];

/** The key usages a certificate names; null without a keyUsage extension (any use). */
export function keyUsagesOf(cert: ParsedCertificate): Set<KeyUsage> | null {
  const ext = findExtension(cert, OID.keyUsage);
  if (!ext) return null;
  const bytes = der.decodeBitString(der.parse(ext.value));
  const out = new Set<KeyUsage>();
  KEY_USAGE_NAMES.forEach((name, bit) => {
    if ((bytes[bit >> 3] ?? 0) & (0x80 >> (bit & 7))) out.add(name);
  });
  return out;
}

/** 'encryption' when the key may only encipher or agree keys (no digitalSignature), else 'signing'. */
export function certificateUsage(cert: ParsedCertificate): 'signing' | 'encryption' {
  const u = keyUsagesOf(cert);
  if (!u || u.has('digitalSignature')) return 'signing';
  return u.has('keyEncipherment') || u.has('dataEncipherment') || u.has('keyAgreement') ? 'encryption' : 'signing';
}
