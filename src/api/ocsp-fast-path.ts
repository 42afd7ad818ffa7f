// POST /ocsp and GET /ocsp/{base64} on the fast HTTP path (http1-front.ts). OCSP is the one endpoint
// relying applications call at volume, and its whole exchange is "DER in, DER out": Node's HTTP
// objects, routing, hooks, cookies and reply decoration cost about as much CPU as the answer
// itself. The Fastify routes in pki-routes.ts answer the same requests when they reach Fastify
// (app.inject, chunked bodies, Expect: 100-continue…) through the same functions below.
import type { OcspAnswer } from '../ca/ocsp-responder.js';
import { errorResponse, OcspStatus } from '../ca/ocsp-codec.js';
import type { FastResponse, FastRoute } from './http1-front.js';
import { ocspGetCaching } from './ocsp-http-cache.js';

export const OCSP_MAX_REQUEST = 16 * 1024;

/** what every OCSP answer carries (the headers Fastify's onSend hook adds elsewhere, too) */
const COMMON = {
  'content-type': 'application/ocsp-response',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};
const POST_HEADERS = { ...COMMON, 'cache-control': 'no-store' };

/** GET /ocsp/{path}: the URL-encoded base64 DER request (RFC 6960 A.1); undecodable → empty (malformedRequest). */
export function ocspGetRequest(encoded: string): Buffer {
  try {
    return Buffer.from(decodeURIComponent(encoded), 'base64');
  } catch {
    return Buffer.alloc(0);
  }
}

/** The HTTP answer to a GET: cacheable until nextUpdate when it may be (RFC 5019 §6.2), 304 when the client holds it. */
export function ocspGetResponse(
  answer: OcspAnswer,
  request: { ifNoneMatch?: string | undefined; ifModifiedSince?: string | undefined },
): FastResponse {
  const caching = ocspGetCaching(answer, request);
  if (caching.notModified) return { status: 304, headers: { ...caching.headers }, body: Buffer.alloc(0) };
  return { status: 200, headers: { ...COMMON, ...caching.headers }, body: answer.der };
}

/**
 * The two fast routes. `respond` answers a DER request (never throws); `malformed` counts requests
 * answered malformedRequest before reaching it (wrong content type, empty, too large).
 */
export function ocspFastRoutes(respond: (der: Buffer) => Promise<OcspAnswer>, malformed: () => void): FastRoute[] {
  const refused = (): FastResponse => {
    malformed();
    return { status: 200, headers: POST_HEADERS, body: errorResponse(OcspStatus.malformedRequest) };
  };
  const post: FastRoute = {
    matches: (method, target) => method === 'POST' && target === '/ocsp',
    maxBody: OCSP_MAX_REQUEST,
    tooLarge: refused,
    handle(req) {
      const type = (req.headers.get('content-type') ?? '').split(';', 1)[0]!.trim().toLowerCase();
      if (type !== 'application/ocsp-request' || req.body.length === 0) return refused();
      return respond(req.body).then((a) => ({ status: 200, headers: POST_HEADERS, body: a.der }));
    },
  };
  const get: FastRoute = {
    matches: (method, target) => method === 'GET' && target.startsWith('/ocsp/'),
    maxBody: OCSP_MAX_REQUEST,
    tooLarge: refused,
    async handle(req) {
      const q = req.target.indexOf('?');
      const encoded = req.target.slice('/ocsp/'.length, q < 0 ? undefined : q);
      return ocspGetResponse(await respond(ocspGetRequest(encoded)), {
        ifNoneMatch: req.headers.get('if-none-match'),
        ifModifiedSince: req.headers.get('if-modified-since'),
      });
    },
  };
  return [post, get];
}
