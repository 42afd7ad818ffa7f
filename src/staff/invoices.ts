// Invoices from the staff side: the list (paper invoices to mail first), marking a paper invoice
// mailed with the carrier and tracking number (the holder sees it in the order's history), and the
// electronic PDF, rendered once from the record frozen at payment time and stored.
import { createHash } from 'node:crypto';
import { appendAudit } from '../sa/audit.js';
import { writeTransaction } from '../sa/database.js';
import {
  createInvoiceForPayment,
  invoiceForOrder,
  invoiceIssuer,
  invoicePdf,
  listInvoices,
  storeInvoicePdf,
  type InvoiceFilter,
  type InvoiceSummary,
} from '../sa/invoices.js';
import { addOrderEvent, getOrder } from '../sa/orders.js';
import { paymentForOrder } from '../sa/payments.js';
import { PAID_STATES } from '../ra/order-states.js';
import type { Runtime } from '../runtime.js';
import type { StaffContext } from './accounts.js';
import { conflict, invalid, notFound } from './errors.js';
import { renderInvoicePdf } from './invoice-pdf.js';
import { STATE_ZH } from './orders.js';

export class StaffInvoices {
  constructor(readonly rt: Runtime) {}

  private get storage() {
    return this.rt.storage;
  }

  list(f: InvoiceFilter) {
    return listInvoices(this.storage.db, f);
  }

  /** The order's invoice; a paid order from before the invoice records existed gets one now. */
  async forOrder(orderId: string): Promise<InvoiceSummary> {
    const existing = await invoiceForOrder(this.storage.db, orderId);
    if (existing) return existing;
    const order = await getOrder(this.storage.db, orderId);
    if (!order) throw notFound({ en: `no order ${orderId}`, zh: `订单 ${orderId} 不存在` });
    const payment = await paymentForOrder(this.storage.db, orderId);
    if (!payment || (!PAID_STATES.includes(order.state) && order.state !== 'refunded'))
      throw notFound({
        en: `order ${orderId} is ${order.state}: it has no invoice`,
        zh: `订单 ${orderId} ${STATE_ZH[order.state]}，没有发票`,
      });
    return writeTransaction(this.storage, (tx) =>
      createInvoiceForPayment(tx, order, {
        channel: payment.channel,
        tradeNo: payment.trade_no,
        amountFen: payment.amount_fen,
        paidAt: payment.paid_at,
        actor: 'system:invoice-backfill',
      }),
    );
  }

  async markMailed(ctx: StaffContext, orderId: string, carrier: string, trackingNo: string): Promise<InvoiceSummary> {
    const c = carrier.trim();
    const t = trackingNo.trim();
    if (!c || c.length > 50)
      throw invalid({ en: 'enter the carrier (e.g. EMS, 顺丰速运)', zh: '请填写承运商（如 EMS、顺丰速运）' }, 'carrier');
    if (!/^[A-Za-z0-9-]{4,40}$/.test(t))
      throw invalid(
        { en: 'enter the tracking number (4–40 letters, digits or -)', zh: '请填写运单号（4–40 位字母、数字或 -）' },
        'trackingNo',
      );
    const inv = await this.forOrder(orderId);
    const now = Date.now();
    await writeTransaction(this.storage, async (tx) => {
      const r = await tx
        .updateTable('invoices')
        .set({ paper_status: 'mailed', carrier: c, tracking_no: t, mailed_at: now, mailed_by: ctx.actor })
        .where('order_id', '=', inv.order_id)
        .where('paper_status', '=', 'to_mail')
        .where('status', '=', 'issued')
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) {
        throw conflict(
          'invalid_state',
          inv.status === 'void'
            ? { en: 'the invoice is void (refunded)', zh: '该发票已作废（已退款）' }
            : inv.paper_status === 'mailed'
              ? {
                  en: `already mailed (${inv.carrier} ${inv.tracking_no})`,
                  zh: `纸质发票已寄出（${inv.carrier} ${inv.tracking_no}）`,
                }
              : { en: 'no paper invoice is to be mailed for this order', zh: '该订单没有需要邮寄的纸质发票' },
        );
      }
      await addOrderEvent(tx, inv.order_id, 'invoice.mailed', ctx.actor, { carrier: c, trackingNo: t, number: inv.number });
      await appendAudit(tx, [
        {
          actor: ctx.actor,
          action: 'invoice.mailed',
          target: inv.order_id,
          details: { number: inv.number, carrier: c, trackingNo: t },
        },
      ]);
    });
    return (await invoiceForOrder(this.storage.db, inv.order_id))!;
  }

  /** The e-invoice PDF: stored bytes, or rendered from the frozen record and stored (void invoices are stamped, not stored). */
  async pdf(orderId: string): Promise<{ pdf: Buffer; invoice: InvoiceSummary }> {
    const invoice = await this.forOrder(orderId);
    if (invoice.status === 'issued') {
      const stored = await invoicePdf(this.storage.db, orderId);
      if (stored) return { pdf: stored, invoice };
    }
    const order = (await getOrder(this.storage.db, orderId))!;
    const issuer = await invoiceIssuer(this.storage.db);
    const pdf = await renderInvoicePdf({
      invoice,
      orderId,
      reference: order.reference,
      issuerAddress: issuer.address,
      issuerPhone: issuer.phone,
      ...(this.rt.config.invoiceFont ? { font: this.rt.config.invoiceFont } : {}),
    });
    if (invoice.status === 'issued') {
      await storeInvoicePdf(this.storage.db, orderId, pdf, createHash('sha256').update(pdf).digest('hex'));
      return { pdf: (await invoicePdf(this.storage.db, orderId)) ?? pdf, invoice };
    }
    return { pdf, invoice };
  }
}
