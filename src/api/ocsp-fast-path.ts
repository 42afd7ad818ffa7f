// POST /ocsp served before Fastify sees the request. OCSP is the one endpoint relying applications
// call at volume, and its whole exchange is "DER in, DER out": routing, hooks, cookies and reply
// decoration cost about as much CPU as the answer itself, so this path skips them. Every other
// request, GET /ocsp/… included, goes through Fastify as usual.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorResponse, OcspStatus } from '../ca/ocsp-codec.js';

export const OCSP_MAX_REQUEST = 16 * 1024;

const HEADERS = {
  'content-type': 'application/ocsp-response',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

export interface OcspFastPath {
  /** Serves the request when it is POST /ocsp and returns true; otherwise returns false and does nothing. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

/**
 * `answer` turns a DER request into a DER response and never throws; `malformed` counts requests
 * answered with malformedRequest before reaching it (wrong type, empty, too large).
 */
export function ocspFastPath(answer: (der: Buffer) => Promise<Buffer>, malformed: () => void): OcspFastPath {
  const send = (res: ServerResponse, der: Buffer): void => {
    res.writeHead(200, { ...HEADERS, 'content-length': der.length });
    res.end(der);
  };
  const refuse = (req: IncomingMessage, res: ServerResponse): void => {
    malformed();
    send(res, errorResponse(OcspStatus.malformedRequest));
    req.resume(); // drain what the client still sends, so the connection stays usable
  };
  return {
    handle(req, res) {
      if (req.method !== 'POST' || req.url !== '/ocsp') return false;
      const type = (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
      const declared = Number(req.headers['content-length'] ?? NaN);
      if (type !== 'application/ocsp-request' || declared > OCSP_MAX_REQUEST) {
        refuse(req, res);
        return true;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let refused = false;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > OCSP_MAX_REQUEST && !refused) {
          refused = true;
          refuse(req, res);
        } else if (!refused) chunks.push(c);
      });
      req.on('end', () => {
        if (refused) return;
        const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        if (body.length === 0) return refuse(req, res);
        answer(body).then(
          (der) => send(res, der),
          () => send(res, errorResponse(OcspStatus.internalError)),
        );
      });
      req.on('error', () => res.destroy());
      return true;
    },
  };
}
