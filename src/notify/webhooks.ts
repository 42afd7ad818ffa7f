// Certificate events for relying applications, by webhook. The body is JSON, signed with the
// app's webhook secret (webhook-signature.ts), retried by the outbox until the app answers 2xx.
import type { Executor } from '../sa/database.js';
import type { CertificateRecord } from '../sa/certificates.js';
import { enqueue } from './outbox.js';
import { signWebhook, SIGNATURE_HEADER } from './webhook-signature.js';

export type CertificateEvent = 'certificate.renewed' | 'certificate.upgraded' | 'certificate.changed' | 'certificate.revoked';

export interface WebhookPayload {
  id: string;
  type: CertificateEvent;
  createdAt: string;
  data: Record<string, unknown>;
}

/**
 * Who hears of an event about `cert`: every active app with a webhook URL that accepts the
 * certificate's type. The one place to change when enablements (应用开通) decide it instead.
 */
export async function webhookRecipients(db: Executor, cert: Pick<CertificateRecord, 'profile'>): Promise<string[]> {
  const types = new Set(
    (await db.selectFrom('certificate_types').select('code').where('profile', '=', cert.profile).execute()).map((t) => t.code),
  );
  const apps = await db
    .selectFrom('relying_apps')
    .select(['id', 'accepted_types'])
    .where('active', '=', 1)
    .where('webhook_url', 'is not', null)
    .execute();
  return apps.filter((a) => (JSON.parse(a.accepted_types) as string[]).some((t) => types.has(t))).map((a) => a.id);
}

/** Enqueues `event` about `cert` for its recipients, in `tx`; `eventId` makes it idempotent (one per change). */
export async function enqueueCertificateEvent(
  tx: Executor,
  event: CertificateEvent,
  eventId: string,
  cert: Pick<CertificateRecord, 'serial' | 'profile' | 'subject' | 'not_before' | 'not_after' | 'status'>,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const payload: WebhookPayload = {
    id: eventId,
    type: event,
    createdAt: new Date().toISOString(),
    data: {
      serial: cert.serial,
      subject: cert.subject,
      profile: cert.profile,
      notBefore: new Date(cert.not_before).toISOString(),
      notAfter: new Date(cert.not_after).toISOString(),
      status: cert.status,
      ...extra,
    },
  };
  for (const app of await webhookRecipients(tx, cert))
    await enqueue(tx, { key: `webhook:${app}:${eventId}`, channel: 'webhook', recipient: app, payload });
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
