// PKCS#10 certification requests: parse and verify (CA side), build (key assistant and tests).
import type { KeyObject } from 'node:crypto';
import * as der from './der.js';
import { AlgorithmError, keyTypeOfSpki, verifyWithAlgId, type KeyType } from './algorithms.js';
import { parseExtensions, type Extension } from './certificate.js';
import { decodeName, encodeName, type NameAttribute } from './name.js';
import { OID } from './oids.js';
import { checkSm2Signature, isSm2WithSm3, Sm2PublicKey } from './sm2.js';

export class CsrError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CsrError';
  }
}

export interface ParsedCsr {
  der: Buffer;
  subject: NameAttribute[];
  spki: Buffer;
  publicKey: KeyObject;
  keyType: KeyType;
  requestedExtensions: Extension[];
}

/** Parses a CSR and checks its self-signature; every failure is a CsrError saying what is wrong. */
export function parseCsr(input: Buffer): ParsedCsr {
  try {
    const root = der.parse(input);
    const [info, sigAlg, sig] = der.children(der.expect(root, der.Tag.SEQUENCE, 'CertificationRequest'));
    const infoNode = der.expect(info, der.Tag.SEQUENCE, 'CertificationRequestInfo');
    const [version, subject, spki, attrs] = der.children(infoNode);
    if (der.decodeSmallInt(version!) !== 0) throw new CsrError('CSR version must be 1 (0)');
    const spkiDer = der.raw(der.expect(spki, der.Tag.SEQUENCE, 'subjectPKInfo'));
    let keyType: KeyType;
    let publicKey: KeyObject;
    try {
      ({ keyType, key: publicKey } = keyTypeOfSpki(spkiDer));
    } catch (e) {
      throw new CsrError(`CSR public key: ${(e as Error).message}`);
    }
    const signature = der.decodeBitString(der.expect(sig, der.Tag.BIT_STRING, 'signature'));
    const sigAlgNode = der.expect(sigAlg, der.Tag.SEQUENCE, 'signatureAlgorithm');
    let ok = true;
    if (keyType === 'sm2') {
      if (!isSm2WithSm3(sigAlgNode)) {
        throw new CsrError('CSR with an SM2 key must be signed with SM2-with-SM3 (1.2.156.10197.1.501)');
      }
      // With the default ID; says so when the CSR was signed with the empty ID (OpenSSL 3.x without distid).
      const check = checkSm2Signature(Sm2PublicKey.fromSpki(spkiDer), der.raw(infoNode), signature);
      if (!check.ok) throw new CsrError(`CSR signature: ${check.error}`);
    } else {
      try {
        ok = verifyWithAlgId(sigAlgNode, publicKey, der.raw(infoNode), signature);
      } catch (e) {
        if (e instanceof AlgorithmError) throw new CsrError(`CSR ${e.message}`);
        throw e;
      }
    }
    if (!ok) throw new CsrError('CSR signature does not verify: the request was not signed by the key it carries');
    const requestedExtensions: Extension[] = [];
    if (attrs && attrs.tag === 0xa0) {
      for (const attr of der.children(attrs)) {
        const [t, values] = der.children(attr);
        if (der.decodeOid(t!) === OID.extensionRequest && values) {
          for (const v of der.children(values)) requestedExtensions.push(...parseExtensions(v));
        }
      }
    }
    return { der: input, subject: decodeName(subject!), spki: spkiDer, publicKey, keyType, requestedExtensions };
  } catch (e) {
    if (e instanceof CsrError) throw e;
    throw new CsrError(`CSR is not valid DER/PKCS#10: ${(e as Error).message}`);
  }
}

/** Builds a CSR; `sign` produces the signature over CertificationRequestInfo (maybe on a token). */
export async function buildCsr(opts: {
  subject: NameAttribute[];
  spki: Buffer;
  signatureAlgId: Buffer;
  sign: (data: Buffer) => Buffer | Promise<Buffer>;
}): Promise<Buffer> {
  const info = der.seq(der.int(0), encodeName(opts.subject), opts.spki, der.explicit(0));
  const signature = await opts.sign(info);
  return der.seq(info, opts.signatureAlgId, der.bitString(signature));
}
