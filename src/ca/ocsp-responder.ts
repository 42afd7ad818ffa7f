// The OCSP responder (RFC 6960). Status comes from the database on every request, so a revocation
// by any process (CLI, another instance) is visible at once; responses are signed by the issuing
// CA's delegated responder certificate (id-pkix-ocsp-nocheck).
import { createHash } from 'node:crypto';
import { subjectPublicKeyBits } from '../pki/algorithms.js';
import { getCertificateStatus } from '../sa/certificates.js';
import type { CertificateAuthority, LoadedCa } from './authority.js';
import { wholeSeconds } from './certificate-builder.js';
import {
  CERT_ID_HASHES,
  encodeResponseData,
  encodeSingleResponse,
  errorResponse,
  OcspRequestError,
  OcspStatus,
  parseOcspRequest,
  wrapBasicResponse,
  type SingleStatus,
} from './ocsp-codec.js';

interface IssuerEntry {
  issuer: LoadedCa;
  responder: LoadedCa;
  responderKeyHash: Buffer;
}

export type OcspOutcome = 'good' | 'revoked' | 'unknown' | 'malformed' | 'unauthorized' | 'error';

export class OcspResponder {
  /** `${hash}:${issuerNameHash hex}:${issuerKeyHash hex}` → issuer */
  private readonly issuers = new Map<string, IssuerEntry>();

  constructor(
    private readonly ca: CertificateAuthority,
    private readonly log?: (msg: string, err: unknown) => void,
  ) {
    for (const issuer of ca.cas.values()) {
      if (issuer.record.kind !== 'issuing') continue;
      const responder = ca.responderFor(issuer.record.id);
      if (!responder) continue;
      const keyBits = subjectPublicKeyBits(issuer.cert.spki);
      const entry: IssuerEntry = {
        issuer,
        responder,
        responderKeyHash: createHash('sha1').update(subjectPublicKeyBits(responder.cert.spki)).digest(),
      };
      for (const h of CERT_ID_HASHES) {
        const nameHash = createHash(h).update(issuer.cert.subjectDer).digest('hex');
        const keyHash = createHash(h).update(keyBits).digest('hex');
        this.issuers.set(`${h}:${nameHash}:${keyHash}`, entry);
      }
    }
  }

  /** Answers one DER request; never throws (errors become OCSP error statuses). */
  async respond(body: Buffer): Promise<{ der: Buffer; outcome: OcspOutcome }> {
    let req;
    try {
      req = parseOcspRequest(body);
    } catch (e) {
      if (e instanceof OcspRequestError) return { der: errorResponse(OcspStatus.malformedRequest), outcome: 'malformed' };
      throw e;
    }
    try {
      let entry: IssuerEntry | undefined;
      for (const id of req.certIds) {
        const e = this.issuers.get(`${id.hash}:${id.issuerNameHash.toString('hex')}:${id.issuerKeyHash.toString('hex')}`);
        // One responder certificate signs the whole response, so every CertID must name the same issuer.
        if (!e || (entry && e !== entry)) return { der: errorResponse(OcspStatus.unauthorized), outcome: 'unauthorized' };
        entry = e;
      }
      const now = Date.now();
      const thisUpdate = wholeSeconds(now);
      const nextUpdate = wholeSeconds(now + this.ca.config.ocspValiditySeconds * 1000);
      const singles: Buffer[] = [];
      let outcome: OcspOutcome = 'good';
      for (const id of req.certIds) {
        const row = await getCertificateStatus(this.ca.storage.db, id.serialHex);
        let status: SingleStatus;
        if (!row || row.ca_id !== entry!.issuer.record.id) status = { kind: 'unknown' };
        else if (row.status === 'revoked') status = { kind: 'revoked', at: row.revoked_at!, reason: row.revocation_reason };
        else status = { kind: 'good' };
        if (status.kind !== 'good') outcome = status.kind;
        singles.push(encodeSingleResponse(id.raw, status, thisUpdate, nextUpdate));
      }
      const responder = entry!.responder;
      const data = encodeResponseData(entry!.responderKeyHash, thisUpdate, singles, req.nonce);
      const sig = await responder.signer.sign(data);
      return { der: wrapBasicResponse(data, responder.signer.algorithm.algId, sig, responder.record.cert_der), outcome };
    } catch (e) {
      this.log?.('OCSP responder failed', e);
      return { der: errorResponse(OcspStatus.internalError), outcome: 'error' };
    }
  }
}
