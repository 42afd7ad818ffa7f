// The assistant's local HTTP server: the /v1 API for the portal (docs/AGENT-API.md), the assistant's
// own pages, and Server-Sent Events for key insertion and removal. Bound to loopback only.
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Agent } from '../agent.js';
import { AgentError, toAgentError } from '../errors.js';
import { requestView } from '../sessions.js';
import type { TokenEvent } from '../tokens/registry.js';
import { loadAssets } from '../ui/assets.js';
import { callerOrigin, checkRequest, PAGE_CSP, selfOrigins } from './security.js';
import { AGENT_VERSION } from '../version.js';

export const AGENT_API_VERSION = 1;

function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  const m = h ? /^Bearer\s+(\S+)$/i.exec(h) : null;
  return m?.[1];
}

function sendError(reply: FastifyReply, e: AgentError): FastifyReply {
  if (e.code === 'pin_rate_limited' && typeof e.details.retryAfterMs === 'number') {
    reply.header('Retry-After', String(Math.max(1, Math.ceil(e.details.retryAfterMs / 1000))));
  }
  return reply.code(e.status).send({ error: e.code, message: e.message, ...e.details });
}

export interface AgentServerOptions {
  allowOrigins: string[];
  logger?: FastifyBaseLogger | false;
}

export async function buildAgentServer(agent: Agent, opts: AgentServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.logger || undefined,
    // Request URLs carry approval keys: requests are not logged (the agent logs its own events).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 256 * 1024,
    // The route table is small; reject anything else early.
    routerOptions: { maxParamLength: 200 },
  });
  const assets = loadAssets();
  const allowOrigins = new Set(opts.allowOrigins);
  const port = (): number => (app.server.address() as AddressInfo | null)?.port ?? 0;
  const sse = new Set<ServerResponse>();

  app.addHook('onRequest', async (req, reply) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Cache-Control', 'no-store');
    reply.header('Referrer-Policy', 'no-referrer');
    reply.header('Cross-Origin-Resource-Policy', 'same-origin');
    try {
      if (checkRequest({ allowOrigins, port }, req, reply) === 'preflight') return reply.code(204).send();
    } catch (e) {
      return sendError(reply, toAgentError(e));
    }
  });

  app.setErrorHandler((e, req, reply) => {
    if (e instanceof AgentError) return sendError(reply, e);
    const fe = e as { statusCode?: number; code?: string; message: string };
    if (fe.statusCode && fe.statusCode < 500) {
      const code =
        fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? 'unsupported_media_type'
          : fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
            ? 'body_too_large'
            : 'invalid_request';
      return reply.code(fe.statusCode).send({ error: code, message: fe.message });
    }
    const err = toAgentError(e);
    if (err.status >= 500) req.log.error({ err: { message: err.message, code: err.code } }, 'request failed');
    return sendError(reply, err);
  });
  app.setNotFoundHandler((_req, reply) =>
    reply.code(404).send({ error: 'not_found', message: 'no such endpoint (see docs/AGENT-API.md)' }),
  );

  // ---------------------------------------------------------------------------------------------
  // Pages

  const page = (name: string) => (_req: FastifyRequest, reply: FastifyReply) => {
    const a = assets.get(name)!;
    return reply.header('Content-Security-Policy', PAGE_CSP).header('X-Frame-Options', 'DENY').type(a.type).send(a.body);
  };
  app.get('/', page('ukey.html'));
  app.get('/approve', page('approve.html'));
  app.get<{ Params: { file: string } }>('/assets/:file', (req, reply) => {
    const a = req.params.file === 'ukey.html' || req.params.file === 'approve.html' ? undefined : assets.get(req.params.file);
    if (!a) return reply.code(404).send({ error: 'not_found', message: 'no such asset' });
    return reply.type(a.type).header('Content-Security-Policy', PAGE_CSP).send(a.body);
  });
  app.get('/favicon.ico', (_req, reply) => {
    const a = assets.get('icon.svg')!;
    return reply.type(a.type).send(a.body);
  });

  // The assistant's own API (its pages only; see security.ts)
  app.get<{ Params: { id: string }; Querystring: { key?: string } }>('/ui/api/requests/:id', (req) =>
    agent.pageInfo(req.params.id, req.query.key),
  );
  app.post<{ Params: { id: string } }>('/ui/api/requests/:id/approve', (req) => agent.approve(req.params.id, req.body));
  app.post<{ Params: { id: string } }>('/ui/api/requests/:id/deny', (req) => agent.deny(req.params.id, req.body));
  app.post<{ Params: { tokenId: string } }>('/ui/api/tokens/:tokenId/change-pin', (req) =>
    agent.changePinLocal(req.params.tokenId, req.body),
  );

  // ---------------------------------------------------------------------------------------------
  // /v1: the portal's API

  app.options('/v1/*', (_req, reply) => reply.code(204).send());
  app.get('/v1', () => ({ name: 'certdesk-agent', apiVersion: AGENT_API_VERSION, version: AGENT_VERSION }));
  app.get('/v1/tokens', async () => ({ tokens: await agent.tokens(), problems: agent.problems() }));
  app.get<{ Params: { tokenId: string } }>('/v1/tokens/:tokenId', async (req) => (await agent.token(req.params.tokenId)).token);
  app.get<{ Params: { tokenId: string } }>('/v1/tokens/:tokenId/certificates', async (req) => ({
    certificates: await agent.certificates(req.params.tokenId),
  }));
  app.get<{ Params: { tokenId: string } }>('/v1/tokens/:tokenId/seals', async (req) => ({
    seals: await agent.seals(req.params.tokenId),
  }));
  app.get<{ Params: { tokenId: string } }>('/v1/tokens/:tokenId/objects', async (req) => ({
    objects: await agent.publicObjects(req.params.tokenId),
  }));

  app.post('/v1/requests', async (req, reply) => {
    const origin = callerOrigin(req)!;
    const { request, sessionToken } = await agent.createRequest(origin, req.body);
    const approveUrl = `http://127.0.0.1:${port()}/approve?request=${encodeURIComponent(request.id)}&key=${encodeURIComponent(request.approvalKey)}`;
    return reply.code(201).send({
      requestId: request.id,
      approveUrl,
      sessionToken,
      status: request.status,
      expiresAt: new Date(request.expiresAt).toISOString(),
    });
  });
  app.get<{ Params: { id: string } }>('/v1/requests/:id', (req) =>
    requestView(agent.requests.forRequester(bearer(req), callerOrigin(req), req.params.id)),
  );
  app.delete<{ Params: { id: string } }>('/v1/requests/:id', (req) => {
    const r = agent.requests.forRequester(bearer(req), callerOrigin(req), req.params.id);
    if (r.status === 'pending')
      agent.requests.finish(r, 'denied', { error: { error: 'cancelled', message: 'the page cancelled the request' } });
    return requestView(r);
  });

  app.get('/v1/renewals', (req) => ({ renewals: agent.renewalList(callerOrigin(req)) }));
  app.get<{ Params: { orderId: string } }>('/v1/renewals/:orderId', (req) =>
    agent.renewal(req.params.orderId, callerOrigin(req)),
  );
  app.post<{ Params: { orderId: string } }>('/v1/renewals/:orderId/certificate', async (req, reply) => {
    const v = await agent.postCertificate(callerOrigin(req)!, bearer(req), req.params.orderId, req.body);
    return reply.code(v.approvalRequired ? 202 : 200).send(v);
  });
  app.post<{ Params: { orderId: string } }>('/v1/renewals/:orderId/confirm', async (req, reply) => {
    const v = await agent.confirm(callerOrigin(req)!, bearer(req), req.params.orderId);
    return reply.code(v.approvalRequired ? 202 : 200).send(v);
  });

  // Server-Sent Events: key inserted / removed / changed.
  app.get('/v1/events', async (req, reply) => {
    const origin = callerOrigin(req);
    const headers: Record<string, string> = {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Content-Type-Options': 'nosniff',
      'X-Accel-Buffering': 'no',
    };
    if (origin && !selfOrigins(port()).has(origin)) {
      headers['Access-Control-Allow-Origin'] = origin;
      headers.Vary = 'Origin';
    }
    const tokens = await agent.tokens();
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, headers);
    const send = (event: string, data: unknown): void => {
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    send('tokens', { tokens });
    const onEvent = (e: TokenEvent): void => send(`token-${e.type}`, { token: e.token });
    agent.registry.on('event', onEvent);
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    sse.add(res);
    const done = (): void => {
      clearInterval(ping);
      agent.registry.off('event', onEvent);
      sse.delete(res);
    };
    res.on('close', done);
  });

  // preClose, not onClose: open event streams would keep the server from closing at all.
  app.addHook('preClose', async () => {
    for (const res of sse) res.end();
  });

  return app;
}

/**
 * Listens on loopback only: 127.0.0.1, and [::1] on the same port when the machine has IPv6 loopback
 * (requests there are handed to the same Fastify instance). Nothing else is ever bound.
 */
export async function listenLoopback(
  app: FastifyInstance,
  port: number,
): Promise<{ port: number; addresses: string[]; closeExtra: () => Promise<void> }> {
  await app.listen({ port, host: '127.0.0.1' });
  const actual = (app.server.address() as AddressInfo).port;
  const addresses = [`127.0.0.1:${actual}`];
  const v6 = createServer((req, res) => app.server.emit('request', req, res));
  const ok = await new Promise<boolean>((resolve) => {
    v6.once('error', () => resolve(false));
    v6.listen({ port: actual, host: '::1', ipv6Only: true }, () => resolve(true));
  });
  if (ok) addresses.push(`[::1]:${actual}`);
  const closeExtra = async (): Promise<void> => {
    if (!ok) return;
    v6.closeAllConnections();
    await new Promise<void>((resolve) => v6.close(() => resolve()));
  };
  return { port: actual, addresses, closeExtra };
}
