// Orders and their event history. State changes are conditional updates (… WHERE state IN from), so
// each transition happens once however many requests, retries or instances race for it.
import type { Selectable } from 'kysely';
import type { Executor } from './database.js';
import type { OrderEventTable, OrderKind, OrderState, OrderTable } from './schema.js';

export type Order = Selectable<OrderTable>;
export type OrderEvent = Selectable<OrderEventTable>;

export async function insertOrder(db: Executor, order: Order): Promise<void> {
  await db.insertInto('orders').values(order).execute();
}

export async function getOrder(db: Executor, id: string): Promise<Order | undefined> {
  return db.selectFrom('orders').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function getOrderByReference(db: Executor, reference: string): Promise<Order | undefined> {
  return db.selectFrom('orders').selectAll().where('reference', '=', reference).executeTakeFirst();
}

export async function listOrdersForHolder(db: Executor, holderId: number | null, certificateSerials: string[]): Promise<Order[]> {
  let q = db.selectFrom('orders').selectAll();
  q =
    holderId !== null
      ? q.where('holder_id', '=', holderId)
      : q.where('certificate_serial', 'in', certificateSerials.length ? certificateSerials : ['']);
  return q.orderBy('created_at', 'desc').limit(200).execute();
}

/** Orders that replace the certificate itself; a seal or app order for it does not block them. */
export const CERTIFICATE_ORDER_KINDS: OrderKind[] = ['renewal', 'upgrade', 'change'];

/**
 * The unfinished order of a certificate: the one renewing it, or the one that issued it when the key
 * already switched to the new certificate before the order completed.
 */
export async function openOrderForCertificate(
  db: Executor,
  serial: string,
  openStates: OrderState[],
  kinds: OrderKind[] = CERTIFICATE_ORDER_KINDS,
): Promise<Order | undefined> {
  return db
    .selectFrom('orders')
    .selectAll()
    .where((eb) => eb.or([eb('certificate_serial', '=', serial), eb('issued_serial', '=', serial)]))
    .where('kind', 'in', kinds)
    .where('state', 'in', openStates)
    .orderBy('created_at', 'desc')
    .executeTakeFirst();
}

/** Moves an order from one of `from` to `to`; returns false when it was not in `from` (someone else moved it). */
export async function transitionOrder(
  db: Executor,
  id: string,
  from: OrderState[],
  to: OrderState,
  set: Partial<Order> = {},
): Promise<boolean> {
  const r = await db
    .updateTable('orders')
    .set({ ...set, state: to, updated_at: Date.now() })
    .where('id', '=', id)
    .where('state', 'in', from)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Sets when an unpaid order expires (e.g. a change's payment window opens at its approval); false when it is not awaiting payment. */
export async function setOrderExpiry(db: Executor, id: string, expiresAt: number): Promise<boolean> {
  const r = await db
    .updateTable('orders')
    .set({ expires_at: expiresAt, updated_at: Date.now() })
    .where('id', '=', id)
    .where('state', '=', 'awaiting_payment')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function addOrderEvent(
  db: Executor,
  orderId: string,
  type: string,
  actor: string,
  detail: Record<string, unknown> = {},
): Promise<void> {
  await db
    .insertInto('order_events')
    .values({ order_id: orderId, at: Date.now(), type, actor, detail: JSON.stringify(detail) })
    .execute();
}

export async function orderEvents(db: Executor, orderId: string): Promise<OrderEvent[]> {
  return db.selectFrom('order_events').selectAll().where('order_id', '=', orderId).orderBy('id').execute();
}

export async function ordersToExpire(db: Executor, now: number): Promise<Order[]> {
  return db
    .selectFrom('orders')
    .selectAll()
    .where('state', '=', 'awaiting_payment')
    .where('expires_at', '<', now)
    .limit(500)
    .execute();
}

export async function ordersAwaitingOnlinePayment(db: Executor, createdAfter: number): Promise<Order[]> {
  return db
    .selectFrom('orders')
    .selectAll()
    .where('state', 'in', ['awaiting_payment', 'expired'])
    .where('payment_method', '=', 'online')
    .where('created_at', '>', createdAfter)
    .limit(500)
    .execute();
}
