// Offline payments: the 邮政汇款 / 银行转帐 queue, confirming a payment, importing a bank statement.
import { importStatement } from '../../staff/statement.js';
import { StaffOrders } from '../../staff/orders.js';
import { amountOf, paging, str, timeParam, type Body, type Q } from './params.js';
import type { StaffRoutes } from './staff-routes.js';
import { orderView } from './views.js';

export function registerStaffPaymentRoutes({ api, rt, need, ctx, tags }: StaffRoutes): void {
  const orders = new StaffOrders(rt);
  api.get<{ Querystring: Q }>(
    '/api/staff/queue/offline-payments',
    { schema: { tags, summary: 'Orders awaiting 邮政汇款 / 银行转帐, oldest first' }, preHandler: need('orders.read') },
    async (req) => {
      const p = paging(req.query);
      const r = await orders.queue(p.limit, p.offset);
      return {
        items: r.rows.map(orderView),
        total: r.total,
        ...(r.capped ? { totalCapped: true } : {}),
        page: p.page,
        pageSize: p.pageSize,
      };
    },
  );

  api.post<{ Params: { id: string }; Body: Body }>(
    '/api/staff/orders/:id/confirm-payment',
    {
      schema: { tags, summary: 'Confirm an offline payment (reference and amount received)', body: { type: 'object' } },
      preHandler: need('payments.confirm'),
    },
    async (req) => {
      const received = str(req.body, 'receivedAt', false);
      const receivedAt = received ? timeParam(received, 'receivedAt') : undefined;
      const r = await orders.confirmPayment(ctx(req), req.params.id, {
        reference: str(req.body, 'reference'),
        amountFen: amountOf(req.body),
        ...(receivedAt !== undefined ? { receivedAt } : {}),
        note: str(req.body, 'note', false),
      });
      // an approved seal application waits only for this payment: make the seal now
      // (the payment is recorded whatever happens here: a failed making is retried by the order job)
      if (r.order.kind === 'seal' && r.outcome === 'recorded')
        await rt.seals
          .makeIfReady(r.order.id, ctx(req).actor)
          .catch((e: unknown) => req.log.warn({ err: e }, 'making the seal failed'));
      return { outcome: r.outcome, order: orderView(r.order) };
    },
  );

  api.post<{ Body: Body }>(
    '/api/staff/statements',
    {
      schema: {
        tags,
        summary: 'Import a bank statement (CSV): match reference codes, record payments',
        body: { type: 'object' },
      },
      preHandler: need('statements.import'),
      bodyLimit: 8 * 1024 * 1024,
    },
    async (req) => importStatement(rt, ctx(req), str(req.body, 'filename', false) || 'statement.csv', str(req.body, 'content')),
  );
}
