// Who may call the assistant, decided before any route runs:
//
//  - Host must be the assistant's own loopback name and port (127.0.0.1, localhost, [::1]): a web page
//    that rebinds its DNS name to 127.0.0.1 still sends its own Host and is turned away.
//  - Origin, when sent, must be on the allowlist (exact scheme://host:port) or the assistant's own.
//    Others get 403 {error:'origin_not_allowed'} and no CORS headers at all.
//  - What each kind of caller may reach:
//      read   GET /v1, /v1/tokens…, /v1/events, /v1/renewals…   allowlisted, own pages, or no Origin (curl, CLI)
//      portal /v1/requests…, POST /v1/renewals/…                 allowlisted origins only
//      self   /ui/api/…  (the PIN is posted here)                 the assistant's own pages only
//      page   GET /, /approve, /assets/…                          top-level navigation; framing is refused
//  - Preflights (OPTIONS) are answered for allowlisted origins only, including the Private Network
//    Access header (Access-Control-Request-Private-Network → Access-Control-Allow-Private-Network)
//    for the Chrome versions that sent it. Chrome 142+ asks the user instead (Local Network Access):
//    a refused request never arrives here, and the preflight carries no such header.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AgentError } from '../errors.js';

export type AccessClass = 'read' | 'portal' | 'self' | 'page';

export function accessClass(method: string, url: string): AccessClass | undefined {
  const p = url.split('?')[0]!;
  if (p.startsWith('/ui/api/')) return 'self';
  if (p === '/' || p === '/approve' || p.startsWith('/assets/') || p === '/favicon.ico')
    return method === 'GET' || method === 'HEAD' ? 'page' : undefined;
  if (p === '/v1' || p.startsWith('/v1/')) {
    if (p.startsWith('/v1/requests')) return 'portal';
    if (p.startsWith('/v1/renewals/') && method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS') return 'portal';
    return method === 'OPTIONS' ? 'portal' : method === 'GET' || method === 'HEAD' ? 'read' : 'portal';
  }
  return undefined;
}

export interface SecurityPolicy {
  /** exact origins allowed to call the API (the CA's portal) */
  allowOrigins: ReadonlySet<string>;
  /** returns the port the server listens on (known after listen) */
  port: () => number;
}

export const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

export function selfOrigins(port: number): Set<string> {
  return new Set(LOOPBACK_NAMES.map((h) => `http://${h}:${port}`));
}

const ALLOW_METHODS = 'GET, POST, DELETE, OPTIONS';
const ALLOW_HEADERS = 'Content-Type, Authorization';

function corsHeaders(reply: FastifyReply, origin: string): void {
  reply.header('Access-Control-Allow-Origin', origin);
  reply.header('Access-Control-Expose-Headers', 'Retry-After');
  reply.header('Vary', 'Origin, Access-Control-Request-Private-Network');
}

/** The caller's origin when it is allowed to reach the route, for routes to bind sessions to. */
export function callerOrigin(req: FastifyRequest): string | undefined {
  return (req as FastifyRequest & { certdeskOrigin?: string }).certdeskOrigin;
}

/** onRequest hook. Throws AgentError (turned into JSON by the error handler) or returns. */
export function checkRequest(policy: SecurityPolicy, req: FastifyRequest, reply: FastifyReply): 'preflight' | undefined {
  const port = policy.port();
  const host = req.headers.host;
  if (!host || !LOOPBACK_NAMES.some((h) => host === `${h}:${port}`)) {
    throw new AgentError(403, 'host_not_allowed', `Host must be 127.0.0.1:${port}, localhost:${port} or [::1]:${port}`);
  }
  const cls = accessClass(req.method, req.url);
  if (!cls) return undefined; // 404 / 405 from the router
  const origin = req.headers.origin;
  const self = selfOrigins(port);
  const fetchSite = req.headers['sec-fetch-site'];

  if (origin === undefined) {
    if (cls === 'page' || (cls === 'read' && req.method !== 'OPTIONS')) return undefined;
    if (cls === 'self' && (req.method === 'GET' || req.method === 'HEAD') && fetchSite !== 'cross-site') return undefined;
    throw new AgentError(403, 'origin_required', 'this endpoint needs an Origin header from an allowed web page');
  }
  if (self.has(origin)) {
    if (cls === 'self' || cls === 'page' || cls === 'read') {
      if (cls === 'self' && fetchSite !== undefined && fetchSite !== 'same-origin') {
        throw new AgentError(403, 'origin_not_allowed', 'the assistant’s own API takes same-origin requests only');
      }
      (req as FastifyRequest & { certdeskOrigin?: string }).certdeskOrigin = origin;
      return undefined;
    }
    throw new AgentError(403, 'origin_not_allowed', 'the assistant’s own pages do not use the portal API');
  }
  if (!policy.allowOrigins.has(origin)) {
    throw new AgentError(403, 'origin_not_allowed', `origin ${origin} is not allowed to use this key assistant`);
  }
  if (cls === 'self') {
    // A portal may never post a PIN or read the approval page's data.
    throw new AgentError(403, 'origin_not_allowed', 'only the assistant’s own pages may use this endpoint');
  }
  (req as FastifyRequest & { certdeskOrigin?: string }).certdeskOrigin = origin;
  corsHeaders(reply, origin);
  if (req.method === 'OPTIONS') {
    reply.header('Access-Control-Allow-Methods', ALLOW_METHODS);
    reply.header('Access-Control-Allow-Headers', ALLOW_HEADERS);
    reply.header('Access-Control-Max-Age', '600');
    if (req.headers['access-control-request-private-network'] === 'true')
      reply.header('Access-Control-Allow-Private-Network', 'true');
    return 'preflight';
  }
  return undefined;
}

/** Content-Security-Policy of the assistant's pages: own scripts and styles only, no framing. */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');
