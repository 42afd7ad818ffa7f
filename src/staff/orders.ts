// Orders and money from the staff side: the offline-payment queue, confirming a remittance or
// transfer (through the one payment ledger, recordPayment), search, an order's full history,
// cancelling an unpaid order and recording refunds.
//
// Refund rule: an order's own payment is refunded only while the order is `paid` (before the
// certificate is issued): the order becomes `refunded` and its invoice is voided, in one
// transaction. After issuance the money stays (the holder has the certificate); what can still be
// refunded is an *extra* payment — money received for an order that was already paid or closed
// (`extra_payments`, one per trade) — which leaves the order as it is. Each payment is refunded at most
// once (UNIQUE channel + trade_no in `refunds`).
import { appendAudit, listAudit } from '../sa/audit.js';
import { offlineQueue, refundsForOrder, insertRefund, searchOrders, type OrderFilter } from '../sa/backoffice.js';
import { getCertificateByOrder } from '../sa/certificates.js';
import { isUniqueViolation, writeTransaction } from '../sa/database.js';
import { getHolder } from '../sa/holders.js';
import { invoiceForOrder } from '../sa/invoices.js';
import { addOrderEvent, getOrder, orderEvents, transitionOrder, type Order } from '../sa/orders.js';
import { extraPaymentsOf, paymentForOrder } from '../sa/payments.js';
import type { OrderState } from '../sa/schema.js';
import { RaError } from '../ra/errors.js';
import { fenToYuan, isFen } from '../ra/money.js';
import { findOrderByIdOrReference, recordPayment, type PaymentOutcome } from '../ra/payment-ledger.js';
import type { Runtime } from '../runtime.js';
import type { StaffContext } from './accounts.js';
import { conflict, invalid, notFound, StaffError } from './errors.js';

/** Order states as the console shows them in Chinese, for error messages. */
export const STATE_ZH: Record<OrderState, string> = {
  awaiting_payment: '待付款',
  paid: '已付款',
  issuing: '签发中',
  issued: '已签发',
  installed: '已安装',
  completed: '已完成',
  cancelled: '已取消',
  expired: '已过期',
  refunded: '已退款',
};

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
    if (!o)
      throw notFound({
        en: `no order with id or reference ${JSON.stringify(key)}`,
        zh: `没有编号或参考号为 ${JSON.stringify(key)} 的订单`,
      });
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
      getHolder(this.db, order.holder_id),
    ]);
    return { order, events, payment, refunds, invoice, certificate, audit, holder };
  }

  /** Confirms an offline payment (邮政汇款 / 银行转帐): the holder may update at once. */
  async confirmPayment(ctx: StaffContext, key: string, input: ConfirmInput): Promise<{ outcome: PaymentOutcome; order: Order }> {
    const reference = input.reference.trim();
    if (!reference || reference.length > 100)
      throw invalid(
        { en: 'enter the remittance/transfer reference (1–100 characters)', zh: '请填写汇款/转帐流水号（1–100 个字符）' },
        'reference',
      );
    if (!isFen(input.amountFen)) throw invalid({ en: 'enter the amount received', zh: '请填写实收金额' }, 'amount');
    const order = await this.find(key);
    if (order.payment_method === 'online')
      throw new StaffError(
        409,
        'method_mismatch',
        {
          en: `order ${order.id} is paid online (网银支付); offline confirmation does not apply`,
          zh: `订单 ${order.id} 为网银支付，不适用线下确认到账`,
        },
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
    }).catch((e: unknown) => {
      // the ledger's refusal, in the console's languages (same code, field and details)
      if (e instanceof RaError && e.code === 'amount_mismatch') {
        const zh = `实收金额 ${fenToYuan(input.amountFen)} 元与订单金额 ${fenToYuan(order.amount_fen)} 元不符`;
        throw new StaffError(422, e.code, { en: e.message, zh }, e.field, e.details);
      }
      if (e instanceof RaError && e.code === 'four_eyes') {
        const zh = `您批准了变更 ${order.id}，其到账须由另一位工作人员确认（双人复核）`;
        throw new StaffError(403, e.code, { en: e.message, zh }, e.field, e.details);
      }
      if (e instanceof RaError && e.code === 'awaiting_review') {
        const zh = `变更 ${order.id} 尚未审核通过，审核通过后方可确认到账`;
        throw new StaffError(409, e.code, { en: e.message, zh }, e.field, e.details);
      }
      throw e;
    });
    return { outcome, order: (await getOrder(this.db, order.id))! };
  }

  async cancel(ctx: StaffContext, key: string, reason: string): Promise<Order> {
    const order = await this.find(key);
    if (order.state !== 'awaiting_payment')
      throw conflict('invalid_state', {
        en: `order is ${order.state}; only an unpaid order can be cancelled`,
        zh: `订单${STATE_ZH[order.state]}：只有待付款的订单可以取消`,
      });
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
      throw invalid({ en: 'enter the reference of the refund transfer', zh: '请填写退款转帐的流水号' }, 'refundReference');
    if (!reason || reason.length > 500) throw invalid({ en: 'enter the reason for the refund', zh: '请填写退款原因' }, 'reason');
    if (!isFen(input.amountFen)) throw invalid({ en: 'enter the amount refunded', zh: '请填写退款金额' }, 'amount');
    const now = Date.now();
    try {
      await writeTransaction(this.rt.storage, async (tx) => {
        if (input.kind === 'order') {
          const current = (await getOrder(tx, order.id))!;
          if (current.state !== 'paid') {
            const state = STATE_ZH[current.state];
            throw conflict(
              'invalid_state',
              ['issuing', 'issued', 'installed', 'completed'].includes(current.state)
                ? {
                    en: `order is ${current.state}: the certificate has been (or is being) issued, so the order's payment is not refunded here`,
                    zh: `订单${state}：证书已签发（或正在签发），订单款不在此退还`,
                  }
                : {
                    en: `order is ${current.state}: only a paid order, before issuance, can be refunded`,
                    zh: `订单${state}：只有已付款且尚未签发证书的订单可以退款`,
                  },
            );
          }
          const payment = await paymentForOrder(tx, order.id);
          if (!payment) throw conflict('invalid_state', { en: 'the order has no recorded payment', zh: '该订单没有收款记录' });
          if (input.amountFen !== payment.amount_fen) {
            throw new StaffError(
              422,
              'amount_mismatch',
              {
                en: `a refund returns the whole payment: ¥${fenToYuan(payment.amount_fen)}, not ¥${fenToYuan(input.amountFen)}`,
                zh: `退款须退还全部付款 ${fenToYuan(payment.amount_fen)} 元，而不是 ${fenToYuan(input.amountFen)} 元`,
              },
              'amount',
            );
          }
          if (!(await transitionOrder(tx, order.id, ['paid'], 'refunded')))
            throw conflict('invalid_state', {
              en: 'the order changed state meanwhile; reload it',
              zh: '订单状态已被他人更改，请刷新后重试',
            });
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
        if (!tradeNo)
          throw invalid(
            { en: 'name the extra payment (its trade/transfer number)', zh: '请填写多付款的交易号/转帐流水号' },
            'tradeNo',
          );
        const extra = (await extraPaymentsOf(tx, order.id)).find((x) => x.trade_no === tradeNo);
        if (!extra)
          throw notFound({
            en: `order ${order.id} has no extra payment ${tradeNo}`,
            zh: `订单 ${order.id} 没有多付款 ${tradeNo}`,
          });
        if (extra.amount_fen !== input.amountFen) {
          throw new StaffError(
            422,
            'amount_mismatch',
            {
              en: `the extra payment was ¥${fenToYuan(extra.amount_fen)}: refund exactly that`,
              zh: `该笔多付款为 ${fenToYuan(extra.amount_fen)} 元，请按此金额退款`,
            },
            'amount',
          );
        }
        await insertRefund(tx, {
          order_id: order.id,
          kind: 'extra',
          channel: extra.channel,
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
      if (isUniqueViolation(e))
        throw conflict('already_refunded', { en: 'this payment has been refunded already', zh: '该笔付款已退款' });
      throw e;
    }
    return (await getOrder(this.db, order.id))!;
  }
}
