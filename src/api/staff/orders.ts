// Orders: search, detail with history, cancel, refund.
import { invalid } from '../../staff/errors.js';
import { StaffOrders } from '../../staff/orders.js';
import { amountOf, listParam, METHODS, ORDER_STATES, paging, str, timeParam, type Body, type Q } from './params.js';
import type { StaffRoutes } from './staff-routes.js';
import type { StaffOrderDetailView } from './shapes.js';
import { auditView, eventView, invoiceView, orderView, paymentView, refundView } from './views.js';

export function registerStaffOrderRoutes({ api, rt, need, ctx, tags }: StaffRoutes): void {
  const orders = new StaffOrders(rt);
  api.get<{ Querystring: Q }>(
    '/api/staff/orders',
    { schema: { tags, summary: 'Search orders' }, preHandler: need('orders.read') },
    async (req) => {
      const q = req.query;
      const p = paging(q);
      const states = listParam(q.state, ORDER_STATES, 'state');
      const methods = listParam(q.method, METHODS, 'method');
      const from = timeParam(q.from, 'from');
      const to = timeParam(q.to, 'to', true);
      const r = await orders.search({
        ...(q.name ? { name: q.name } : {}),
        ...(q.uniqueId ? { uniqueId: q.uniqueId } : {}),
        ...(q.order ? { order: q.order } : {}),
        ...(states ? { states } : {}),
        ...(methods ? { methods } : {}),
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
        limit: p.limit,
        offset: p.offset,
      });
      return {
        items: r.rows.map(orderView),
        total: r.total,
        ...(r.capped ? { totalCapped: true } : {}),
        page: p.page,
        pageSize: p.pageSize,
      };
    },
  );

  api.get<{ Params: { id: string } }>(
    '/api/staff/orders/:id',
    { schema: { tags, summary: 'An order with its full history' }, preHandler: need('orders.read') },
    async (req): Promise<StaffOrderDetailView> => {
      const d = await orders.detail(req.params.id);
      return {
        order: orderView({ ...d.order, holder_unique_id: d.holder?.unique_id ?? null, holder_name: d.holder?.name ?? null }),
        events: d.events.map(eventView),
        payment: d.payment ? paymentView(d.payment) : null,
        refunds: d.refunds.map(refundView),
        invoice: d.invoice ? invoiceView(d.invoice) : null,
        certificate: d.certificate
          ? {
              serial: d.certificate.serial,
              notAfter: new Date(d.certificate.not_after).toISOString(),
              status: d.certificate.status,
            }
          : null,
        audit: d.audit.map(auditView),
      };
    },
  );

  api.post<{ Params: { id: string }; Body: Body }>(
    '/api/staff/orders/:id/cancel',
    { schema: { tags, summary: 'Cancel an unpaid order', body: { type: 'object' } }, preHandler: need('orders.cancel') },
    async (req) => ({
      order: orderView(await orders.cancel(ctx(req), req.params.id, str(req.body, 'reason', false))),
    }),
  );

  api.post<{ Params: { id: string }; Body: Body }>(
    '/api/staff/orders/:id/refund',
    { schema: { tags, summary: 'Record a refund', body: { type: 'object' } }, preHandler: need('orders.refund') },
    async (req) => {
      const kind = str(req.body, 'kind');
      if (kind !== 'order' && kind !== 'extra')
        throw invalid({ en: 'kind must be order or extra', zh: 'kind 须为 order（订单款）或 extra（多付款）' }, 'kind');
      const order = await orders.refund(ctx(req), req.params.id, {
        kind,
        tradeNo: str(req.body, 'tradeNo', false),
        amountFen: amountOf(req.body),
        refundReference: str(req.body, 'refundReference'),
        reason: str(req.body, 'reason'),
      });
      return { order: orderView(order) };
    },
  );
}
