// Detached signatures as CMS SignedData (RFC 5652) without signed attributes: the signature is over
// the file's bytes themselves, and the signer's certificate travels inside. OpenSSL checks one with
// `openssl cms -verify -binary -inform DER -in FILE.p7s -content FILE -CAfile root.pem -purpose any`.
// The CA signs its downloads (the key assistant) and the assistant's configuration this way.
import * as der from './der.js';
import { keyTypeOfSpki, verifyWithAlgId, type SignatureAlgorithm } from './algorithms.js';
import { parseCertificate, type ParsedCertificate } from './certificate.js';
import { OID } from './oids.js';

const DIGEST_OID: Record<string, string> = { sha256: OID.sha256, sha384: OID.sha384, sha512: OID.sha512, sm3: OID.sm3 };

export class DetachedSignatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DetachedSignatureError';
  }
}

/** Wraps a signature over `content` made by the key of `signerCert` (DER) with `algorithm`. */
export function buildDetachedSignature(signerCert: Buffer, algorithm: SignatureAlgorithm, signature: Buffer): Buffer {
  const cert = parseCertificate(signerCert);
  const digestOid = DIGEST_OID[algorithm.digest];
  if (!digestOid) throw new DetachedSignatureError(`no CMS digest for ${algorithm.digest}`);
  const digestAlg = der.seq(der.oid(digestOid));
  const signerInfo = der.seq(
    der.int(1),
    der.seq(cert.issuerDer, der.intFromUnsigned(Buffer.from(cert.serialHex, 'hex'))),
    digestAlg,
    algorithm.algId,
    der.octetString(signature),
  );
  const signedData = der.seq(
    der.int(1),
    der.setOf(digestAlg),
    der.seq(der.oid(OID.cmsData)),
    der.tlv(0xa0, signerCert),
    der.setOf(signerInfo),
  );
  return der.seq(der.oid(OID.cmsSignedData), der.explicit(0, signedData));
}

export interface VerifiedSignature {
  signer: ParsedCertificate;
  /** the trusted root the signer chains to (the signer itself when it is one) */
  root: ParsedCertificate;
}

function sameKeyAndName(a: ParsedCertificate, b: ParsedCertificate): boolean {
  return a.subjectDer.equals(b.subjectDer) && a.spki.equals(b.spki);
}

/**
 * Checks `p7s` over `content`: the signature with the signer certificate's key, and the signer
 * certificate issued by one of `roots` (or one of them) and valid `at`. Throws saying what failed.
 */
export function verifyDetachedSignature(p7s: Buffer, content: Buffer, roots: Buffer[], at = new Date()): VerifiedSignature {
  let signerCert: ParsedCertificate;
  let sigAlg: der.Node;
  let signature: Buffer;
  try {
    const [type, wrapped] = der.children(der.expect(der.parse(p7s), der.Tag.SEQUENCE, 'ContentInfo'));
    if (der.decodeOid(type!) !== OID.cmsSignedData) throw new DetachedSignatureError('not a CMS SignedData');
    const fields = der.children(der.expect(der.children(wrapped!)[0], der.Tag.SEQUENCE, 'SignedData'));
    const encap = der.children(der.expect(fields[2], der.Tag.SEQUENCE, 'EncapsulatedContentInfo'));
    if (encap.length > 1) throw new DetachedSignatureError('the signature carries content: a detached one was expected');
    const certs = fields[3]?.tag === 0xa0 ? der.children(fields[3]).map((n) => parseCertificate(der.raw(n))) : [];
    const infos = der.children(der.expect(fields[fields.length - 1], der.Tag.SET, 'SignerInfos'));
    if (infos.length !== 1) throw new DetachedSignatureError(`expected one signer, found ${infos.length}`);
    const info = der.children(der.expect(infos[0], der.Tag.SEQUENCE, 'SignerInfo'));
    const [issuer, serial] = der.children(der.expect(info[1], der.Tag.SEQUENCE, 'IssuerAndSerialNumber'));
    const found = certs.find((c) => c.issuerDer.equals(der.raw(issuer!)) && c.serialHex === der.decodeIntHex(serial!));
    if (!found) throw new DetachedSignatureError("the signer's certificate is not in the signature");
    if (info[3]?.tag === 0xa0) throw new DetachedSignatureError('signed attributes are not supported');
    signerCert = found;
    sigAlg = der.expect(info[3], der.Tag.SEQUENCE, 'signatureAlgorithm');
    signature = der.content(der.expect(info[4], der.Tag.OCTET_STRING, 'signature'));
  } catch (e) {
    if (e instanceof DetachedSignatureError) throw e;
    throw new DetachedSignatureError(`not a readable CMS detached signature: ${(e as Error).message}`);
  }
  if (at < signerCert.notBefore || at > signerCert.notAfter)
    throw new DetachedSignatureError(
      `the signer's certificate is not valid now (${signerCert.notBefore.toISOString()} – ${signerCert.notAfter.toISOString()})`,
    );
  const trusted = roots.map((r) => parseCertificate(r));
  const root = trusted.find(
    (r) =>
      sameKeyAndName(r, signerCert) ||
      (r.subjectDer.equals(signerCert.issuerDer) &&
        verifyWithAlgId(signerCert.signatureAlgId, keyTypeOfSpki(r.spki).key, signerCert.tbs, signerCert.signature)),
  );
  if (!root) throw new DetachedSignatureError("the signer's certificate was not issued by a trusted CA root");
  if (!verifyWithAlgId(sigAlg, keyTypeOfSpki(signerCert.spki).key, content, signature))
    throw new DetachedSignatureError('the signature does not match the file: it was changed after the CA signed it');
  return { signer: signerCert, root };
}
