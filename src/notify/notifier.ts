// One run of the notify job: enqueue the reminders that are due, then deliver what is due on each
// channel. `certdesk serve` runs it every minute (jobs/notify.ts); `certdesk notify run` once.
import type { Runtime } from '../runtime.js';
import { isOrderNotice, renderOrderMail, renderOrderSms } from './order-notices.js';
import { StaffInvoices } from '../staff/invoices.js';
import { deliverDue, type Deliver, type DeliveryResult } from './outbox.js';
import { enqueueReminders } from './reminders.js';
import { sandboxSmsGateway } from './sms-sandbox.js';
import { smtpMailer, type MailMessage, type Mailer } from './smtp.js';
import { enqueueExpiredEnablements, postWebhook } from './webhooks.js';

const mailers = new WeakMap<Runtime, Mailer>();

export function channels(rt: Runtime): Deliver {
  let mailer = mailers.get(rt);
  if (!mailer) mailers.set(rt, (mailer = smtpMailer(rt.config)));
  const sms = sandboxSmsGateway(rt.storage.db);
  const m = mailer;
  return async (msg) => {
    const payload = JSON.parse(msg.payload) as unknown;
    if (msg.channel === 'email') {
      const mail = isOrderNotice(payload)
        ? await renderOrderMail(rt.storage.db, rt.config, payload, msg.recipient, async (orderId) => {
            const { pdf, invoice } = await new StaffInvoices(rt).pdf(orderId);
            return { pdf, number: invoice.number };
          })
        : (payload as MailMessage);
      return m.send({ ...mail, to: msg.recipient });
    }
    if (msg.channel === 'sms')
      return sms.send(
        msg.recipient,
        isOrderNotice(payload) ? await renderOrderSms(rt.storage.db, rt.config, payload) : (payload as { body: string }).body,
      );
    return postWebhook(rt.storage.db, msg.recipient, payload);
  };
}

export async function runNotify(rt: Runtime, now: number = Date.now()): Promise<DeliveryResult & { reminders: number }> {
  const reminders = await enqueueReminders(rt.storage.db, rt.config, now);
  await enqueueExpiredEnablements(rt.storage.db, now);
  return { reminders, ...(await deliverDue(rt.storage.db, rt.config, channels(rt), now)) };
}
