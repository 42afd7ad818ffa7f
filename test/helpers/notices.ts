// What the holder would read of an order notice: the outbox row by its idempotency key, rendered as
// delivery renders it (the SMTP and webhook peers are exercised in the notify-* tests).
import assert from 'node:assert/strict';
import { renderOrderMail, renderOrderSms, type OrderNoticePayload } from '../../src/notify/order-notices.js';
import type { MailMessage } from '../../src/notify/smtp.js';
import type { Runtime } from '../../src/runtime.js';
import { StaffInvoices } from '../../src/staff/invoices.js';

async function payloadOf(rt: Runtime, key: string): Promise<{ recipient: string; payload: OrderNoticePayload }> {
  const m = await rt.storage.db.selectFrom('outbox').selectAll().where('idempotency_key', '=', key).executeTakeFirst();
  assert.ok(m, `an outbox message ${key}`);
  return { recipient: m.recipient, payload: JSON.parse(m.payload) as OrderNoticePayload };
}

export async function noticeMail(rt: Runtime, key: string): Promise<MailMessage> {
  const { recipient, payload } = await payloadOf(rt, key);
  return renderOrderMail(rt.storage.db, rt.config, payload, recipient, async (orderId) => {
    const { pdf, invoice } = await new StaffInvoices(rt).pdf(orderId);
    return { pdf, number: invoice.number };
  });
}

export async function noticeSms(rt: Runtime, key: string): Promise<{ to: string; body: string }> {
  const { recipient, payload } = await payloadOf(rt, key);
  return { to: recipient, body: await renderOrderSms(rt.storage.db, rt.config, payload) };
}
