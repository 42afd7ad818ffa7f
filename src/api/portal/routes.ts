// The holder portal API (docs/PORTAL-API.md): login with the key, renewal orders, payment, the
// update, order and certificate queries. HTTP only: rules are in ra/, storage in sa/.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Runtime } from '../../runtime.js';
import type { CaRecord } from '../../sa/cas.js';
import { buildLoginChallenge, challengeDigest, parseLoginChallenge } from '../../pki/login-challenge.js';
import { toPem } from '../../pki/pem.js';
import { assertOwnedBy, checkHolderLogin, LoginRefused } from '../../ra/holder-login.js';
import { parseOrderForm } from '../../ra/order-form.js';
import { RaError } from '../../ra/errors.js';
import { getCertificate, listCertificates, type CertificateRecord } from '../../sa/certificates.js';
import { listOrdersForHolder, orderEvents, type Order } from '../../sa/orders.js';
import { invoiceForOrder } from '../../sa/invoices.js';
import { getChangeReview } from '../../sa/change-requests.js';
import { StaffInvoices } from '../../staff/invoices.js';
import { StaffError } from '../../staff/errors.js';
import { sendAttachment } from '../attachment.js';
import { groupedWrite } from '../../sa/database.js';
import { consumeChallenge, insertChallenge } from '../../sa/sessions.js';
import { getHolder } from '../../sa/holders.js';
import type {} from '@fastify/rate-limit';
import { certificateView, holderView, newNotAfterOf, orderView, pairedCertificateView, pairedCertificateViews } from './views.js';
import type { IssueView, OrderView, PortalConfigView } from './shapes.js';
import {
  endCurrentSession,
  holderActor as actor,
  HttpError,
  openSession,
  portalOf as ctx,
  requireSession,
  setSessionCookie,
} from './session.js';
import { parseCertificate } from '../../pki/certificate.js';
import { registerPortalSealRoutes } from './seals.js';
import { registerPortalUpgradeRoutes } from './upgrades.js';
import { registerPortalAppRoutes } from './apps.js';
import { registerPortalChangeRoutes } from './changes.js';

const b64 = (field: string, v: unknown, max = 64 * 1024): Buffer => {
  if (typeof v !== 'string' || v.length === 0) throw new HttpError(400, 'invalid', `${field} is required (base64)`, field);
  if (v.length > max || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(v))
    throw new HttpError(400, 'invalid', `${field} must be base64`, field);
  return Buffer.from(v, 'base64');
};

export function registerPortalRoutes(app: FastifyInstance, rt: Runtime): void {
  const session = requireSession(rt, { allowRenewalOnly: false });
  const renewalSession = requireSession(rt, { allowRenewalOnly: true });
  const tags = ['portal'];
  registerPortalSealRoutes(app, rt, session);
  registerPortalChangeRoutes(app, rt, session);

  const allowedOrigin = (req: FastifyRequest): string => {
    const origin = String(req.headers.origin ?? '');
    if (!rt.config.portalOrigins.includes(origin)) {
      throw new HttpError(
        403,
        'origin_not_allowed',
        `requests must come from the portal (${rt.config.portalOrigins.join(', ')}), not ${origin || 'no origin'}`,
      );
    }
    return origin;
  };

  app.get(
    '/api/portal/config',
    { schema: { tags, summary: 'What the web app needs to start' } },
    async (): Promise<PortalConfigView> => ({
      productName: rt.config.productName,
      productNameEn: rt.config.productNameEn,
      agentUrl: rt.config.agentUrl,
      publicUrl: rt.config.publicUrl,
      agentMinVersion: rt.config.agentMinVersion,
    }),
  );

  app.post(
    '/api/portal/login/challenge',
    { schema: { tags, summary: 'A one-time login challenge bound to the portal origin' } },
    async (req) => {
      const origin = allowedOrigin(req);
      const { challenge, text } = buildLoginChallenge({ origin, ttlSeconds: 120 });
      await groupedWrite(rt.storage, (db) =>
        insertChallenge(db, {
          nonce: challenge.nonce,
          origin,
          textSha256: challengeDigest(text),
          expiresAt: challenge.exp * 1000,
        }),
      );
      return { challenge: text, expiresAt: new Date(challenge.exp * 1000).toISOString() };
    },
  );

  const loginBody = async (
    rec: Parameters<typeof certificateView>[1],
    holder: Parameters<typeof holderView>[1],
    csrfToken: string,
    renewalOnly: boolean,
  ) => ({
    holder: holderView(rt, holder, rec),
    certificate: await pairedCertificateView(rt, rec),
    csrfToken,
    renewalOnly,
  });

  app.post<{ Body: { challenge?: unknown; signature?: unknown; certificate?: unknown } }>(
    '/api/portal/login',
    {
      schema: { tags, summary: 'Log in with a signed challenge', body: { type: 'object' } },
      config: { rateLimit: { max: 20, timeWindow: '1 minute' } },
    },
    async (req, reply) => {
      const origin = allowedOrigin(req);
      const text = req.body?.challenge;
      if (typeof text !== 'string' || text.length > 2048)
        throw new HttpError(400, 'invalid', 'challenge is required', 'challenge');
      const signature = b64('signature', req.body?.signature);
      const certDer = b64('certificate', req.body?.certificate);
      let nonce: string;
      try {
        nonce = parseLoginChallenge(text).nonce;
      } catch {
        throw new HttpError(401, 'challenge_unknown', 'the login challenge is not one this server issued');
      }
      // One write: the challenge used up, the login checked, the session recorded (one commit to
      // wait for). One use only, bound to the origin it was issued for, and exactly the bytes issued
      // (a text with its origin or expiry rewritten is not ours even with our nonce) — before anything
      // else; a refused login has still used its challenge up, so the refusal is returned, not thrown.
      const outcome = await groupedWrite(rt.storage, async (db) => {
        if (!(await consumeChallenge(db, { nonce, origin, textSha256: challengeDigest(text), now: Date.now() })))
          return { unknown: true as const };
        try {
          const login = await checkHolderLogin(rt.ca, { challengeText: text, signature, certificateDer: certDer }, db);
          return { login, opened: await openSession(db, { certificate: login.record, renewalOnly: login.renewalOnly }) };
        } catch (e) {
          if (e instanceof LoginRefused) return { refused: e };
          throw e;
        }
      });
      if ('unknown' in outcome)
        throw new HttpError(
          401,
          'challenge_unknown',
          'the login challenge is unknown, used already or expired: start the login again',
        );
      if ('refused' in outcome) throw outcome.refused;
      const { record, renewalOnly } = outcome.login;
      const s = outcome.opened.session;
      setSessionCookie(rt, reply, outcome.opened.token);
      const holder = await getHolder(rt.storage.db, record.holder_id);
      req.log.info({ serial: record.serial, renewalOnly }, 'holder logged in');
      return loginBody(record, holder, s.csrf_token, renewalOnly);
    },
  );

  app.get(
    '/api/portal/session',
    { schema: { tags, summary: 'The current session' }, preHandler: renewalSession },
    async (req) => {
      const c = ctx(req);
      return loginBody(c.certificate, c.holder, c.session.csrf_token, c.session.renewal_only === 1);
    },
  );

  app.post('/api/portal/logout', { schema: { tags, summary: 'End the session (退出)' } }, async (req, reply) => {
    await endCurrentSession(rt, req, reply);
    return reply.code(204).send();
  });

  // ---- renewal ------------------------------------------------------------------------------

  const ownOrder = async (req: FastifyRequest, id: string): Promise<Order> => {
    const c = ctx(req);
    const order = await rt.renewals.order(id).catch(() => undefined);
    const mine =
      order &&
      (c.session.holder_id !== null
        ? order.holder_id === c.session.holder_id
        : order.certificate_serial === c.session.certificate_serial);
    if (!order || !mine) throw new RaError('not_found', `no order ${id}`);
    return order;
  };

  const invoices = new StaffInvoices(rt);
  /** `known`: certificates of the order the caller holds (its new one, the one it renews), not read again */
  const fullOrder = async (o: Order, known: readonly CertificateRecord[] = []): Promise<OrderView> => {
    // 应用开通: an order paid since the last look is enabled now (once: the transition is the claim)
    const order =
      o.kind === 'app' && o.state === 'paid' && (await rt.apps.activateIfPaid(o.id, 'holder'))
        ? await rt.renewals.order(o.id)
        : o;
    return orderView(order, {
      events: await orderEvents(rt.storage.db, order.id),
      invoice: (await invoiceForOrder(rt.storage.db, order.id)) ?? null,
      remittance: await rt.renewals.remittance(),
      newNotAfter: await newNotAfterOf(rt, order, known),
      newKeyType: await rt.upgrades.newKeyType(order),
      ...(order.kind === 'change' ? { change: { review: await getChangeReview(rt.storage.db, order.id) } } : {}),
    });
  };
  registerPortalUpgradeRoutes(app, rt, session, fullOrder);
  registerPortalAppRoutes(app, rt, session, fullOrder);

  app.get(
    '/api/portal/renewal',
    { schema: { tags, summary: 'Renewal eligibility, terms and prices' }, preHandler: renewalSession },
    async (req) => {
      const q = await rt.renewals.quote(ctx(req).certificate);
      return {
        certificate: certificateView(rt, q.certificate),
        eligible: q.eligibility.eligible,
        reason: q.eligibility.eligible ? null : q.eligibility.reason,
        window: { opensAt: q.eligibility.window.opensAt.toISOString(), closesAt: q.eligibility.window.closesAt.toISOString() },
        terms: q.terms,
        paymentMethods: q.paymentMethods,
        certificateType: { code: q.type.code, name: q.type.name, nameEn: q.type.name_en },
        openOrder: q.openOrder ? await fullOrder(q.openOrder, [q.certificate]) : null,
      };
    },
  );

  app.post(
    '/api/portal/orders',
    {
      schema: { tags, summary: 'Create a renewal order (请填写您的订单信息)', body: { type: 'object' } },
      preHandler: renewalSession,
    },
    async (req, reply) => {
      const form = parseOrderForm(req.body);
      const renewed = ctx(req).certificate;
      const order = await rt.renewals.createOrder(renewed, form, actor(req));
      return reply.code(201).send({ order: await fullOrder(order, [renewed]) });
    },
  );

  app.get(
    '/api/portal/orders',
    { schema: { tags, summary: "The holder's orders (订单查询)" }, preHandler: renewalSession },
    async (req) => {
      const c = ctx(req);
      const orders = await listOrdersForHolder(rt.storage.db, c.session.holder_id, [c.session.certificate_serial]);
      return { orders: await Promise.all(orders.map((o) => fullOrder(o))) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/portal/orders/:id',
    {
      schema: { tags, summary: 'One order; an unpaid online order is reconciled with the gateway first' },
      preHandler: renewalSession,
    },
    async (req) => {
      let order = await ownOrder(req, req.params.id);
      order = await rt.renewals.reconcile(order).catch((e: unknown) => {
        req.log.warn({ err: e }, 'active payment query failed');
        return order;
      });
      return { order: await fullOrder(order) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/portal/orders/:id/invoice.pdf',
    { schema: { tags, summary: "The electronic invoice (PDF) of the holder's paid order" }, preHandler: renewalSession },
    async (req, reply) => {
      const order = await ownOrder(req, req.params.id);
      const { pdf, invoice } = await invoices.pdf(order.id).catch((e: unknown) => {
        throw e instanceof StaffError ? new RaError('not_found', e.message) : e;
      });
      return sendAttachment(reply, 'application/pdf', `${invoice.number}.pdf`, pdf);
    },
  );

  app.post<{ Params: { id: string } }>(
    '/api/portal/orders/:id/pay',
    { schema: { tags, summary: 'The gateway payment page URL' }, preHandler: renewalSession },
    async (req) => {
      const order = await ownOrder(req, req.params.id);
      const returnUrl = `${rt.config.publicUrl}/api/portal/orders/${encodeURIComponent(order.id)}/return`;
      return { redirectUrl: await rt.renewals.startOnlinePayment(order, returnUrl) };
    },
  );

  // The browser's return from the gateway: only a hint, and needing no session (the gateway's
  // cross-site redirect does not carry the SameSite=Strict cookie). Only a return the gateway signed
  // for this very order makes the server ask the gateway; every other id — unknown, someone else's,
  // unsigned — gets the same redirect and no query. Rate-limited per client address.
  app.get<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/api/portal/orders/:id/return',
    {
      schema: { tags, summary: 'Browser return from the gateway' },
      config: { rateLimit: { max: 30, timeWindow: '1 minute' } },
    },
    async (req, reply) => {
      if (rt.gateway.returnedOrderId(req.query ?? {}) === req.params.id) {
        const order = await rt.renewals.order(req.params.id).catch(() => undefined);
        if (order)
          await rt.renewals.reconcile(order).catch((e: unknown) => req.log.warn({ err: e }, 'active payment query failed'));
      }
      return reply.redirect(`/#/orders/${encodeURIComponent(req.params.id)}`);
    },
  );

  app.post<{ Params: { id: string } }>(
    '/api/portal/orders/:id/cancel',
    { schema: { tags, summary: 'Cancel an unpaid order' }, preHandler: renewalSession },
    async (req) => {
      const order = await ownOrder(req, req.params.id);
      return { order: await fullOrder(await rt.renewals.cancel(order, actor(req))) };
    },
  );

  app.post<{ Params: { id: string }; Body: { csr?: unknown; proof?: unknown } }>(
    '/api/portal/orders/:id/issue',
    {
      schema: { tags, summary: 'Issue the renewed certificate (idempotent per order)', body: { type: 'object' } },
      preHandler: renewalSession,
    },
    async (req): Promise<IssueView> => {
      const order = await ownOrder(req, req.params.id);
      const csr = b64('csr', req.body?.csr);
      const proof = b64('proof', req.body?.proof, 4096);
      const r = await rt.renewals.issue(order, csr, proof, actor(req), ctx(req).certificate);
      const chainOf = (caId: string) =>
        [rt.ca.cas.get(caId)?.record.cert_der]
          .filter((c): c is Buffer => Boolean(c))
          .map((c) => Buffer.from(c).toString('base64'));
      return {
        order: await fullOrder(r.order, [r.certificate]),
        certificate: Buffer.from(r.certificate.der).toString('base64'),
        seals: (await rt.sealService.boundTo(r.certificate.serial)).map((seal) => ({
          esId: seal.es_id,
          name: seal.name,
          der: Buffer.from(seal.der).toString('base64'),
          picture: Buffer.from(seal.picture_png).toString('base64'),
        })),
        chain: chainOf(r.certificate.ca_id),
        summary: certificateView(rt, r.certificate),
        // an SM2 dual pair (docs/PORTAL-API.md): the encryption certificate and the envelope of its key
        ...(r.encryption
          ? {
              encryption: {
                certificate: Buffer.from(r.encryption.certificate.der).toString('base64'),
                envelope: r.encryption.envelope ? r.encryption.envelope.toString('base64') : null,
                chain: chainOf(r.encryption.certificate.ca_id),
                summary: certificateView(rt, r.encryption.certificate),
              },
            }
          : {}),
      };
    },
  );

  app.post<{ Params: { id: string } }>(
    '/api/portal/orders/:id/installed',
    { schema: { tags, summary: 'The new certificate is on the key' }, preHandler: renewalSession },
    async (req) => {
      const order = await ownOrder(req, req.params.id);
      return { order: await fullOrder(await rt.renewals.markInstalled(order, actor(req), ctx(req).certificate)) };
    },
  );

  // ---- certificates (证书查询) -----------------------------------------------------------------

  app.get(
    '/api/portal/certificates',
    { schema: { tags, summary: 'Current certificate and history' }, preHandler: session },
    async (req) => {
      const c = ctx(req);
      const all =
        c.session.holder_id !== null
          ? await listCertificates(rt.storage.db, { holderId: c.session.holder_id, limit: 200 })
          : [c.certificate];
      const orders = await listOrdersForHolder(rt.storage.db, c.session.holder_id, [c.session.certificate_serial]);
      const current =
        all.find((x) => x.signing_serial === null && x.status === 'valid' && x.not_after > Date.now()) ?? c.certificate;
      return {
        current: await pairedCertificateView(rt, current),
        history: await pairedCertificateViews(
          rt,
          all.filter((x) => x.serial !== current.serial),
        ),
        orders: orders.map((o) => orderView(o)),
      };
    },
  );

  app.get<{ Params: { file: string } }>(
    '/api/portal/certificates/:file',
    { schema: { tags, summary: 'A certificate: JSON details, or .pem / .der download' }, preHandler: session },
    async (req, reply) => {
      const m = /^([0-9a-fA-F]{1,40})(?:\.(pem|der|chain\.pem))?$/.exec(req.params.file);
      if (!m)
        throw new HttpError(400, 'invalid', 'serial must be hexadecimal, optionally with .pem, .der or .chain.pem', 'serial');
      const c = ctx(req);
      const rec = assertOwnedBy(await getCertificate(rt.storage.db, m[1]!), c.session.holder_id, c.session.certificate_serial);
      if (m[2] === 'der') return sendAttachment(reply, 'application/pkix-cert', `${rec.serial}.cer`, Buffer.from(rec.der));
      if (m[2] === 'chain.pem') {
        // the certificate, then each CA up to the root: what a relying party needs to build the path
        const pems = [toPem('CERTIFICATE', rec.der)];
        for (let id: string | null = rec.ca_id, n = 0; id && n < 5; n++) {
          const ca: CaRecord | undefined = rt.ca.cas.get(id)?.record;
          if (!ca) break;
          pems.push(toPem('CERTIFICATE', ca.cert_der));
          id = ca.parent_id;
        }
        return sendAttachment(reply, 'application/x-pem-file', `${rec.serial}-chain.pem`, pems.join(''));
      }
      if (m[2] === 'pem')
        return sendAttachment(reply, 'application/x-pem-file', `${rec.serial}.pem`, toPem('CERTIFICATE', rec.der));
      const parsed = parseCertificate(rec.der);
      return {
        certificate: {
          ...(await pairedCertificateView(rt, rec)),
          pem: toPem('CERTIFICATE', rec.der),
          extensions: parsed.extensions.map((e) => ({ oid: e.oid, critical: e.critical })),
          renews: rec.renews_serial,
        },
      };
    },
  );
}
