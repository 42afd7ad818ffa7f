// Opening an order, for every kind (renewal, seal …): a fresh id and remittance reference, the
// insert, its 'created' event and audit entry, in one write transaction with the caller's guard
// (re-checked under the write lock). An id or reference collision draws again.
import { randomBytes } from 'node:crypto';
import { appendAudit } from '../sa/audit.js';
import { isUniqueViolation, writeTransaction, type Storage, type Tx } from '../sa/database.js';
import { addOrderEvent, insertOrder, type Order } from '../sa/orders.js';
import { setHolderContact } from '../sa/holders.js';
import { parseCertificate } from '../pki/certificate.js';
import type { OrderForm } from './order-form.js';

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'; // no 0/O/1/I: read aloud and typed on bank forms
export const orderCode = (n: number): string => [...randomBytes(n)].map((b) => ALPHABET[b % ALPHABET.length]).join('');

export type OrderDraft = Omit<Order, 'id' | 'reference'>;

/** How long an unpaid order stays open, by payment method. */
export interface OrderTtl {
  onlineOrderTtlMs: number;
  offlineOrderTtlMs: number;
}

/** What every new order takes from its form: contact and payment method, unpaid, its payment window from `now`. */
export function unpaidDraftFields(form: Omit<OrderForm, 'termYears'>, ttl: OrderTtl, now: number) {
  return {
    payment_method: form.paymentMethod,
    recipient: form.recipient,
    phone: form.phone,
    address: form.address,
    postcode: form.postcode,
    state: 'awaiting_payment' as const,
    created_at: now,
    updated_at: now,
    expires_at: now + (form.paymentMethod === 'online' ? ttl.onlineOrderTtlMs : ttl.offlineOrderTtlMs),
    paid_at: null,
    issued_serial: null,
  };
}

/** The 单位 an order is for: the certificate's O, else its CN, else the recorded subject. */
export function organizationOf(certDer: Uint8Array, subject: string): string {
  const parsed = parseCertificate(Buffer.from(certDer));
  return parsed.subject.find((a) => a.type === 'O')?.value ?? parsed.subject.find((a) => a.type === 'CN')?.value ?? subject;
}

/**
 * Inserts the order `draft` describes. `prefix` starts its id (R renewal, S seal …); `guard` runs
 * first inside the transaction and throws to refuse; `also` writes rows that belong with the order
 * (e.g. the seal application) in the same transaction. `email`, the form's 电子邮箱, becomes the
 * holder's contact for reminders and order mails from now on, with the order.
 */
export async function openOrder(
  storage: Storage,
  draft: OrderDraft,
  opts: {
    prefix: string;
    actor: string;
    details?: Record<string, unknown>;
    email?: string | undefined;
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
        if (opts.email && order.holder_id !== null)
          await setHolderContact(tx, order.holder_id, { email: opts.email, phone: order.phone });
        await opts.also?.(tx, order);
      });
      return order;
    } catch (e) {
      if (isUniqueViolation(e) && attempt < 3) continue; // id or reference collision: draw again
      throw e;
    }
  }
}
