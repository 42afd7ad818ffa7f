// The HTTP front end (Fastify): health, metrics, OpenAPI, PKI endpoints. HTTP concerns only —
// the rules live in the CA/RA, storage in the SA.
import { createServer } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import swagger from '@fastify/swagger';
import { sql } from 'kysely';
import type { Runtime } from '../runtime.js';
import { createMetrics, type Metrics } from './metrics.js';
import { registerPkiRoutes } from './pki-routes.js';
import { registerAppsApiRoutes } from './apps-api.js';
import { registerSealStatusRoutes } from './seal-routes.js';
import { Http1Front, type FrontTimeouts } from './http1-front.js';
import { errorResponse, OcspStatus } from '../ca/ocsp-codec.js';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import rateLimit from '@fastify/rate-limit';
import { registerDownloadRoutes } from './portal/downloads.js';
import { registerPortalRoutes } from './portal/routes.js';
import { registerRevocationRoutes } from './portal/revocation.js';
import { registerNotifyRoutes } from './notify-routes.js';
import { registerPaymentRoutes } from './payment-routes.js';
import { registerStaffRoutes } from './staff/routes.js';
import { contentSecurityPolicy, registerWebApp } from './web-app.js';
import { mapError } from './errors.js';
import { DebugRequestLog } from './request-log.js';
import { databaseRateLimitStore } from './rate-limit-store.js';
import { replicationLag, type ReplicationLag } from '../sa/replication.js';

export interface ServerOptions {
  logger?: boolean | { level: string };
  /** deadlines of the fast HTTP path (tests shorten them) */
  httpTimeouts?: FrontTimeouts;
}

export async function buildServer(rt: Runtime, opts: ServerOptions = {}): Promise<{ app: FastifyInstance; metrics: Metrics }> {
  let front: Http1Front | undefined;
  const app = Fastify({
    // OCSP is answered on the connection before Node's HTTP parser and Fastify (http1-front.ts,
    // ocsp-fast-path.ts); every other request goes on to them, on the same port.
    serverFactory: (handler) => {
      // Nagle is turned off per connection by the front (noDelayNow), not on every accept
      const server = createServer({ noDelay: false }, handler);
      front = new Http1Front(server, opts.httpTimeouts);
      return server;
    },
    logger:
      opts.logger === false
        ? false
        : {
            level: typeof opts.logger === 'object' ? opts.logger.level : rt.config.logLevel,
            redact: ['req.headers.cookie', 'req.headers.authorization', 'req.headers["x-csrf-token"]'],
          },
    logController: new DebugRequestLog(),
    bodyLimit: 1024 * 1024,
    // behind nginx (docs/deploy/nginx-certdesk.conf) the client's address comes from X-Forwarded-For,
    // but only from the proxies named in TRUST_PROXY
    trustProxy: rt.config.trustProxy.length > 0 ? rt.config.trustProxy : false,
    // A GET OCSP request whose path is not even a valid URL is still an OCSP request: answer in OCSP.
    frameworkErrors: (err, req, res) => {
      const reply = res as unknown as FastifyReply;
      if (req.url.startsWith('/ocsp/')) {
        void reply.code(200).type('application/ocsp-response').send(errorResponse(OcspStatus.malformedRequest));
        return;
      }
      void reply.code(400).send({ error: 'bad_request', message: err.message });
    },
  });
  const metrics = createMetrics();

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'certdesk API',
        version: '0.1.0',
        description: 'Certificate self-service: CA, OCSP, CRL, portal and staff APIs',
      },
    },
  });

  app.addHook('onResponse', async (req, reply) => {
    metrics.httpRequests.observe(
      { method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  await app.register(cookie);
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  // counters in the database: the limits hold across every instance behind the load balancer
  await app.register(rateLimit, { global: false, store: databaseRateLimitStore(rt.storage) });

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'same-origin');
    const type = String(reply.getHeader('content-type') ?? '');
    if (type.startsWith('text/html')) {
      reply.header('x-frame-options', 'DENY');
      reply.header('content-security-policy', contentSecurityPolicy(rt));
    }
    return payload;
  });

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    const mapped = mapError(err);
    if (mapped) return reply.code(mapped.status).send(mapped.body);
    if (err.validation) return reply.code(400).send({ error: 'bad_request', message: err.message });
    if (err.statusCode && err.statusCode < 500)
      return reply.code(err.statusCode).send({ error: 'bad_request', message: err.message });
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: 'internal', message: 'internal error; see the server log' });
  });

  app.get('/healthz', { schema: { summary: 'Liveness', tags: ['ops'] } }, async () => ({ status: 'ok' }));

  app.get(
    '/readyz',
    { schema: { summary: 'Readiness: database reachable and CA keys usable', tags: ['ops'] } },
    async (_req, reply) => {
      const checks: Record<string, string> = {};
      let replication: ReplicationLag | undefined;
      try {
        // a query-builder SELECT: on SQLite it reads on the reader, so a write waiting for the lock does not hold it up
        await rt.storage.db.selectNoFrom(sql<number>`1`.as('one')).execute();
        checks.database = 'ok';
      } catch (e) {
        checks.database = `error: ${(e as Error).message}`;
      }
      if (rt.storage.hasReplica) {
        // OCSP and CRLs read there: unreachable means they fail; the lag is how stale they may be
        try {
          replication = await replicationLag(rt.storage);
          checks.replica = 'ok';
        } catch (e) {
          checks.replica = `error: ${(e as Error).message}`;
        }
      }
      for (const ca of rt.ca.cas.values()) {
        try {
          await ca.signer.sign(Buffer.from('readyz'));
          checks[`key:${ca.record.id}`] = 'ok';
        } catch (e) {
          checks[`key:${ca.record.id}`] = `error: ${(e as Error).message}`;
        }
      }
      const ok = Object.values(checks).every((v) => v === 'ok');
      return reply
        .code(ok ? 200 : 503)
        .send({ status: ok ? 'ready' : 'not ready', checks, ...(replication ? { replication } : {}) });
    },
  );

  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  const fastRoutes = registerPkiRoutes(app, rt, metrics);
  if (front) front.routes = fastRoutes;
  registerPortalRoutes(app, rt);
  registerSealStatusRoutes(app, rt);
  registerAppsApiRoutes(app, rt);
  registerRevocationRoutes(app, rt);
  registerDownloadRoutes(app, rt);
  registerPaymentRoutes(app, rt);
  registerNotifyRoutes(app, rt);
  registerStaffRoutes(app, rt);
  await registerWebApp(app, rt);

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  return { app, metrics };
}
