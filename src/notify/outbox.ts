// The transactional outbox (docs/ARCHITECTURE.md, "Outbox"). enqueue() runs inside the caller's
// transaction, so a message exists exactly when the change that causes it committed. deliverDue()
// sends what is due, at least once: a message is claimed by pushing its next attempt past a lease
// (so two instances never send it at the same time), then marked sent, or rescheduled with
// exponential back-off, or dead after the last attempt. A dead message waits for a staff retry.
import { randomUUID } from 'node:crypto';
import type { Config } from '../config/config.js';
import type { Executor } from '../sa/database.js';
import type { OutboxChannel, OutboxState, OutboxTable } from '../sa/schema.js';
import type { Selectable } from 'kysely';

export type OutboxMessage = Selectable<OutboxTable>;

/** How long a claimed message is left alone before another run may try it again (a crashed sender). */
const LEASE_MS = 5 * 60_000;
const MAX_DELAY_MS = 6 * 3600_000;

export interface NewMessage {
  /** unique per message: a second enqueue with the same key does nothing */
  key: string;
  channel: OutboxChannel;
  recipient: string;
  payload: unknown;
  /** not before (default: now) */
  at?: number;
}

/** Adds a message in `tx` (the transaction of the change that causes it); false when the key exists. */
export async function enqueue(tx: Executor, m: NewMessage): Promise<boolean> {
  const now = Date.now();
  const r = await tx
    .insertInto('outbox')
    .values({
      id: randomUUID(),
      idempotency_key: m.key,
      channel: m.channel,
      recipient: m.recipient,
      payload: JSON.stringify(m.payload),
      state: 'pending',
      attempts: 0,
      next_attempt_at: m.at ?? now,
      last_error: null,
      created_at: now,
      sent_at: null,
    })
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** The delay before attempt `attempts + 1`, after `attempts` failures: base · 2^(attempts−1), capped. */
export function backoffMs(config: Pick<Config, 'notifyBackoffSeconds'>, attempts: number): number {
  return Math.min(config.notifyBackoffSeconds * 1000 * 2 ** Math.max(0, attempts - 1), MAX_DELAY_MS);
}

/** Sends one message or throws (the error message is recorded: it must not carry secrets). */
export type Deliver = (m: OutboxMessage) => Promise<void>;

export interface DeliveryResult {
  sent: number;
  failed: number;
  dead: number;
}

export async function deliverDue(
  db: Executor,
  config: Pick<Config, 'notifyBackoffSeconds' | 'notifyMaxAttempts'>,
  deliver: Deliver,
  now: number = Date.now(),
  limit = 100,
): Promise<DeliveryResult> {
  const res: DeliveryResult = { sent: 0, failed: 0, dead: 0 };
  const due = await db
    .selectFrom('outbox')
    .selectAll()
    .where('state', '=', 'pending')
    .where('next_attempt_at', '<=', now)
    .orderBy('next_attempt_at')
    .limit(limit)
    .execute();
  for (const m of due) {
    const claimed = await db
      .updateTable('outbox')
      .set({ next_attempt_at: now + LEASE_MS })
      .where('id', '=', m.id)
      .where('state', '=', 'pending')
      .where('next_attempt_at', '=', m.next_attempt_at)
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) continue; // another instance has it
    try {
      await deliver(m);
      await db
        .updateTable('outbox')
        .set({ state: 'sent', sent_at: Date.now(), last_error: null })
        .where('id', '=', m.id)
        .execute();
      res.sent++;
    } catch (e) {
      const attempts = m.attempts + 1;
      const dead = attempts >= config.notifyMaxAttempts;
      await db
        .updateTable('outbox')
        .set({
          attempts,
          state: dead ? 'dead' : 'pending',
          next_attempt_at: Date.now() + backoffMs(config, attempts),
          last_error: String((e as Error)?.message ?? e).slice(0, 500),
        })
        .where('id', '=', m.id)
        .execute();
      if (dead) res.dead++;
      else res.failed++;
    }
  }
  return res;
}

export async function listMessages(db: Executor, state?: OutboxState, limit = 200): Promise<OutboxMessage[]> {
  let q = db.selectFrom('outbox').selectAll().orderBy('created_at', 'desc').limit(limit);
  if (state) q = q.where('state', '=', state);
  return q.execute();
}

/** The views of `messages`, webhook recipients named by their application. */
export async function outboxMessageViews(db: Executor, messages: OutboxMessage[]): Promise<OutboxMessageView[]> {
  const ids = [...new Set(messages.filter((m) => m.channel === 'webhook').map((m) => m.recipient))];
  const apps = ids.length ? await db.selectFrom('relying_apps').select(['id', 'name']).where('id', 'in', ids).execute() : [];
  const names = new Map(apps.map((a) => [a.id, a.name]));
  return messages.map((m) => outboxMessageView(m, names));
}

/** Puts a dead message back to pending, due now, with its attempts reset; undefined when there is no such dead message. */
export async function retryMessage(db: Executor, id: string): Promise<OutboxMessage | undefined> {
  const r = await db
    .updateTable('outbox')
    .set({ state: 'pending', attempts: 0, next_attempt_at: Date.now() })
    .where('id', '=', id)
    .where('state', '=', 'dead')
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) !== 1) return undefined;
  return db.selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirst();
}

/** A message as staff and operators see it (console, `certdesk notify list`): no payload, which may carry an unsubscribe token. */
export interface OutboxMessageView {
  id: string;
  key: string;
  channel: OutboxChannel;
  recipient: string;
  /** the relying application's name, for a webhook */
  recipientName: string | null;
  state: OutboxState;
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  createdAt: string;
  sentAt: string | null;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export const outboxMessageView = (m: OutboxMessage, appNames: ReadonlyMap<string, string> = new Map()): OutboxMessageView => ({
  id: m.id,
  key: m.idempotency_key,
  channel: m.channel,
  recipient: m.recipient,
  recipientName: m.channel === 'webhook' ? (appNames.get(m.recipient) ?? null) : null,
  state: m.state,
  attempts: m.attempts,
  nextAttemptAt: iso(m.next_attempt_at),
  lastError: m.last_error,
  createdAt: iso(m.created_at),
  sentAt: m.sent_at === null ? null : iso(m.sent_at),
});

export const OUTBOX_STATES: readonly OutboxState[] = ['pending', 'sent', 'dead'];
