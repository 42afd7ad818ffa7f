// The holder's side of invoices: the e-invoice PDF of an own paid order, behind the portal session
// (the portal's own routes stay in src/api/portal/). The mailing of the paper invoice reaches the
// holder as the order event `invoice.mailed` (carrier, tracking number) in the order's history.
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.js';
import { RaError } from '../../ra/errors.js';
import { getOrder } from '../../sa/orders.js';
import type { StaffInvoices } from '../../staff/invoices.js';
import { requireSession } from '../portal/session.js';
import { sendPdf } from './views.js';

export function registerHolderInvoiceRoute(app: FastifyInstance, rt: Runtime, invoices: StaffInvoices): void {
  app.get<{ Params: { id: string } }>(
    '/api/portal/orders/:id/invoice.pdf',
    {
      schema: { tags: ['portal'], summary: "The electronic invoice (PDF) of the holder's paid order" },
      preHandler: requireSession(rt, { allowRenewalOnly: true }),
    },
    async (req, reply) => {
      const c = req.portal!;
      const order = await getOrder(rt.storage.db, req.params.id);
      const mine =
        order &&
        (c.session.holder_id !== null
          ? order.holder_id === c.session.holder_id
          : order.certificate_serial === c.session.certificate_serial);
      if (!order || !mine) throw new RaError('not_found', `no order ${req.params.id}`);
      const { pdf, invoice } = await invoices.pdf(order.id).catch((e: unknown) => {
        throw e instanceof Error && e.name === 'StaffError' ? new RaError('not_found', e.message) : e;
      });
      return sendPdf(reply, pdf, `${invoice.number}.pdf`);
    },
  );
}
