// Orders and money from the staff side: the offline-payment queue, confirming a remittance or
// transfer (through the one payment ledger, recordPayment), search, an order's full history,
// cancelling an unpaid order and recording refunds.
//
// Refund rule: an order's own payment is refunded only while the order is `paid` (before the
// certificate is issued): the order becomes `refunded` and its invoice is voided, in one
// transaction. After issuance the money stays (the holder has the certificate); what can still be
// refunded is an *extra* payment — money received for an order that was already paid or closed
// (`payment.extra` events) — which leaves the order as it is. Each payment is refunded at most
// once (UNIQUE channel + trade_no in `refunds`).
import { appendAudit, listAudit } from '../sa/audit.js';
import { offlineQueue, refundsForOrder, insertRefund, searchOrders, type OrderFilter } from '../sa/backoffice.js';
import { getCertificateByOrder } from '../sa/certificates.js';
import { isUniqueViolation, writeTransaction } from '../sa/database.js';
import { getHolder } from '../sa/holders.js';
import { invoiceForOrder } from '../sa/invoices.js';
import { addOrderEvent, getOrder, orderEvents, transitionOrder, type Order } from '../sa/orders.js';
import { paymentForOrder } from '../sa/payments.js';
import { fenToYuan } from '../ra/money.js';
import { findOrderByIdOrReference, recordPayment, type PaymentOutcome } from '../ra/payment-ledger.js';
import type { Runtime } from '../runtime.js';
import type { StaffContext } from './accounts.js';
import { conflict, invalid, notFound, StaffError } from './errors.js';

export interface ConfirmInput {
  /** the remittance/transfer reference from the bank or post office */
  reference: string;
  amountFen: number;
  /** when the money arrived (default now) */
  receivedAt?: number;
  note?: string;
}

export interface RefundInput {
  kind: 'order' | 'extra';
  /** for kind extra: the trade number of the extra payment */
  tradeNo?: string;
  amountFen: number;
  /** the outgoing transfer's reference */
  refundReference: string;
  reason: string;
}

export class StaffOrders {
  constructor(readonly rt: Runtime) {}

  private get db() {
    return this.rt.storage.db;
  }

  queue(limit: number, offset: number) {
    return offlineQueue(this.db, limit, offset);
  }

  search(f: OrderFilter) {
    return searchOrders(this.db, f);
  }

  async find(key: string): Promise<Order> {
    const o = await findOrderByIdOrReference(this.rt.storage, key.trim());
    if (!o) throw notFound(`no order with id or reference ${JSON.stringify(key)}`);
    return o;
  }

  /** An order with everything that happened to it: events, payment, refunds, invoice, certificate, audit entries. */
  async detail(key: string) {
    const order = await this.find(key);
    const [events, payment, refunds, invoice, certificate, audit, holder] = await Promise.all([
      orderEvents(this.db, order.id),
      paymentForOrder(this.db, order.id),
      refundsForOrder(this.db, order.id),
      invoiceForOrder(this.db, order.id),
      getCertificateByOrder(this.db, order.id),
      listAudit(this.db, { target: order.id, limit: 500 }),
      order.holder_id !== null ? getHolder(this.db, order.holder_id) : Promise.resolve(undefined),
    ]);
    return { order, events, payment, refunds, invoice, certificate, audit, holder };
  }

  /** Confirms an offline payment (邮政汇款 / 银行转帐): the holder may update at once. */
  async confirmPayment(ctx: StaffContext, key: string, input: ConfirmInput): Promise<{ outcome: PaymentOutcome; order: Order }> {
    const reference = input.reference.trim();
    if (!reference || reference.length > 100)
      throw invalid('enter the remittance/transfer reference (1–100 characters)', 'reference');
    if (!Number.isSafeInteger(input.amountFen) || input.amountFen <= 0) throw invalid('enter the amount received', 'amount');
    const order = await this.find(key);
    if (order.payment_method === 'online')
      throw new StaffError(
        409,
        'method_mismatch',
        `order ${order.id} is paid online (网银支付); offline confirmation does not apply`,
        'order',
      );
    const outcome = await recordPayment(this.rt.storage, {
      orderId: order.id,
      channel: order.payment_method,
      tradeNo: reference,
      amountFen: input.amountFen,
      paidAt: input.receivedAt ?? Date.now(),
      raw: { reference, amountFen: input.amountFen, note: input.note ?? null, confirmedBy: ctx.actor, via: 'staff-console' },
      actor: ctx.actor,
    });
    return { outcome, order: (await getOrder(this.db, order.id))! };
  }

  async cancel(ctx: StaffContext, key: string, reason: string): Promise<Order> {
    const order = await this.find(key);
    if (order.state !== 'awaiting_payment')
      throw conflict('invalid_state', `order is ${order.state}; only an unpaid order can be cancelled`);
    const r = reason.trim().slice(0, 500);
    const cancelled = await this.rt.renewals.cancel(order, ctx.actor);
    if (r) {
      await writeTransaction(this.rt.storage, async (tx) => {
        await addOrderEvent(tx, order.id, 'cancel.reason', ctx.actor, { reason: r });
        await appendAudit(tx, [{ actor: ctx.actor, action: 'order.cancel_reason', target: order.id, details: { reason: r } }]);
      });
    }
    return cancelled;
  }

  async refund(ctx: StaffContext, key: string, input: RefundInput): Promise<Order> {
    const order = await this.find(key);
    const refundReference = input.refundReference.trim();
    const reason = input.reason.trim();
    if (!refundReference || refundReference.length > 100)
      throw invalid('enter the reference of the refund transfer', 'refundReference');
    if (!reason || reason.length > 500) throw invalid('enter the reason for the refund', 'reason');
    if (!Number.isSafeInteger(input.amountFen) || input.amountFen <= 0) throw invalid('enter the amount refunded', 'amount');
    const now = Date.now();
    try {
      await writeTransaction(this.rt.storage, async (tx) => {
        if (input.kind === 'order') {
          const current = (await getOrder(tx, order.id))!;
          if (current.state !== 'paid') {
            throw conflict(
              'invalid_state',
              ['issuing', 'issued', 'installed', 'completed'].includes(current.state)
                ? `order is ${current.state}: the certificate has been (or is being) issued, so the order's payment is not refunded here`
                : `order is ${current.state}: only a paid order, before issuance, can be refunded`,
            );
          }
          const payment = await paymentForOrder(tx, order.id);
          if (!payment) throw conflict('invalid_state', 'the order has no recorded payment');
          if (input.amountFen !== payment.amount_fen) {
            throw new StaffError(
              422,
              'amount_mismatch',
              `a refund returns the whole payment: ¥${fenToYuan(payment.amount_fen)}, not ¥${fenToYuan(input.amountFen)}`,
              'amount',
            );
          }
          if (!(await transitionOrder(tx, order.id, ['paid'], 'refunded')))
            throw conflict('invalid_state', 'the order changed state meanwhile; reload it');
          await insertRefund(tx, {
            order_id: order.id,
            kind: 'order',
            channel: payment.channel,
            trade_no: payment.trade_no,
            amount_fen: input.amountFen,
            refund_reference: refundReference,
            reason,
            recorded_by: ctx.actor,
            recorded_at: now,
          });
          await tx
            .updateTable('invoices')
            .set({ status: 'void', voided_at: now, void_reason: `refunded: ${reason}` })
            .where('order_id', '=', order.id)
            .where('status', '=', 'issued')
            .execute();
          await addOrderEvent(tx, order.id, 'refunded', ctx.actor, {
            amountFen: input.amountFen,
            refundReference,
            reason,
            tradeNo: payment.trade_no,
          });
          await appendAudit(tx, [
            {
              actor: ctx.actor,
              action: 'order.refunded',
              target: order.id,
              details: {
                amountFen: input.amountFen,
                channel: payment.channel,
                tradeNo: payment.trade_no,
                refundReference,
                reason,
              },
            },
          ]);
          return;
        }
        const tradeNo = (input.tradeNo ?? '').trim();
        if (!tradeNo) throw invalid('name the extra payment (its trade/transfer number)', 'tradeNo');
        const extra = (await orderEvents(tx, order.id))
          .filter((e) => e.type === 'payment.extra')
          .map((e) => JSON.parse(e.detail) as { channel?: string; tradeNo?: string; amountFen?: number })
          .find((d) => d.tradeNo === tradeNo);
        if (!extra) throw notFound(`order ${order.id} has no extra payment ${tradeNo}`);
        if (extra.amountFen !== input.amountFen) {
          throw new StaffError(
            422,
            'amount_mismatch',
            `the extra payment was ¥${fenToYuan(extra.amountFen ?? 0)}: refund exactly that`,
            'amount',
          );
        }
        await insertRefund(tx, {
          order_id: order.id,
          kind: 'extra',
          channel: extra.channel ?? order.payment_method,
          trade_no: tradeNo,
          amount_fen: input.amountFen,
          refund_reference: refundReference,
          reason,
          recorded_by: ctx.actor,
          recorded_at: now,
        });
        await addOrderEvent(tx, order.id, 'refund.extra', ctx.actor, {
          amountFen: input.amountFen,
          tradeNo,
          refundReference,
          reason,
        });
        await appendAudit(tx, [
          {
            actor: ctx.actor,
            action: 'payment.extra_refunded',
            target: order.id,
            details: { amountFen: input.amountFen, tradeNo, refundReference, reason },
          },
        ]);
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict('already_refunded', 'this payment has been refunded already');
      throw e;
    }
    return (await getOrder(this.db, order.id))!;
  }
}
