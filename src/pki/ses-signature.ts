// Electronic signatures with a seal (电子签章): GB/T 38540-2020 SES_Signature v4. The holder's
// signing key signs the DER of TBS_Sign, which embeds the whole seal, the signing time and the SM3
// hash of the document (SEALS.md 1.2, 1.4). Pure codec so the assistant can build what it signs and
// the CA side (`certdesk seal verify-signature`) can check it with the same code.
import { parseCertificate, type ParsedCertificate } from './certificate.js';
import * as der from './der.js';
import { OID } from './oids.js';
import { parseSeal, SES_VERSION, type ParsedSeal } from './ses-seal.js';
import { verifySeal, type SealVerifyOptions } from './ses-verify.js';
import { checkSm2Signature, Sm2PublicKey } from './sm2.js';
import { SM3_SIZE, sm3 } from './sm3.js';

export class SignatureFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SignatureFormatError';
  }
}

export interface TbsSignInput {
  /** the SESeal DER the signature is made with */
  seal: Buffer;
  timeInfo: Date;
  /** SM3 of the signed document */
  dataHash: Buffer;
  /** free form; states what of the document is protected (the standard requires at least that) */
  propertyInfo: string;
}

export interface ParsedSignature {
  version: number;
  seal: ParsedSeal;
  timeInfo: Date;
  dataHash: Buffer;
  propertyInfo: string;
  signerCert: Buffer;
  signatureAlgorithm: string;
  signature: Buffer;
  /** DER of TBS_Sign: what the signer signed */
  tbsDer: Buffer;
  der: Buffer;
}

/** The DER of TBS_Sign v4: what the holder's key signs. */
export function encodeTbsSign(t: TbsSignInput): Buffer {
  if (t.dataHash.length !== SM3_SIZE)
    throw new SignatureFormatError(`dataHash must be an SM3 digest (${SM3_SIZE} bytes), got ${t.dataHash.length}`);
  if (!/^[\x20-\x7e]{1,512}$/.test(t.propertyInfo))
    throw new SignatureFormatError('propertyInfo must be 1–512 printable ASCII characters (IA5String)');
  const seal = parseSeal(t.seal);
  if (seal.layout !== 'v4') throw new SignatureFormatError('a v4 signature needs a GB/T 38540 (v4) seal');
  return der.seq(
    der.int(seal.version),
    seal.der,
    der.generalizedTime(t.timeInfo),
    der.bitString(t.dataHash),
    der.ia5String(t.propertyInfo),
  );
}

/** SES_Signature from the signed TBS_Sign, the signer's certificate and its SM2 signature (DER r,s). */
export function assembleSignature(tbsDer: Buffer, signerCertDer: Buffer, signature: Buffer): Buffer {
  return der.seq(tbsDer, der.octetString(signerCertDer), der.oid(OID.sm2WithSM3), der.bitString(signature));
}

export function parseSignature(input: Buffer): ParsedSignature {
  try {
    const top = der.expect(der.parse(input), der.Tag.SEQUENCE, 'SES_Signature');
    const parts = der.children(top);
    if (parts.length < 4 || parts.length > 5)
      throw new SignatureFormatError(`SES_Signature has ${parts.length} elements, a v4 signature has 4 or 5`);
    const [tbs, cert, alg, sig] = parts;
    const t = der.children(der.expect(tbs, der.Tag.SEQUENCE, 'TBS_Sign'));
    if (t.length < 5) throw new SignatureFormatError(`TBS_Sign has ${t.length} elements, needs at least 5`);
    const [ver, eseal, time, hash, prop] = t;
    return {
      version: der.decodeSmallInt(der.expect(ver, der.Tag.INTEGER, 'TBS_Sign.version')),
      seal: parseSeal(Buffer.from(der.raw(der.expect(eseal, der.Tag.SEQUENCE, 'TBS_Sign.eseal')))),
      timeInfo: der.decodeTime(der.expect(time, der.Tag.GENERALIZED_TIME, 'TBS_Sign.timeInfo')),
      dataHash: Buffer.from(der.decodeBitString(der.expect(hash, der.Tag.BIT_STRING, 'TBS_Sign.dataHash'))),
      propertyInfo: der.decodeString(der.expect(prop, der.Tag.IA5_STRING, 'TBS_Sign.propertyInfo')),
      signerCert: Buffer.from(der.content(der.expect(cert, der.Tag.OCTET_STRING, 'SES_Signature.cert'))),
      signatureAlgorithm: der.decodeOid(der.expect(alg, der.Tag.OID, 'SES_Signature.signatureAlgID')),
      signature: Buffer.from(der.decodeBitString(der.expect(sig, der.Tag.BIT_STRING, 'SES_Signature.signature'))),
      tbsDer: Buffer.from(der.raw(tbs!)),
      der: Buffer.from(der.raw(top)),
    };
  } catch (e) {
    if (e instanceof SignatureFormatError) throw e;
    throw new SignatureFormatError(`malformed SES_Signature: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export type SignatureCheck =
  | 'format'
  | 'version'
  | `seal-${string}`
  | 'signature-algorithm'
  | 'signer-certificate'
  | 'signer-in-seal'
  | 'signer-signature'
  | 'signer-validity'
  | 'data-hash';

export type SignatureVerification =
  | { ok: true; signature: ParsedSignature; signer: ParsedCertificate }
  | { ok: false; failedCheck: SignatureCheck; reason: string };

export interface SignatureVerifyOptions extends SealVerifyOptions {
  /** the signed document; when given its SM3 must equal dataHash */
  data?: Buffer;
}

/**
 * The checks in GB/T 38540's order: format, version agreement, the seal itself (at the signing
 * time), the signer is one of the seal's holders, the signer's signature over TBS_Sign, the
 * signer's certificate at the signing time, and the document hash. The first failure is named.
 */
export function verifySignature(input: Buffer, opts: SignatureVerifyOptions = {}): SignatureVerification {
  const bad = (failedCheck: SignatureCheck, reason: string): SignatureVerification => ({ ok: false, failedCheck, reason });
  let s: ParsedSignature;
  try {
    s = parseSignature(input);
  } catch (e) {
    return bad('format', e instanceof Error ? e.message : String(e));
  }
  if (s.version !== s.seal.version || s.version < SES_VERSION)
    return bad('version', `TBS_Sign.version ${s.version} does not match the seal's version ${s.seal.version}`);
  const sealCheck = verifySeal(s.seal.der, { ...opts, now: s.timeInfo });
  if (!sealCheck.ok) return bad(`seal-${sealCheck.failedCheck}`, `the seal: ${sealCheck.reason}`);
  if (s.signatureAlgorithm !== OID.sm2WithSM3)
    return bad('signature-algorithm', `signature algorithm ${s.signatureAlgorithm} is not SM2-with-SM3 (${OID.sm2WithSM3})`);
  let signer: ParsedCertificate;
  let key: Sm2PublicKey;
  try {
    signer = parseCertificate(s.signerCert);
    key = Sm2PublicKey.fromSpki(signer.spki);
  } catch (e) {
    return bad(
      'signer-certificate',
      `the signer certificate is not an SM2 X.509 certificate: ${e instanceof Error ? e.message : e}`,
    );
  }
  const inSeal =
    s.seal.certListType === 1
      ? s.seal.certList.some((c) => c.equals(s.signerCert))
      : s.seal.certList.some((d) => d.equals(sm3(s.signerCert)));
  if (!inSeal) return bad('signer-in-seal', "the signer certificate is not in the seal's certList");
  const sig = checkSm2Signature(key, s.tbsDer, s.signature);
  if (!sig.ok) return bad('signer-signature', `the signer's signature over TBS_Sign: ${sig.error}`);
  if (signer.notBefore > s.timeInfo || signer.notAfter < s.timeInfo)
    return bad(
      'signer-validity',
      `the signer certificate is valid ${signer.notBefore.toISOString()} – ${signer.notAfter.toISOString()}, not at the signing time ${s.timeInfo.toISOString()}`,
    );
  if (opts.data && !sm3(opts.data).equals(s.dataHash))
    return bad('data-hash', 'the SM3 hash of the document does not equal the signature’s dataHash');
  return { ok: true, signature: s, signer };
}
