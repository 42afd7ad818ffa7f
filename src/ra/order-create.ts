// Opening an order, for every kind (renewal, seal …): a fresh id and remittance reference, the
// insert, its 'created' event and audit entry, in one write transaction with the caller's guard
// (re-checked under the write lock). An id or reference collision draws again.
import { randomBytes } from 'node:crypto';
import { appendAudit } from '../sa/audit.js';
import { isUniqueViolation, writeTransaction, type Storage, type Tx } from '../sa/database.js';
import { addOrderEvent, insertOrder, type Order } from '../sa/orders.js';

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'; // no 0/O/1/I: read aloud and typed on bank forms
export const orderCode = (n: number): string => [...randomBytes(n)].map((b) => ALPHABET[b % ALPHABET.length]).join('');

export type OrderDraft = Omit<Order, 'id' | 'reference'>;

/**
 * Inserts the order `draft` describes. `prefix` starts its id (R renewal, S seal …); `guard` runs
 * first inside the transaction and throws to refuse; `also` writes rows that belong with the order
 * (e.g. the seal application) in the same transaction.
 */
export async function openOrder(
  storage: Storage,
  draft: OrderDraft,
  opts: {
    prefix: string;
    actor: string;
    details?: Record<string, unknown>;
    guard?: (tx: Tx) => Promise<void>;
    also?: (tx: Tx, order: Order) => Promise<void>;
  },
): Promise<Order> {
  for (let attempt = 0; ; attempt++) {
    const order: Order = {
      ...draft,
      id: `${opts.prefix}${new Date(draft.created_at).toISOString().slice(0, 10).replace(/-/g, '')}-${orderCode(6)}`,
      reference: `CD${orderCode(8)}`,
    };
    try {
      await writeTransaction(storage, async (tx) => {
        await opts.guard?.(tx);
        await insertOrder(tx, order);
        await addOrderEvent(tx, order.id, 'created', opts.actor, {
          amountFen: order.amount_fen,
          termYears: order.term_years,
          paymentMethod: order.payment_method,
        });
        await appendAudit(tx, [
          {
            actor: opts.actor,
            action: 'order.created',
            target: order.id,
            details: {
              kind: order.kind,
              certificate: order.certificate_serial,
              amountFen: order.amount_fen,
              paymentMethod: order.payment_method,
              ...opts.details,
            },
          },
        ]);
        await opts.also?.(tx, order);
      });
      return order;
    } catch (e) {
      if (isUniqueViolation(e) && attempt < 3) continue; // id or reference collision: draw again
      throw e;
    }
  }
}
