// The renewal proof: when the key assistant asks for a renewed certificate it sends a CSR signed by
// the NEW key plus this proof signed by the OLD key (the one of the certificate being renewed), so the
// server knows the request comes from the holder of that key and is bound to one order and one CSR.
//
//   message = "certdesk-renewal-proof:v1\n" + orderId + "\n" + lowercase hex SHA-256 of the CSR DER
//
// The signature uses the old key's X.509 scheme (algorithms.ts signatureAlgorithmFor); for an SM2
// certificate that is SM2 with SM3 and the default user ID (sm2.ts), as OpenSSL's distid:1234567812345678.
import { createHash } from 'node:crypto';
import { keyTypeOfSpki, signatureAlgorithmFor, verifyWithAlgId } from './algorithms.js';
import { parseCertificate } from './certificate.js';
import * as der from './der.js';

export const RENEWAL_PROOF_PREFIX = 'certdesk-renewal-proof:v1';

/** Order ids that the proof (and the assistant's journal file names) accept. */
export const ORDER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export class RenewalProofError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RenewalProofError';
  }
}

/** The bytes the old key signs. */
export function renewalProofMessage(orderId: string, csrDer: Buffer): Buffer {
  if (!ORDER_ID_PATTERN.test(orderId)) {
    throw new RenewalProofError(
      'orderId must be 1–64 letters, digits, dots, dashes or underscores, starting with a letter or digit',
    );
  }
  const digest = createHash('sha256').update(csrDer).digest('hex');
  return Buffer.from(`${RENEWAL_PROOF_PREFIX}\n${orderId}\n${digest}`, 'utf8');
}

/** Signs the proof with any signer that produces the key's X.509 signature form. */
export async function buildRenewalProof(
  orderId: string,
  csrDer: Buffer,
  sign: (data: Buffer) => Buffer | Promise<Buffer>,
): Promise<Buffer> {
  return sign(renewalProofMessage(orderId, csrDer));
}

/** Server side: true when `signature` is the old certificate's key signing this order and CSR. */
export function verifyRenewalProof(opts: {
  orderId: string;
  csrDer: Buffer;
  signature: Buffer;
  oldCertificateDer: Buffer;
}): boolean {
  const cert = parseCertificate(opts.oldCertificateDer);
  const { keyType, key } = keyTypeOfSpki(cert.spki);
  const alg = signatureAlgorithmFor(keyType);
  return verifyWithAlgId(der.parse(alg.algId), key, renewalProofMessage(opts.orderId, opts.csrDer), opts.signature);
}
