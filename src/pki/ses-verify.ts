// Verifying an electronic seal the way GB/T 38540 §(seal verification) orders the checks: format,
// the maker's signature over what it signs, the maker's certificate, the seal's validity. The first
// check that fails is reported by name, so `certdesk seal verify` and relying software can say
// exactly why a seal is refused.
import { parseCertificate, type ParsedCertificate } from './certificate.js';
import { keyUsagesOf } from './key-usage.js';
import { OID } from './oids.js';
import { checkSm2Signature, Sm2PublicKey } from './sm2.js';
import { parseSeal, type ParsedSeal } from './ses-seal.js';

export type SealCheck =
  | 'format'
  | 'signature-algorithm'
  | 'maker-certificate'
  | 'maker-signature'
  | 'maker-issuer'
  | 'maker-validity'
  | 'maker-key-usage'
  | 'holder-certificates'
  | 'seal-validity';

export type SealVerification =
  | { ok: true; seal: ParsedSeal; maker: ParsedCertificate; holders: ParsedCertificate[] }
  | { ok: false; failedCheck: SealCheck; reason: string; seal?: ParsedSeal };

export interface SealVerifyOptions {
  now?: Date;
  /** CA certificates one of which must have issued the maker's certificate; omitted: not checked */
  makerIssuers?: Buffer[];
}

const bad = (failedCheck: SealCheck, reason: string, seal?: ParsedSeal): SealVerification => ({
  ok: false,
  failedCheck,
  reason,
  ...(seal ? { seal } : {}),
});

/** True when `issuerDer`'s SM2 key signed `cert`. */
export function sm2IssuedBy(cert: ParsedCertificate, issuerDer: Buffer): boolean {
  try {
    const issuer = parseCertificate(issuerDer);
    if (!issuer.subjectDer.equals(cert.issuerDer)) return false;
    return checkSm2Signature(Sm2PublicKey.fromSpki(issuer.spki), cert.tbs, cert.signature).ok;
  } catch {
    return false;
  }
}

export function verifySeal(input: Buffer, opts: SealVerifyOptions = {}): SealVerification {
  const now = opts.now ?? new Date();
  let seal: ParsedSeal;
  try {
    seal = parseSeal(input);
  } catch (e) {
    return bad('format', e instanceof Error ? e.message : String(e));
  }
  if (seal.signatureAlgorithm !== OID.sm2WithSM3)
    return bad(
      'signature-algorithm',
      `signature algorithm ${seal.signatureAlgorithm} is not SM2-with-SM3 (${OID.sm2WithSM3})`,
      seal,
    );
  let maker: ParsedCertificate;
  let makerKey: Sm2PublicKey;
  try {
    maker = parseCertificate(seal.makerCert);
    makerKey = Sm2PublicKey.fromSpki(maker.spki);
  } catch (e) {
    return bad(
      'maker-certificate',
      `the maker certificate is not an SM2 X.509 certificate: ${e instanceof Error ? e.message : e}`,
      seal,
    );
  }
  const sig = checkSm2Signature(makerKey, seal.signedBytes, seal.signature);
  if (!sig.ok) return bad('maker-signature', `the maker's signature over the seal information: ${sig.error}`, seal);
  if (opts.makerIssuers && !opts.makerIssuers.some((ca) => sm2IssuedBy(maker, ca)))
    return bad('maker-issuer', 'the maker certificate was not issued by a trusted CA', seal);
  if (maker.notBefore > now || maker.notAfter < now)
    return bad(
      'maker-validity',
      `the maker certificate is valid ${maker.notBefore.toISOString()} – ${maker.notAfter.toISOString()}, not now`,
      seal,
    );
  const usages = keyUsagesOf(maker);
  if (usages && !usages.has('digitalSignature'))
    return bad('maker-key-usage', 'the maker certificate does not allow digitalSignature', seal);
  let holders: ParsedCertificate[] = [];
  if (seal.certListType === 1) {
    try {
      holders = seal.certList.map((c) => parseCertificate(c));
    } catch (e) {
      return bad('holder-certificates', `a certificate in certList does not parse: ${e instanceof Error ? e.message : e}`, seal);
    }
  }
  if (seal.validStart > now || seal.validEnd < now)
    return bad(
      'seal-validity',
      `the seal is valid ${seal.validStart.toISOString()} – ${seal.validEnd.toISOString()}, not at ${now.toISOString()}`,
      seal,
    );
  return { ok: true, seal, maker, holders };
}
