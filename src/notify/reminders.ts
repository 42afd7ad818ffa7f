// Expiry reminders: at each threshold (days before notAfter; setting reminder_days, default 90, 60,
// 30, 7, 3) one mail and one SMS (to a mainland mobile number) per valid signing certificate,
// idempotent per certificate, threshold and channel. No reminder for a holder without a contact,
// one who opted out, or a certificate already renewed (a newer valid certificate renews it, or the
// holder has a newer valid one of the same profile).
import type { Config } from '../config/config.js';
import type { Executor } from '../sa/database.js';
import { getSetting } from '../sa/catalogue.js';
import { renewalWindow } from '../shared/renewal-window.js';
import { chinaDate, expiryEvent } from './ics.js';
import { enqueue } from './outbox.js';
import type { MailMessage } from './smtp.js';
import { mobileNumber } from './order-notices.js';
import { unsubscribeToken } from './unsubscribe.js';

export const DEFAULT_REMINDER_DAYS = [90, 60, 30, 7, 3];
const DAY_MS = 86_400_000;

export async function reminderDays(db: Executor): Promise<number[]> {
  const days = await getSetting<number[]>(db, 'reminder_days', DEFAULT_REMINDER_DAYS);
  return [...new Set(days.filter((d) => Number.isInteger(d) && d > 0 && d <= 3650))].sort((a, b) => b - a);
}

const dash = (d: string): string => `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}`;

/** Enqueues the reminders due at `now`; answers how many were new. */
export async function enqueueReminders(db: Executor, config: Config, now: number = Date.now()): Promise<number> {
  const days = await reminderDays(db);
  if (days.length === 0) return 0;
  const horizon = now + days[0]! * DAY_MS;
  const certs = await db
    .selectFrom('certificates as c')
    .innerJoin('holders as h', 'h.id', 'c.holder_id')
    .select(['c.serial', 'c.profile', 'c.subject', 'c.not_after', 'c.holder_id', 'h.email', 'h.phone', 'h.name'])
    .where('c.status', '=', 'valid')
    .where('c.signing_serial', 'is', null)
    .where('c.not_after', '>', now)
    .where('c.not_after', '<=', horizon)
    .where((eb) => eb.or([eb('h.email', 'is not', null), eb('h.phone', 'is not', null)]))
    .where('h.reminders_opt_out_at', 'is', null)
    .execute();
  let added = 0;
  for (const c of certs) {
    const left = (c.not_after - now) / DAY_MS;
    // the smallest threshold reached: a reminder skipped while the job was down is not sent late twice
    const threshold = [...days].reverse().find((d) => left <= d);
    if (threshold === undefined) continue;
    const renewed = await db
      .selectFrom('certificates')
      .select('serial')
      .where('status', '=', 'valid')
      .where('holder_id', '=', c.holder_id)
      .where('profile', '=', c.profile)
      .where('not_after', '>', c.not_after)
      .where('signing_serial', 'is', null)
      .executeTakeFirst();
    if (renewed) continue;
    const type = await db
      .selectFrom('certificate_types')
      .select(['renew_before_days', 'renew_after_days', 'name'])
      .where('profile', '=', c.profile)
      .executeTakeFirst();
    const w = renewalWindow(new Date(c.not_after), type?.renew_before_days, type?.renew_after_days);
    const token = await unsubscribeToken(db, c.holder_id!);
    const unsubscribeUrl = `${config.publicUrl}/api/notify/unsubscribe?token=${encodeURIComponent(token)}`;
    const facts = {
      holder: c.name,
      typeName: type?.name ?? c.profile,
      serial: c.serial,
      notAfter: new Date(c.not_after - 1), // the last millisecond of validity belongs to the last day
      window: w,
      daysLeft: Math.ceil(left),
      unsubscribeUrl,
    };
    if (c.email) {
      const mail = reminderMail(config, { to: c.email, ...facts });
      if (await enqueue(db, { key: `reminder:${c.serial}:${threshold}`, channel: 'email', recipient: c.email, payload: mail }))
        added++;
    }
    const mobile = mobileNumber(c.phone);
    if (mobile) {
      const body = reminderSms(config, facts);
      if (
        await enqueue(db, { key: `reminder-sms:${c.serial}:${threshold}`, channel: 'sms', recipient: mobile, payload: { body } })
      )
        added++;
    }
  }
  return added;
}

/** The SMS form of a reminder: what expires when, the renewal window, the portal; and how to opt out. */
export function reminderSms(
  config: Config,
  r: { typeName: string; notAfter: Date; window: { opensAt: Date; closesAt: Date }; daysLeft: number; unsubscribeUrl: string },
): string {
  return `【证书服务】您的${r.typeName}将于${dash(chinaDate(r.notAfter))}到期（还有${r.daysLeft}天），请于${dash(chinaDate(r.window.opensAt))}至${dash(chinaDate(r.window.closesAt))}插入USB Key登录${config.publicUrl}更新。退订：${r.unsubscribeUrl}`;
}

export function reminderMail(
  config: Config,
  r: {
    to: string;
    holder: string;
    typeName: string;
    serial: string;
    notAfter: Date;
    window: { opensAt: Date; closesAt: Date };
    daysLeft: number;
    unsubscribeUrl: string;
  },
): MailMessage {
  const last = dash(chinaDate(r.notAfter));
  const text = [
    `${r.holder}：`,
    '',
    `您的${r.typeName}（序列号 ${r.serial}）将于 ${last} 到期（还有 ${r.daysLeft} 天）。`,
    `更新期：${dash(chinaDate(r.window.opensAt))} 至 ${dash(chinaDate(r.window.closesAt))}。`,
    `请插入 USB Key 登录 ${config.publicUrl} 更新证书。`,
    '',
    `Your certificate ${r.serial} expires on ${last}. Renew it at ${config.publicUrl} between ${dash(chinaDate(r.window.opensAt))} and ${dash(chinaDate(r.window.closesAt))}.`,
    '',
    `不再接收到期提醒 / Unsubscribe: ${r.unsubscribeUrl}`,
  ].join('\n');
  return {
    to: r.to,
    subject: `证书到期提醒：${r.typeName} 将于 ${last} 到期`,
    text,
    attachments: [
      {
        filename: 'certificate-expiry.ics',
        contentType: 'text/calendar; charset=utf-8',
        content: expiryEvent({
          uid: `expiry-${r.serial}@certdesk`,
          lastDay: r.notAfter,
          summary: `证书到期 ${r.typeName} (${r.serial})`,
          description: `Renew at ${config.publicUrl}`,
          url: config.publicUrl,
        }),
      },
    ],
  };
}
