// Certificate events for relying applications, by webhook. The body is JSON, signed with the
// app's webhook secret (webhook-signature.ts), retried by the outbox until the app answers 2xx.
import { PreparedQuery } from '../sa/compiled.js';
import type { Executor } from '../sa/database.js';
import { getHolder } from '../sa/holders.js';
import type { CertificateRecord } from '../sa/certificates.js';
import { enqueue } from './outbox.js';
import { signWebhook, SIGNATURE_HEADER } from './webhook-signature.js';

export type CertificateEvent = 'certificate.renewed' | 'certificate.upgraded' | 'certificate.changed' | 'certificate.revoked';
export type EnablementEvent = 'enablement.started' | 'enablement.ended';
export type WebhookEvent = CertificateEvent | EnablementEvent;

export interface WebhookPayload {
  id: string;
  type: WebhookEvent;
  createdAt: string;
  data: Record<string, unknown>;
}

/**
 * Who hears of an event about `cert`: every active app with a webhook URL for which the
 * certificate's holder has an enablement (应用开通) in force. An app hears only of its own holders.
 */
export async function webhookRecipients(
  db: Executor,
  cert: Pick<CertificateRecord, 'holder_id'>,
  now = Date.now(),
): Promise<string[]> {
  if (cert.holder_id === null) return [];
  const apps = await recipientApps.execute(db, { holderId: cert.holder_id, now });
  return apps.map((a) => a.id);
}

// every completed renewal asks: compiled once
const recipientApps = new PreparedQuery(['holderId', 'now'], (db, p) =>
  db
    .selectFrom('relying_apps as a')
    .innerJoin('app_enablements as e', 'e.app_id', 'a.id')
    .select('a.id')
    .distinct()
    .where('a.active', '=', 1)
    .where('a.webhook_url', 'is not', null)
    .where('e.holder_id', '=', p.holderId)
    .where('e.state', '=', 'active')
    .where('e.starts_at', '<=', p.now)
    .where('e.ends_at', '>', p.now)
    .orderBy('a.id'),
);

const payloadOf = (id: string, type: WebhookEvent, data: Record<string, unknown>): WebhookPayload => ({
  id,
  type,
  createdAt: new Date().toISOString(),
  data,
});

/** Enqueues `event` about `cert` for its recipients, in `tx`; `eventId` makes it idempotent (one per change). */
export async function enqueueCertificateEvent(
  tx: Executor,
  event: CertificateEvent,
  eventId: string,
  cert: Pick<CertificateRecord, 'serial' | 'profile' | 'subject' | 'not_before' | 'not_after' | 'status' | 'holder_id'>,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const payload = payloadOf(eventId, event, {
    serial: cert.serial,
    subject: cert.subject,
    profile: cert.profile,
    notBefore: new Date(cert.not_before).toISOString(),
    notAfter: new Date(cert.not_after).toISOString(),
    status: cert.status,
    ...(await holderRef(tx, cert.holder_id)),
    ...extra,
  });
  for (const app of await webhookRecipients(tx, cert))
    await enqueue(tx, { key: `webhook:${app}:${eventId}`, channel: 'webhook', recipient: app, payload });
}

/** The holder as the app's API names it (唯一识别号 and name), for the event's data. */
async function holderRef(tx: Executor, holderId: number | null): Promise<{ holder?: { uniqueId: string; name: string } }> {
  if (holderId === null) return {};
  const h = await getHolder(tx, holderId);
  return h ? { holder: { uniqueId: h.unique_id, name: h.name } } : {};
}

/**
 * Enqueues enablement.started / enablement.ended for the one app the enablement is of (when it has a
 * webhook URL), in `tx`; idempotent per enablement and event.
 */
export async function enqueueEnablementEvent(
  tx: Executor,
  event: EnablementEvent,
  e: { id: string; app_id: string; holder_id: number; starts_at: number; ends_at: number; ended_at?: number | null },
): Promise<boolean> {
  const app = await tx
    .selectFrom('relying_apps')
    .select('id')
    .where('id', '=', e.app_id)
    .where('active', '=', 1)
    .where('webhook_url', 'is not', null)
    .executeTakeFirst();
  if (!app) return false;
  const eventId = `${event}:${e.id}`;
  const payload = payloadOf(eventId, event, {
    enablementId: e.id,
    startsAt: new Date(e.starts_at).toISOString(),
    endsAt: new Date(e.ended_at ?? e.ends_at).toISOString(),
    ...(await holderRef(tx, e.holder_id)),
  });
  return enqueue(tx, { key: `webhook:${app.id}:${eventId}`, channel: 'webhook', recipient: app.id, payload });
}

/**
 * enablement.ended for the enablements whose term ran out in the last `lookbackMs` (the notify
 * job's run); the idempotency key makes a second look a no-op. Ended-by-holder ones were sent then.
 */
export async function enqueueExpiredEnablements(db: Executor, now = Date.now(), lookbackMs = 7 * 86_400_000): Promise<number> {
  const expired = await db
    .selectFrom('app_enablements')
    .selectAll()
    .where('state', '=', 'active')
    .where('ends_at', '<=', now)
    .where('ends_at', '>', now - lookbackMs)
    .execute();
  let n = 0;
  for (const e of expired) {
    // a renewal's enablement starting where this one ends means the app's holder stays enabled
    const next = await db
      .selectFrom('app_enablements')
      .select('id')
      .where('holder_id', '=', e.holder_id)
      .where('app_id', '=', e.app_id)
      .where('state', '=', 'active')
      .where('starts_at', '<=', e.ends_at)
      .where('ends_at', '>', e.ends_at)
      .executeTakeFirst();
    if (next) continue;
    if (await enqueueEnablementEvent(db, 'enablement.ended', e)) n++;
  }
  return n;
}

/** Posts one webhook; throws unless the app answers 2xx. */
export async function postWebhook(db: Executor, appId: string, payload: unknown, timeoutMs = 10_000): Promise<void> {
  const app = await db
    .selectFrom('relying_apps')
    .select(['webhook_url', 'webhook_secret'])
    .where('id', '=', appId)
    .executeTakeFirst();
  if (!app?.webhook_url || !app.webhook_secret) throw new Error(`relying app ${appId} has no webhook URL or secret`);
  const body = JSON.stringify(payload);
  let res: Response;
  try {
    res = await fetch(app.webhook_url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signWebhook(app.webhook_secret, body) },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    throw new Error(`webhook to app ${appId} failed: ${(e as Error).cause ? String((e as Error).cause) : (e as Error).message}`);
  }
  await res.body?.cancel();
  if (res.status < 200 || res.status > 299) throw new Error(`webhook to app ${appId} answered HTTP ${res.status}`);
}
