// Portal routes for 升级证书 (docs/PORTAL-API.md): the upgrades open to the certificate the holder
// logged in with, and the upgrade order (kind 'upgrade', paid and installed like a renewal through
// /api/portal/orders/:id/…). Rules are in ra/upgrade-service.ts.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { RaError } from '../../ra/errors.js';
import { parseOrderForm } from '../../ra/order-form.js';
import type { Order } from '../../sa/orders.js';
import { certificateView } from './views.js';
import { portalOf as ctx, holderActor as actor } from './session.js';
import type { OrderView, UpgradeOptionView, UpgradesView } from './shapes.js';

export function registerPortalUpgradeRoutes(
  app: FastifyInstance,
  rt: Runtime,
  session: (req: FastifyRequest) => Promise<void>,
  fullOrder: (o: Order) => Promise<OrderView>,
): void {
  const tags = ['portal'];

  app.get(
    '/api/portal/upgrades',
    { schema: { tags, summary: 'The upgrades open to this certificate (升级证书)' }, preHandler: session },
    async (req): Promise<UpgradesView> => {
      const q = await rt.upgrades.quote(ctx(req).session.certificate_serial);
      return {
        certificate: certificateView(rt, q.certificate),
        certificateType: { code: q.from.code, name: q.from.name, nameEn: q.from.name_en },
        refusal: q.refusal,
        options: q.options.map((o): UpgradeOptionView => ({
          toType: o.to.code,
          name: o.to.name,
          nameEn: o.to.name_en,
          keyType: o.keyType,
          dual: o.dual,
          termYears: o.path.term_years,
          priceFen: o.path.price_fen,
          carryOver: o.path.carry_over === 1,
          notAfter: o.notAfter.toISOString(),
        })),
        paymentMethods: q.paymentMethods,
        openOrder: q.openOrder ? await fullOrder(q.openOrder) : null,
      };
    },
  );

  app.post(
    '/api/portal/upgrades/orders',
    { schema: { tags, summary: 'Open an upgrade order (升级证书 → 确认)', body: { type: 'object' } }, preHandler: session },
    async (req, reply) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (typeof body.toType !== 'string' || body.toType === '')
        throw new RaError('invalid', 'toType is required: the certificate type to upgrade to', 'toType');
      const { termYears: _t, ...form } = parseOrderForm({ ...body, termYears: 1 });
      const order = await rt.upgrades.createOrder(ctx(req).session.certificate_serial, body.toType, form, actor(req));
      return reply.code(201).send({ order: await fullOrder(order) });
    },
  );
}
