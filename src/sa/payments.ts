// Payment records: at most one per order (UNIQUE order_id) and one per gateway transaction
// (UNIQUE channel + trade_no).
import type { Selectable } from 'kysely';
import type { Executor } from './database.js';
import type { PaymentTable } from './schema.js';

export type Payment = Selectable<PaymentTable>;

export async function paymentForOrder(db: Executor, orderId: string): Promise<Payment | undefined> {
  return db.selectFrom('payments').selectAll().where('order_id', '=', orderId).executeTakeFirst();
}

export async function insertPayment(db: Executor, p: Omit<Payment, 'id'>): Promise<void> {
  await db.insertInto('payments').values(p).execute();
}
