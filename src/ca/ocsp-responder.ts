// The OCSP responder (RFC 6960). Status comes from the database on every request, so a revocation
// by any process (CLI, another instance) is visible at once; responses are signed by the issuing
// CA's delegated responder certificate (id-pkix-ocsp-nocheck).
import { createHash } from 'node:crypto';
import { subjectPublicKeyBits } from '../pki/algorithms.js';
import { CertificateStatusReader } from '../sa/certificate-status.js';
import type { CertificateAuthority, LoadedCa } from './authority.js';
import { canSignSync, wholeSeconds } from './certificate-builder.js';
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

export interface OcspAnswer {
  der: Buffer;
  outcome: OcspOutcome;
  /**
   * For a signed response to a request without a nonce — the ones HTTP caches may keep (RFC 5019
   * §6.2): its thisUpdate and nextUpdate, ms. Absent for error responses and nonce responses.
   */
  validity?: { thisUpdate: number; nextUpdate: number };
}

interface CachedResponse {
  der: Buffer;
  outcome: OcspOutcome;
  /** the statuses the response was signed for: reused only while the database still says the same */
  state: string;
  /** thisUpdate = producedAt, ms */
  producedAt: number;
  nextUpdate: number;
}

/** Signed responses kept for requests without a nonce (RFC 5019 style pre-produced responses). */
const CACHE_ENTRIES = 4096;
/** A cached response is reused while its thisUpdate is younger than this (and its nextUpdate far off). */
const CACHE_MAX_AGE_MS = 60_000;

export class OcspResponder {
  /** `${hash}:${issuerNameHash hex}:${issuerKeyHash hex}` → issuer */
  private readonly issuers = new Map<string, IssuerEntry>();
  /** CertIDs as sent (raw DER, latin1) → the last response signed for them */
  private readonly cache = new Map<string, CachedResponse>();
  private readonly cacheMaxAgeMs: number;
  private readonly statuses: CertificateStatusReader;
  /**
   * With one server process per core (`serve --workers N`) each signs on its own event loop: the
   * thread pool would only add a hand-off per response. A single process signs on the pool, so the
   * other core signs while this one serves HTTP.
   */
  private readonly signInline: boolean;

  /** the CertificateAuthority generation the issuer table was built from */
  private builtFor = -1;

  constructor(
    private readonly ca: CertificateAuthority,
    private readonly log?: (msg: string, err: unknown) => void,
  ) {
    this.cacheMaxAgeMs = Math.min(CACHE_MAX_AGE_MS, (ca.config.ocspValiditySeconds * 1000) / 4);
    this.statuses = new CertificateStatusReader(ca.storage);
    this.signInline = ca.config.workers > 1;
    this.build();
  }

  /** The issuer table: every issuing CA with its active responder (rebuilt after a responder rotation). */
  private build(): void {
    this.issuers.clear();
    this.cache.clear();
    for (const issuer of this.ca.cas.values()) {
      if (issuer.record.kind !== 'issuing') continue;
      const responder = this.ca.responderFor(issuer.record.id);
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
    this.builtFor = this.ca.generation;
  }

  /**
   * Answers one DER request; never throws (errors become OCSP error statuses). The status is read
   * from the database for every request, so a revocation by any process shows at once. Requests
   * without a nonce may get a response signed earlier for the same CertIDs, but only while the
   * database still gives the same status (and revocation time and reason) and for at most a minute;
   * requests with a nonce always get a freshly signed response echoing it.
   */
  async respond(body: Buffer): Promise<OcspAnswer> {
    let req;
    try {
      req = parseOcspRequest(body);
    } catch (e) {
      if (e instanceof OcspRequestError) return { der: errorResponse(OcspStatus.malformedRequest), outcome: 'malformed' };
      throw e;
    }
    try {
      if (this.builtFor !== this.ca.generation) this.build();
      let entry: IssuerEntry | undefined;
      for (const id of req.certIds) {
        const e = this.issuers.get(`${id.hash}:${id.issuerNameHash.toString('hex')}:${id.issuerKeyHash.toString('hex')}`);
        // One responder certificate signs the whole response, so every CertID must name the same issuer.
        if (!e || (entry && e !== entry)) return { der: errorResponse(OcspStatus.unauthorized), outcome: 'unauthorized' };
        entry = e;
      }
      const statuses: SingleStatus[] = [];
      let outcome: OcspOutcome = 'good';
      let state = '';
      const rows = await this.statuses.read(req.certIds.map((id) => id.serialHex));
      for (const id of req.certIds) {
        const row = rows.get(id.serialHex);
        let status: SingleStatus;
        if (!row || row.ca_id !== entry!.issuer.record.id) status = { kind: 'unknown' };
        else if (row.status === 'revoked') status = { kind: 'revoked', at: row.revoked_at!, reason: row.revocation_reason };
        else status = { kind: 'good' };
        if (status.kind !== 'good') outcome = status.kind;
        statuses.push(status);
        state += status.kind === 'revoked' ? `r${status.at}/${status.reason};` : `${status.kind[0]};`;
      }
      const now = Date.now();
      let key: string | undefined;
      if (!req.nonce) {
        key =
          req.certIds.length === 1
            ? req.certIds[0]!.raw.toString('latin1')
            : req.certIds.map((id) => id.raw.toString('latin1')).join('|');
        const hit = this.cache.get(key);
        if (hit && hit.state === state && now - hit.producedAt < this.cacheMaxAgeMs && now >= hit.producedAt)
          return { der: hit.der, outcome: hit.outcome, validity: { thisUpdate: hit.producedAt, nextUpdate: hit.nextUpdate } };
      }
      const thisUpdate = wholeSeconds(now);
      const nextUpdate = wholeSeconds(now + this.ca.config.ocspValiditySeconds * 1000);
      const singles = req.certIds.map((id, i) => encodeSingleResponse(id.raw, statuses[i]!, thisUpdate, nextUpdate));
      const responder = entry!.responder;
      const data = encodeResponseData(entry!.responderKeyHash, thisUpdate, singles, req.nonce);
      const signer = responder.signer;
      const sig = this.signInline && canSignSync(signer) ? signer.signSync(data) : await signer.sign(data);
      const der = wrapBasicResponse(data, responder.signer.algorithm.algId, sig, responder.record.cert_der);
      if (key !== undefined) {
        this.cache.delete(key);
        if (this.cache.size >= CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(key, { der, outcome, state, producedAt: thisUpdate.getTime(), nextUpdate: nextUpdate.getTime() });
        return { der, outcome, validity: { thisUpdate: thisUpdate.getTime(), nextUpdate: nextUpdate.getTime() } };
      }
      return { der, outcome };
    } catch (e) {
      this.log?.('OCSP responder failed', e);
      return { der: errorResponse(OcspStatus.internalError), outcome: 'error' };
    }
  }
}
