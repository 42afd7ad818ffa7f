// Public PKI endpoints relying parties use: CA certificates (AIA caIssuers), CRLs (CRL DP) and OCSP.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { StoredCrl } from '../sa/crls.js';
import type { Runtime } from '../runtime.js';
import type { Metrics } from './metrics.js';
import { toPem } from '../pki/pem.js';
import { errorResponse, OcspStatus } from '../ca/ocsp-codec.js';
import type { OcspAnswer } from '../ca/ocsp-responder.js';
import type { FastRoute } from './http1-front.js';
import { ocspFastRoutes, ocspGetRequest, ocspGetResponse, OCSP_MAX_REQUEST } from './ocsp-fast-path.js';

/** Registers the routes; returns the OCSP routes the fast HTTP path (http1-front.ts) answers ahead of Fastify. */
export function registerPkiRoutes(app: FastifyInstance, rt: Runtime, metrics: Metrics): FastRoute[] {
  app.addContentTypeParser('application/ocsp-request', { parseAs: 'buffer', bodyLimit: OCSP_MAX_REQUEST }, (_req, body, done) =>
    done(null, body),
  );

  const caParams = { type: 'object', properties: { id: { type: 'string', pattern: '^[a-z0-9-]+$' } }, required: ['id'] } as const;

  app.get<{ Params: { id: string } }>(
    '/pki/ca/:id.cer',
    { schema: { summary: 'CA certificate (DER), the AIA caIssuers URL', tags: ['pki'], params: caParams } },
    async (req, reply) => {
      const ca = rt.ca.cas.get(req.params.id);
      if (!ca || ca.record.kind === 'ocsp')
        return reply.code(404).send({ error: 'not_found', message: `no CA ${req.params.id}` });
      return reply.type('application/pkix-cert').header('cache-control', 'public, max-age=86400').send(ca.record.cert_der);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/pki/ca/:id.pem',
    { schema: { summary: 'CA certificate (PEM)', tags: ['pki'], params: caParams } },
    async (req, reply) => {
      const ca = rt.ca.cas.get(req.params.id);
      if (!ca || ca.record.kind === 'ocsp')
        return reply.code(404).send({ error: 'not_found', message: `no CA ${req.params.id}` });
      return reply.type('application/x-pem-file').send(toPem('CERTIFICATE', ca.record.cert_der));
    },
  );

  const sendCrl = (reply: FastifyReply, crl: StoredCrl) => {
    const maxAge = Math.max(0, Math.min(300, Math.floor((crl.next_update - Date.now()) / 1000)));
    return reply
      .type('application/pkix-crl')
      .header('cache-control', `public, max-age=${maxAge}`)
      .header('last-modified', new Date(crl.this_update).toUTCString())
      .send(crl.der);
  };

  app.get<{ Params: { id: string } }>(
    '/pki/crl/:id.crl',
    {
      schema: {
        summary: "The CA's full CRL (DER): the CRL DP of CA certificates and of certificates from before CRL shards",
        tags: ['pki'],
        params: caParams,
      },
    },
    async (req, reply) => {
      const ca = rt.ca.cas.get(req.params.id);
      if (!ca || ca.record.kind === 'ocsp')
        return reply.code(404).send({ error: 'not_found', message: `no CRL issuer ${req.params.id}` });
      return sendCrl(reply, await rt.ca.currentCrl(ca.record.id));
    },
  );

  app.get<{ Params: { id: string; shard: string } }>(
    '/pki/crl/:id/:shard.crl',
    {
      schema: {
        summary: 'One CRL shard of an issuing CA (DER), the CRL DP its certificates name; critical issuingDistributionPoint',
        tags: ['pki'],
        params: {
          type: 'object',
          properties: { id: caParams.properties.id, shard: { type: 'string', pattern: '^(0|[1-9][0-9]{0,3})$' } },
          required: ['id', 'shard'],
        },
      },
    },
    async (req, reply) => {
      const ca = rt.ca.cas.get(req.params.id);
      if (!ca || ca.record.kind !== 'issuing')
        return reply.code(404).send({ error: 'not_found', message: `no issuing CA ${req.params.id}` });
      const crl = await rt.ca.currentCrl(ca.record.id, Number(req.params.shard));
      if (!crl)
        return reply.code(404).send({ error: 'not_found', message: `CA ${req.params.id} has no CRL shard ${req.params.shard}` });
      return sendCrl(reply, crl);
    },
  );

  // One counter child per outcome, looked up once (labels() hashes its argument on every call).
  const outcomes = new Map<string, { inc(): void }>();
  const respond = async (der: Buffer): Promise<OcspAnswer> => {
    const r = await rt.ocsp.respond(der).catch((e: unknown): OcspAnswer => {
      app.log.error({ err: e }, 'OCSP responder failed');
      return { der: errorResponse(OcspStatus.internalError), outcome: 'error' };
    });
    let counter = outcomes.get(r.outcome);
    if (!counter) outcomes.set(r.outcome, (counter = metrics.ocspResponses.labels({ outcome: r.outcome })));
    counter.inc();
    return r;
  };
  const answer = async (der: Buffer): Promise<Buffer> => (await respond(der)).der;

  const malformed = outcomes.get('malformed') ?? metrics.ocspResponses.labels({ outcome: 'malformed' });
  // Plain requests on a socket take the fast path (ocsp-fast-path.ts); these routes document OCSP in
  // the OpenAPI description and answer what reaches Fastify (app.inject, chunked bodies, Expect…).
  app.post(
    '/ocsp',
    {
      schema: { summary: 'OCSP (RFC 6960) over POST', tags: ['ocsp'], consumes: ['application/ocsp-request'] },
      // An OCSP client understands OCSP errors, not JSON: bodies Fastify rejects (empty, too large,
      // wrong type) are answered as malformedRequest.
      errorHandler: (err: Error & { statusCode?: number }, _req, reply) => {
        if ((err.statusCode ?? 500) >= 500) throw err;
        malformed.inc();
        return reply.code(200).type('application/ocsp-response').send(errorResponse(OcspStatus.malformedRequest));
      },
    },
    async (req, reply) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      return reply
        .type('application/ocsp-response')
        .header('cache-control', 'no-store')
        .send(await answer(body));
    },
  );

  app.get<{ Params: { '*': string } }>(
    '/ocsp/*',
    {
      schema: {
        summary: 'OCSP (RFC 6960) over GET: the path is the base64 DER request',
        description:
          'Responses to requests without a nonce carry Cache-Control max-age up to nextUpdate, ETag, Last-Modified (thisUpdate) and Expires (nextUpdate); If-None-Match / If-Modified-Since get 304 (RFC 5019 §6.2).',
        tags: ['ocsp'],
      },
    },
    async (req, reply) => {
      const r = ocspGetResponse(await respond(ocspGetRequest(req.params['*'])), {
        ifNoneMatch: req.headers['if-none-match'],
        ifModifiedSince: req.headers['if-modified-since'],
      });
      return reply
        .code(r.status)
        .headers(r.headers)
        .send(r.status === 304 ? undefined : r.body);
    },
  );

  return ocspFastRoutes(respond, () => malformed.inc());
}
