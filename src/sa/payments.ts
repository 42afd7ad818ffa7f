// Payment records: at most one per order (UNIQUE order_id) and one per gateway transaction
// (UNIQUE channel + trade_no); extra payments (money an order did not need) one per transaction too.
import type { Selectable } from 'kysely';
import { PreparedQuery } from './compiled.js';
import type { Executor } from './database.js';
import type { ExtraPaymentTable, PaymentTable } from './schema.js';

export type Payment = Selectable<PaymentTable>;
export type ExtraPayment = Selectable<ExtraPaymentTable>;

const paymentOfOrder = new PreparedQuery(['orderId'], (db, p) =>
  db.selectFrom('payments').selectAll().where('order_id', '=', p.orderId),
);

export async function paymentForOrder(db: Executor, orderId: string): Promise<Payment | undefined> {
  return paymentOfOrder.first(db, { orderId });
}

export async function insertPayment(db: Executor, p: Omit<Payment, 'id'>): Promise<void> {
  await db.insertInto('payments').values(p).execute();
}

/** Records an extra payment; false (nothing written) when this (channel, trade_no) is on record already. */
export async function insertExtraPayment(db: Executor, p: Omit<ExtraPayment, 'id'>): Promise<boolean> {
  const r = await db
    .insertInto('extra_payments')
    .values(p)
    .onConflict((oc) => oc.columns(['channel', 'trade_no']).doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function extraPaymentsOf(db: Executor, orderId: string): Promise<ExtraPayment[]> {
  return db.selectFrom('extra_payments').selectAll().where('order_id', '=', orderId).orderBy('id').execute();
}
