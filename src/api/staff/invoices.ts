// Invoices: list, an order's invoice, marking the paper invoice mailed, the PDF.
import { StaffInvoices } from '../../staff/invoices.js';
import { StaffOrders } from '../../staff/orders.js';
import { listParam, paging, str, type Body, type Q } from './params.js';
import type { StaffRoutes } from './staff-routes.js';
import { sendAttachment } from '../attachment.js';
import { invoiceView } from './views.js';

export function registerStaffInvoiceRoutes({ api, rt, need, ctx, tags }: StaffRoutes): void {
  const orders = new StaffOrders(rt);
  const invoices = new StaffInvoices(rt);
  api.get<{ Querystring: Q }>(
    '/api/staff/invoices',
    {
      schema: { tags, summary: 'Invoices; paperStatus=to_mail lists the paper invoices to mail, oldest first' },
      preHandler: need('invoices.read'),
    },
    async (req) => {
      const q = req.query;
      const p = paging(q);
      const paperStatus = listParam(q.paperStatus, ['to_mail', 'mailed', 'not_required'] as const, 'paperStatus')?.[0];
      const status = listParam(q.status, ['issued', 'void'] as const, 'status')?.[0];
      const r = await invoices.list({
        ...(paperStatus ? { paperStatus } : {}),
        ...(status ? { status } : {}),
        ...(q.q ? { q: q.q } : {}),
        limit: p.limit,
        offset: p.offset,
      });
      return { items: r.rows.map(invoiceView), total: r.total, page: p.page, pageSize: p.pageSize };
    },
  );

  api.get<{ Params: { id: string } }>(
    '/api/staff/orders/:id/invoice',
    { schema: { tags, summary: "The order's invoice" }, preHandler: need('invoices.read') },
    async (req) => ({
      invoice: invoiceView(await invoices.forOrder((await orders.find(req.params.id)).id)),
    }),
  );

  api.post<{ Params: { id: string }; Body: Body }>(
    '/api/staff/orders/:id/invoice/mailed',
    { schema: { tags, summary: 'Mark the paper invoice mailed', body: { type: 'object' } }, preHandler: need('invoices.mail') },
    async (req) => ({
      invoice: invoiceView(
        await invoices.markMailed(
          ctx(req),
          (await orders.find(req.params.id)).id,
          str(req.body, 'carrier'),
          str(req.body, 'trackingNo'),
        ),
      ),
    }),
  );

  api.get<{ Params: { id: string } }>(
    '/api/staff/orders/:id/invoice.pdf',
    { schema: { tags, summary: 'The electronic invoice (PDF)' }, preHandler: need('invoices.read') },
    async (req, reply) => {
      const { pdf, invoice } = await invoices.pdf((await orders.find(req.params.id)).id);
      return sendAttachment(reply, 'application/pdf', `${invoice.number}.pdf`, pdf);
    },
  );
}
