// Portal routes for 应用开通 (docs/PORTAL-API.md): the relying applications open to the holder's
// certificate with what is enabled, enabling one for a term (an order of kind 'app', paid like any
// other), and ending an enablement. Rules are in ra/app-enablements.ts.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseOrderForm } from '../../ra/order-form.js';
import type { Runtime } from '../../runtime.js';
import { enabledPaymentMethods } from '../../sa/catalogue.js';
import type { Order } from '../../sa/orders.js';
import type { AppOfferView } from '../../shared/app-views.js';
import { portalOf as ctx, holderActor as actor } from './session.js';
import type { OrderView } from './shapes.js';

export function registerPortalAppRoutes(
  app: FastifyInstance,
  rt: Runtime,
  session: (req: FastifyRequest) => Promise<void>,
  fullOrder: (o: Order) => Promise<OrderView>,
): void {
  const tags = ['portal'];

  app.get(
    '/api/portal/apps',
    {
      schema: { tags, summary: 'Relying applications open to this certificate, and what is enabled (应用开通)' },
      preHandler: session,
    },
    async (req): Promise<{ apps: AppOfferView[]; paymentMethods: string[] }> => {
      const c = ctx(req).session;
      const offers = await rt.apps.offers(c.holder_id, c.certificate_serial);
      return {
        apps: offers.map(({ app: a, active }) => ({
          id: a.id,
          name: a.name,
          nameEn: a.name_en,
          description: a.description,
          feePerYearFen: a.fee_per_year_fen,
          enabled: active
            ? {
                startsAt: new Date(active.starts_at).toISOString(),
                endsAt: new Date(active.ends_at).toISOString(),
                state: active.state,
              }
            : null,
        })),
        paymentMethods: await enabledPaymentMethods(rt.storage.db),
      };
    },
  );

  app.post<{ Params: { id: string } }>(
    '/api/portal/apps/:id/enable',
    {
      schema: { tags, summary: 'Enable (or extend) an application for a term: an order', body: { type: 'object' } },
      preHandler: session,
    },
    async (req, reply) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const years = Number(body.years);
      const { termYears: _t, ...form } = parseOrderForm({ ...body, termYears: 1 });
      const c = ctx(req).session;
      const order = await rt.apps.enable(c.holder_id, c.certificate_serial, req.params.id, years, form, actor(req));
      return reply.code(201).send({ order: await fullOrder(order) });
    },
  );

  app.post<{ Params: { id: string } }>(
    '/api/portal/apps/:id/end',
    { schema: { tags, summary: 'End an enablement (no refund)' }, preHandler: session },
    async (req) => {
      const c = ctx(req).session;
      // AppEnablements.end answers 404 when nothing is enabled
      return { ended: await rt.apps.end(c.holder_id, req.params.id, actor(req)) };
    },
  );
}
