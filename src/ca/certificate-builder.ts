// Assembling and signing certificates. The parts of a TBSCertificate that are the same for every
// certificate of one profile under one issuer (version, algorithm, issuer name, most extensions) are
// encoded once into a template; per certificate we only encode serial, validity, subject, key and SKI.
import { randomBytes } from 'node:crypto';
import * as der from '../pki/der.js';
import { keyIdentifier } from '../pki/algorithms.js';
import type { Signer } from '../signer/signer.js';
import * as ext from './extensions.js';

const VERSION_3 = der.explicit(0, der.int(2));

/** A positive serial of 127 random bits from the CSPRNG (RFC 5280 allows up to 20 octets). */
export function randomSerial(): Buffer {
  const b = randomBytes(16);
  b[0]! &= 0x7f;
  if (b[0] === 0) b[0] = 0x01; // keep the full 16 octets so every serial has the same length
  return b;
}

export interface TbsTemplate {
  /** version + signature AlgorithmIdentifier (fixed by the issuer key) */
  readonly algId: Buffer;
  readonly issuerName: Buffer;
  /** encoded extensions shared by every certificate from this template */
  readonly fixedExtensions: Buffer;
}

export function makeTemplate(issuer: { signer: Signer; subjectDer: Buffer }, fixedExtensions: Buffer[]): TbsTemplate {
  return { algId: issuer.signer.algorithm.algId, issuerName: issuer.subjectDer, fixedExtensions: Buffer.concat(fixedExtensions) };
}

export interface TbsVariables {
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
  subjectDer: Buffer;
  spki: Buffer;
  /** per-certificate extensions besides SKI (e.g. 唯一识别号) */
  extraExtensions?: Buffer[];
}

export function buildTbs(t: TbsTemplate, v: TbsVariables): Buffer {
  const exts = [t.fixedExtensions, ext.subjectKeyIdentifier(keyIdentifier(v.spki)), ...(v.extraExtensions ?? [])];
  return der.seq(
    VERSION_3,
    der.intFromUnsigned(v.serial),
    t.algId,
    t.issuerName,
    der.seq(der.time(v.notBefore), der.time(v.notAfter)),
    v.subjectDer,
    v.spki,
    der.explicit(3, der.seq(...exts)),
  );
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } */
export function assemble(tbs: Buffer, algId: Buffer, signature: Buffer): Buffer {
  return der.seq(tbs, algId, der.bitString(signature));
}

export async function signTbs(signer: Signer, tbs: Buffer): Promise<Buffer> {
  return assemble(tbs, signer.algorithm.algId, await signer.sign(tbs));
}

/** Whole-second times: DER times carry seconds, and the database should match the certificate. */
export const wholeSeconds = (ms: number): Date => new Date(Math.floor(ms / 1000) * 1000);
