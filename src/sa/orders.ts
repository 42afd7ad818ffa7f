// Orders and their event history. State changes are conditional updates (… WHERE state IN from), so
// each transition happens once however many requests, retries or instances race for it.
import type { Selectable } from 'kysely';
import { PreparedQuery, preparedVariants } from './compiled.js';
import type { Executor } from './database.js';
import type { OrderEventTable, OrderKind, OrderState, OrderTable } from './schema.js';

export type Order = Selectable<OrderTable>;
export type OrderEvent = Selectable<OrderEventTable>;

export async function insertOrder(db: Executor, order: Order): Promise<void> {
  await db.insertInto('orders').values(order).execute();
}

const orderById = new PreparedQuery(['id'], (db, p) => db.selectFrom('orders').selectAll().where('id', '=', p.id));

export async function getOrder(db: Executor, id: string): Promise<Order | undefined> {
  return orderById.first(db, { id });
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
  return openOrderQuery({ kinds, openStates }).first(db, { serial });
}

// one compiled query per pair of lists (the callers pass a few constant ones)
const openOrderQuery = preparedVariants(
  (v: { kinds: OrderKind[]; openStates: OrderState[] }) => `${v.kinds.join(',')}|${v.openStates.join(',')}`,
  ({ kinds, openStates }) =>
    new PreparedQuery<'serial', Order>(['serial'], (db, p) =>
      db
        .selectFrom('orders')
        .selectAll()
        .where((eb) => eb.or([eb('certificate_serial', '=', p.serial), eb('issued_serial', '=', p.serial)]))
        .where('kind', 'in', kinds)
        .where('state', 'in', openStates)
        .orderBy('created_at', 'desc'),
    ),
);

/** Moves an order from one of `from` to `to`; returns false when it was not in `from` (someone else moved it). */
export async function transitionOrder(
  db: Executor,
  id: string,
  from: OrderState[],
  to: OrderState,
  set: Partial<Order> = {},
): Promise<boolean> {
  // the columns Kysely would set: undefined values are left out, state and updated_at are ours
  const columns = (Object.keys(set) as (keyof Order)[]).filter(
    (c) => set[c] !== undefined && c !== 'state' && c !== 'updated_at',
  );
  const params = { ...set, id, to, now: Date.now() } as Record<TransitionParameter, unknown>;
  const r = await transition({ from, columns }).run(db, params);
  return Number(r.numAffectedRows) === 1;
}

/** transitionOrder's updates, one per `from` list and set of columns (a handful of call sites). */
const transition = preparedVariants(
  (v: { from: OrderState[]; columns: (keyof Order)[] }) => `${v.from.join(',')}|${v.columns.join(',')}`,
  ({ from, columns }) =>
    new PreparedQuery<TransitionParameter, unknown>(['id', 'to', 'now', ...columns], (db, p) =>
      db
        .updateTable('orders')
        .set({ ...Object.fromEntries(columns.map((c) => [c, p[c]])), state: p.to, updated_at: p.now })
        .where('id', '=', p.id)
        .where('state', 'in', from),
    ),
);
type TransitionParameter = 'to' | 'now' | keyof Order;

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
  await insertOrderEvent.execute(db, { orderId, at: Date.now(), type, actor, detail: JSON.stringify(detail) });
}

const insertOrderEvent = new PreparedQuery(['orderId', 'at', 'type', 'actor', 'detail'], (db, p) =>
  db.insertInto('order_events').values({ order_id: p.orderId, at: p.at, type: p.type, actor: p.actor, detail: p.detail }),
);

const eventsOfOrder = new PreparedQuery(['orderId'], (db, p) =>
  db.selectFrom('order_events').selectAll().where('order_id', '=', p.orderId).orderBy('id'),
);

export async function orderEvents(db: Executor, orderId: string): Promise<OrderEvent[]> {
  return eventsOfOrder.execute(db, { orderId });
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
