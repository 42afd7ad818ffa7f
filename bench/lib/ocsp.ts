// Reading OCSP responses in the benchmark (RFC 6960): enough to check what a responder answered.
import { createHash } from 'node:crypto';
import { subjectPublicKeyBits } from '../../src/pki/algorithms.js';
import * as der from '../../src/pki/der.js';
import { OID } from '../../src/pki/oids.js';

export type CertStatusKind = 'good' | 'revoked' | 'unknown';

export interface ParsedOcspResponse {
  /** OCSPResponseStatus: 0 successful */
  status: number;
  certStatuses: CertStatusKind[];
  thisUpdate: Date[];
  /** the nonce extension's extnValue (as the request carried it) */
  nonce: Buffer | undefined;
}

export function parseOcspResponse(body: Buffer): ParsedOcspResponse {
  const [statusNode, bytes] = der.children(der.parse(body));
  const status = der.content(der.expect(statusNode, der.Tag.ENUMERATED, 'responseStatus'))[0] ?? -1;
  if (status !== 0 || !bytes) return { status, certStatuses: [], thisUpdate: [], nonce: undefined };
  const [, octets] = der.children(der.children(bytes)[0]!);
  const basic = der.parse(der.content(der.expect(octets, der.Tag.OCTET_STRING, 'response')));
  const [tbs] = der.children(basic);
  const parts = der.children(tbs!);
  let i = 0;
  if (parts[i]?.tag === 0xa0) i++; // version
  i++; // responderID
  i++; // producedAt
  const singles = der.children(parts[i++]!);
  const certStatuses: CertStatusKind[] = [];
  const thisUpdate: Date[] = [];
  for (const s of singles) {
    const [, st, tu] = der.children(s);
    certStatuses.push(st!.tag === 0x80 ? 'good' : st!.tag === 0xa1 ? 'revoked' : 'unknown');
    thisUpdate.push(der.decodeTime(tu!));
  }
  let nonce: Buffer | undefined;
  const exts = parts[i];
  if (exts?.tag === 0xa1) {
    for (const e of der.children(der.children(exts)[0]!)) {
      const p = der.children(e);
      if (der.decodeOid(p[0]!) === OID.ocspNonce) nonce = der.content(p[p.length - 1]!);
    }
  }
  return { status, certStatuses, thisUpdate, nonce };
}

/** Cheap per-response check for the load loop: a successful OCSPResponse that carries `nonce`. */
export function quickCheck(body: Buffer, nonce: Buffer | undefined): boolean {
  // SEQUENCE { ENUMERATED 0, [0] … }: the status follows the outer header.
  if (body.length < 8 || body[0] !== 0x30) return false;
  const off = body[1]! < 0x80 ? 2 : 2 + (body[1]! & 0x7f);
  if (body[off] !== 0x0a || body[off + 1] !== 0x01 || body[off + 2] !== 0x00) return false;
  return nonce === undefined || body.indexOf(nonce) > 0;
}

/**
 * An OCSPRequest for one serial, as `openssl ocsp -no_nonce` sends it: SHA-1 CertID of the issuer's
 * subject name and public key bits.
 */
export function ocspRequest(issuer: { subjectDer: Buffer; spki: Buffer }, serialHex: string): Buffer {
  const sha1 = (b: Buffer): Buffer => createHash('sha1').update(b).digest();
  const certId = der.seq(
    der.seq(der.oid('1.3.14.3.2.26'), der.nullValue()),
    der.octetString(sha1(issuer.subjectDer)),
    der.octetString(sha1(subjectPublicKeyBits(issuer.spki))),
    der.intFromUnsigned(Buffer.from(serialHex, 'hex')),
  );
  return der.seq(der.seq(der.seq(der.seq(certId))));
}
