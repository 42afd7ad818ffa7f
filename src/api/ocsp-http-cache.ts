// HTTP caching of OCSP responses fetched with GET (RFC 5019 §6.2): a signed response to a request
// without a nonce may be kept by HTTP caches until its nextUpdate and no longer, and a client that
// already holds it is answered 304.
import { createHash } from 'node:crypto';
import type { OcspAnswer } from '../ca/ocsp-responder.js';

export interface OcspCaching {
  headers: Record<string, string>;
  /** true when the request's If-None-Match / If-Modified-Since names the response it would get */
  notModified: boolean;
}

const etagOf = (der: Buffer): string => `"${createHash('sha256').update(der).digest('base64url').slice(0, 27)}"`;

/** RFC 9110 §13.1.2: weak comparison; `*` matches any current response. */
function etagMatches(header: string, etag: string): boolean {
  return header.split(',').some((t) => {
    const v = t.trim();
    return v === '*' || v.replace(/^W\//, '') === etag;
  });
}

export function ocspGetCaching(
  answer: OcspAnswer,
  request: { ifNoneMatch?: string | undefined; ifModifiedSince?: string | undefined },
  now = Date.now(),
): OcspCaching {
  const v = answer.validity;
  // Error responses and nonce responses answer one request only.
  if (!v) return { headers: { 'cache-control': 'no-store' }, notModified: false };
  const etag = etagOf(answer.der);
  const maxAge = Math.max(0, Math.floor((v.nextUpdate - now) / 1000));
  const headers = {
    'cache-control': `public, max-age=${maxAge}, no-transform, must-revalidate`,
    etag,
    'last-modified': new Date(v.thisUpdate).toUTCString(),
    expires: new Date(v.nextUpdate).toUTCString(),
  };
  let notModified = false;
  // If-None-Match wins when both are sent (RFC 9110 §13.1.3).
  if (request.ifNoneMatch) notModified = etagMatches(request.ifNoneMatch, etag);
  else if (request.ifModifiedSince) {
    const since = Date.parse(request.ifModifiedSince);
    notModified = Number.isFinite(since) && v.thisUpdate <= since && since <= now;
  }
  return { headers, notModified };
}
