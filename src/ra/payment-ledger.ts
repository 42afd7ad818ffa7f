// The one place a payment becomes "paid": gateway notifications, active queries and staff confirming
// an offline transfer all end here. In one serialised transaction it checks the amount (whole
// positive fen, money.ts) and the order, records the payment (UNIQUE per order and per transaction)
// and moves the order to paid — so duplicate notifications change nothing and one order is never
// recorded as paid twice. Money the order did not need (a second trade for a paid order, a payment
// for a closed one) is recorded once per (channel, trade_no) as an extra payment to refund: repeats
// of it change nothing either. An order that costs nothing (a ¥0 change of details) becomes paid here
// too, without a payment row (settleWithoutPayment). A change order takes no money before its
// review approves it, nor from the staff member who approved it (four eyes): changeRefusal.
import { appendAudit } from '../sa/audit.js';
import { getChangeReview } from '../sa/change-requests.js';
import type { Executor } from '../sa/database.js';
import { writeTransaction, type Storage, type Tx } from '../sa/database.js';
import { createInvoiceForPayment } from '../sa/invoices.js';
import { getHolder } from '../sa/holders.js';
import { addOrderEvent, getOrder, getOrderByReference, transitionOrder, type Order } from '../sa/orders.js';
import { insertExtraPayment, insertPayment, paymentForOrder } from '../sa/payments.js';
import { enqueueOrderNotice } from '../notify/order-notices.js';
import { RaError } from './errors.js';
import { AmountError, checkFen, fenToYuan } from './money.js';

export interface IncomingPayment {
  orderId: string;
  /** 'sandbox' (gateway id), 'postal' or 'bank' */
  channel: string;
  tradeNo: string;
  amountFen: number;
  paidAt: number;
  raw: Record<string, unknown>;
  actor: string;
}

/** recorded: the order is now paid; duplicate: this very payment was recorded before; extra: money for an order already paid or closed (to refund). */
export type PaymentOutcome = 'recorded' | 'duplicate' | 'extra';

/** Records money the order did not need, once per (channel, trade_no): 'duplicate' when it is on record. */
async function recordExtra(tx: Tx, order: Order, p: IncomingPayment, note: string): Promise<PaymentOutcome> {
  const inserted = await insertExtraPayment(tx, {
    order_id: order.id,
    channel: p.channel,
    trade_no: p.tradeNo,
    amount_fen: p.amountFen,
    paid_at: p.paidAt,
    recorded_at: Date.now(),
    recorded_by: p.actor,
    raw: JSON.stringify(p.raw),
  });
  if (!inserted) return 'duplicate';
  await addOrderEvent(tx, order.id, 'payment.extra', p.actor, {
    channel: p.channel,
    tradeNo: p.tradeNo,
    amountFen: p.amountFen,
    note,
  });
  await appendAudit(tx, [
    {
      actor: p.actor,
      action: 'payment.extra',
      target: order.id,
      details: { channel: p.channel, tradeNo: p.tradeNo, amountFen: p.amountFen, state: order.state },
    },
  ]);
  return 'extra';
}

/**
 * Why a change order (变更证书) cannot take this payment now, if it cannot: its review has not
 * approved it (nothing is paid — so nothing issued — before approval), or `actor` is the reviewer
 * who approved it (the one who approves a change is not the one who confirms its money).
 */
export async function changeRefusal(db: Executor, order: Order, actor: string): Promise<RaError | undefined> {
  if (order.kind !== 'change') return undefined;
  const review = await getChangeReview(db, order.id);
  if (review?.decision !== 'approved')
    return new RaError(
      'awaiting_review',
      `order ${order.id} is a change of certificate details ${review ? 'that was rejected' : 'awaiting review'}: ` +
        'it can be paid only once a reviewer has approved it',
      'order',
    );
  if (review.reviewer === actor)
    return new RaError(
      'four_eyes',
      `${actor} approved change ${order.id}: another staff member must confirm its payment (four eyes)`,
      'order',
      { reviewer: review.reviewer },
    );
  return undefined;
}

/**
 * A ¥0 order (the catalogue charges nothing for it) needs no payment: it moves
 * awaiting_payment → paid here, with no payment row and no invoice, inside the caller's
 * transaction. False when it was not awaiting payment (someone else moved it).
 */
export async function settleWithoutPayment(tx: Tx, order: Order, actor: string): Promise<boolean> {
  if (order.amount_fen !== 0) throw new Error(`order ${order.id} costs ${order.amount_fen} fen: it must be paid`);
  const now = Date.now();
  if (!(await transitionOrder(tx, order.id, ['awaiting_payment'], 'paid', { paid_at: now }))) return false;
  await addOrderEvent(tx, order.id, 'paid', actor, { amountFen: 0, paymentRequired: false });
  await appendAudit(tx, [{ actor, action: 'payment.not_required', target: order.id, details: { amountFen: 0 } }]);
  return true;
}

export async function recordPayment(storage: Storage, p: IncomingPayment): Promise<PaymentOutcome> {
  try {
    checkFen(p.amountFen);
  } catch (e) {
    if (e instanceof AmountError) throw new RaError('invalid', e.message, 'amount');
    throw e;
  }
  const result = await writeTransaction(storage, async (tx): Promise<PaymentOutcome | RaError> => {
    const order = await getOrder(tx, p.orderId);
    if (!order) throw new RaError('not_found', `no order ${p.orderId}`, 'order');
    const existing = await paymentForOrder(tx, order.id);
    if (existing) {
      if (existing.channel === p.channel && existing.trade_no === p.tradeNo) return 'duplicate';
      return recordExtra(tx, order, p, 'order already paid: refund this payment');
    }
    const refused = await changeRefusal(tx, order, p.actor);
    if (refused) {
      // kept, like a wrong amount: money that arrived is on record for staff to match or refund
      await addOrderEvent(tx, order.id, 'payment.rejected', p.actor, {
        channel: p.channel,
        tradeNo: p.tradeNo,
        amountFen: p.amountFen,
        reason: refused.code,
      });
      await appendAudit(tx, [
        {
          actor: p.actor,
          action: 'payment.rejected',
          target: order.id,
          details: { channel: p.channel, tradeNo: p.tradeNo, amountFen: p.amountFen, reason: refused.code },
        },
      ]);
      return refused;
    }
    if (p.amountFen !== order.amount_fen) {
      // Kept (the transaction commits the event) and reported to the caller after commit.
      await addOrderEvent(tx, order.id, 'payment.rejected', p.actor, {
        channel: p.channel,
        tradeNo: p.tradeNo,
        amountFen: p.amountFen,
        reason: 'amount_mismatch',
      });
      await appendAudit(tx, [
        {
          actor: p.actor,
          action: 'payment.rejected',
          target: order.id,
          details: { channel: p.channel, tradeNo: p.tradeNo, amountFen: p.amountFen, expectedFen: order.amount_fen },
        },
      ]);
      return new RaError(
        'amount_mismatch',
        `amount received ¥${fenToYuan(p.amountFen)} does not match the order's ¥${fenToYuan(order.amount_fen)}`,
        'amount',
      );
    }
    const expectedChannel = order.payment_method === 'online' ? undefined : order.payment_method;
    if (expectedChannel && p.channel !== expectedChannel) {
      throw new RaError(
        'method_mismatch',
        `order ${order.id} is to be paid by ${order.payment_method}, not ${p.channel}`,
        'channel',
      );
    }
    if (order.state !== 'awaiting_payment' && order.state !== 'expired')
      return recordExtra(tx, order, p, `order is ${order.state}: refund this payment`);
    const now = Date.now();
    await insertPayment(tx, {
      order_id: order.id,
      channel: p.channel,
      trade_no: p.tradeNo,
      amount_fen: p.amountFen,
      paid_at: p.paidAt,
      recorded_at: now,
      recorded_by: p.actor,
      raw: JSON.stringify(p.raw),
    });
    const moved = await transitionOrder(tx, order.id, ['awaiting_payment', 'expired'], 'paid', { paid_at: p.paidAt });
    if (!moved) throw new RaError('invalid_state', `order ${order.id} changed state while recording its payment`);
    await addOrderEvent(tx, order.id, 'paid', p.actor, {
      channel: p.channel,
      tradeNo: p.tradeNo,
      amountFen: p.amountFen,
      lateAfterExpiry: order.state === 'expired',
    });
    await appendAudit(tx, [
      {
        actor: p.actor,
        action: 'payment.recorded',
        target: order.id,
        details: { channel: p.channel, tradeNo: p.tradeNo, amountFen: p.amountFen },
      },
    ]);
    // read once for the two notices and the invoice's buyer
    const holder = await getHolder(tx, order.holder_id);
    await enqueueOrderNotice(tx, 'order_paid', order, { holder });
    // the invoice record (staff console: e-invoice PDF, paper invoice mailing) is born with the payment
    await createInvoiceForPayment(
      tx,
      order,
      { channel: p.channel, tradeNo: p.tradeNo, amountFen: p.amountFen, paidAt: p.paidAt, actor: p.actor },
      holder,
    );
    await enqueueOrderNotice(tx, 'invoice', order, { holder });
    return 'recorded';
  });
  if (result instanceof RaError) throw result;
  return result;
}

/** Finds an order by its id or its remittance reference code (what a bank statement carries). */
export async function findOrderByIdOrReference(storage: Storage, key: string) {
  return (await getOrder(storage.db, key)) ?? (await getOrderByReference(storage.db, key.toUpperCase()));
}
