// OCSP (RFC 6960) wire format: parsing requests and encoding responses.
import * as der from '../pki/der.js';
import { OID } from '../pki/oids.js';

export class OcspRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OcspRequestError';
  }
}

export type CertIdHash = 'sha1' | 'sha256' | 'sha384' | 'sha512';
export const CERT_ID_HASHES: CertIdHash[] = ['sha1', 'sha256', 'sha384', 'sha512'];
/** By the DER encoding of the algorithm OID: requests are matched byte for byte, not decoded. */
const HASH_BY_OID_DER = new Map<string, CertIdHash>(CERT_ID_HASHES.map((h) => [der.oid(OID[h]).toString('latin1'), h]));
const NONCE_OID = der.oid(OID.ocspNonce);

export interface CertId {
  hash: CertIdHash;
  issuerNameHash: Buffer;
  issuerKeyHash: Buffer;
  serialHex: string;
  /** the CertID exactly as the client sent it, echoed in the response */
  raw: Buffer;
}

export interface OcspRequest {
  certIds: CertId[];
  /** the nonce extension's extnValue, echoed verbatim */
  nonce: Buffer | undefined;
}

export const MAX_CERT_IDS = 10;

export function parseOcspRequest(buf: Buffer): OcspRequest {
  try {
    const root = der.parse(buf);
    const [tbsNode] = der.children(der.expect(root, der.Tag.SEQUENCE, 'OCSPRequest'));
    const tbs = der.children(der.expect(tbsNode, der.Tag.SEQUENCE, 'TBSRequest'));
    let i = 0;
    if (tbs[i]?.tag === 0xa0) {
      if (der.decodeSmallInt(der.children(tbs[i]!)[0]!) !== 0) throw new OcspRequestError('unsupported OCSP version');
      i++;
    }
    if (tbs[i]?.tag === 0xa1) i++; // requestorName
    const list = der.children(der.expect(tbs[i++], der.Tag.SEQUENCE, 'requestList'));
    if (list.length === 0) throw new OcspRequestError('requestList is empty');
    if (list.length > MAX_CERT_IDS) throw new OcspRequestError(`more than ${MAX_CERT_IDS} certificates in one request`);
    const certIds = list.map((req) => {
      const [cid] = der.children(der.expect(req, der.Tag.SEQUENCE, 'Request'));
      const [alg, nameHash, keyHash, serial] = der.children(der.expect(cid, der.Tag.SEQUENCE, 'CertID'));
      const algNode = der.expect(der.children(der.expect(alg, der.Tag.SEQUENCE, 'hashAlgorithm'))[0], der.Tag.OID, 'hash OID');
      const hash = HASH_BY_OID_DER.get(der.raw(algNode).toString('latin1'));
      if (!hash) throw new OcspRequestError(`unsupported CertID hash algorithm ${der.decodeOid(algNode)}`);
      return {
        hash,
        issuerNameHash: der.content(der.expect(nameHash, der.Tag.OCTET_STRING, 'issuerNameHash')),
        issuerKeyHash: der.content(der.expect(keyHash, der.Tag.OCTET_STRING, 'issuerKeyHash')),
        serialHex: der.decodeIntHex(serial!),
        raw: der.raw(cid!),
      };
    });
    let nonce: Buffer | undefined;
    const extsWrapper = tbs[i];
    if (extsWrapper?.tag === 0xa2) {
      for (const e of der.children(der.children(extsWrapper)[0]!)) {
        const parts = der.children(e);
        if (der.raw(der.expect(parts[0], der.Tag.OID, 'extnID')).equals(NONCE_OID)) {
          const v = der.content(der.expect(parts[parts.length - 1], der.Tag.OCTET_STRING, 'nonce extnValue'));
          if (v.length > 128) throw new OcspRequestError('nonce is longer than 128 bytes');
          nonce = v;
        }
      }
    }
    return { certIds, nonce };
  } catch (e) {
    if (e instanceof OcspRequestError) throw e;
    throw new OcspRequestError(`malformed OCSP request: ${(e as Error).message}`);
  }
}

/** OCSPResponseStatus values other than successful: the response is just the status. */
export const OcspStatus = {
  malformedRequest: 1,
  internalError: 2,
  tryLater: 3,
  sigRequired: 5,
  unauthorized: 6,
} as const;

export function errorResponse(status: number): Buffer {
  return der.seq(der.enumerated(status));
}

export type SingleStatus = { kind: 'good' } | { kind: 'unknown' } | { kind: 'revoked'; at: number; reason: number | null };

const GOOD = Buffer.from([0x80, 0x00]);
const UNKNOWN = Buffer.from([0x82, 0x00]);

export function encodeSingleResponse(certIdRaw: Buffer, status: SingleStatus, thisUpdate: Date, nextUpdate: Date): Buffer {
  let st: Buffer;
  if (status.kind === 'good') st = GOOD;
  else if (status.kind === 'unknown') st = UNKNOWN;
  else {
    const parts = [der.generalizedTime(new Date(status.at))];
    if (status.reason !== null) parts.push(der.explicit(0, der.enumerated(status.reason)));
    st = der.tlv(0xa1, ...parts);
  }
  return der.seq(certIdRaw, st, generalizedTime(thisUpdate), der.explicit(0, generalizedTime(nextUpdate)));
}

const BASIC_OID = der.oid(OID.ocspBasic);
const SUCCESSFUL = der.enumerated(0);

// thisUpdate, nextUpdate and producedAt are whole seconds shared by every response of that second.
const timeCache = new Map<number, Buffer>();
function generalizedTime(d: Date): Buffer {
  const ms = d.getTime();
  let t = timeCache.get(ms);
  if (!t) {
    if (timeCache.size >= 16) timeCache.clear();
    t = der.generalizedTime(d);
    timeCache.set(ms, t);
  }
  return t;
}

/** ResponseData with responderID byKey; the caller signs it and wraps it with wrapBasicResponse. */
export function encodeResponseData(
  responderKeyHash: Buffer,
  producedAt: Date,
  singles: Buffer[],
  nonce: Buffer | undefined,
): Buffer {
  const parts = [der.explicit(2, der.octetString(responderKeyHash)), generalizedTime(producedAt), der.seq(...singles)];
  if (nonce) parts.push(der.explicit(1, der.seq(der.seq(NONCE_OID, der.octetString(nonce)))));
  return der.seq(...parts);
}

/**
 * OCSPResponse { successful, responseBytes { id-pkix-ocsp-basic, BasicOCSPResponse { tbsResponseData,
 * signatureAlgorithm, signature, certs [0] { responderCert } } } }, written in one pass (the nested
 * TLVs would otherwise copy the responder certificate once per level).
 */
export function wrapBasicResponse(responseData: Buffer, algId: Buffer, signature: Uint8Array, responderCert: Buffer): Buffer {
  const h = der.headerLength;
  const sigLen = 1 + signature.length;
  const certsSeqLen = h(responderCert.length) + responderCert.length;
  const certsLen = h(certsSeqLen) + certsSeqLen;
  const basicLen = responseData.length + algId.length + h(sigLen) + sigLen + certsLen;
  const octetLen = h(basicLen) + basicLen;
  const bytesSeqLen = BASIC_OID.length + h(octetLen) + octetLen;
  const bytesLen = h(bytesSeqLen) + bytesSeqLen;
  const len = SUCCESSFUL.length + h(bytesLen) + bytesLen;
  const out = Buffer.allocUnsafe(h(len) + len);
  let off = der.writeHeader(out, 0, der.Tag.SEQUENCE, len);
  out.set(SUCCESSFUL, off);
  off += SUCCESSFUL.length;
  off = der.writeHeader(out, off, 0xa0, bytesLen);
  off = der.writeHeader(out, off, der.Tag.SEQUENCE, bytesSeqLen);
  out.set(BASIC_OID, off);
  off += BASIC_OID.length;
  off = der.writeHeader(out, off, der.Tag.OCTET_STRING, octetLen);
  off = der.writeHeader(out, off, der.Tag.SEQUENCE, basicLen);
  out.set(responseData, off);
  off += responseData.length;
  out.set(algId, off);
  off += algId.length;
  off = der.writeHeader(out, off, der.Tag.BIT_STRING, sigLen);
  out[off++] = 0;
  out.set(signature, off);
  off += signature.length;
  off = der.writeHeader(out, off, 0xa0, certsSeqLen);
  off = der.writeHeader(out, off, der.Tag.SEQUENCE, responderCert.length);
  out.set(responderCert, off);
  off += responderCert.length;
  if (off !== out.length) throw new der.DerError(`OCSPResponse length mismatch (${off} ≠ ${out.length})`);
  return out;
}
