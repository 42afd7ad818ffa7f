// Order mails (order paid, certificate issued). They are enqueued by name and order id in the
// transaction of the change, and rendered at delivery (with the configured portal link), so the
// RA code that enqueues them needs no configuration.
import type { Config } from '../config/config.js';
import type { Executor } from '../sa/database.js';
import { enqueue } from './outbox.js';
import type { MailMessage } from './smtp.js';
import { unsubscribeToken } from './unsubscribe.js';

export type OrderMail = 'order_paid' | 'certificate_issued';

export interface OrderMailPayload {
  template: OrderMail;
  orderId: string;
}

/** Enqueues `mail` about the order to its holder's e-mail, when the holder has one. */
export async function enqueueOrderMail(
  tx: Executor,
  mail: OrderMail,
  order: { id: string; holder_id: number | null },
): Promise<void> {
  if (order.holder_id === null) return;
  const h = await tx.selectFrom('holders').select('email').where('id', '=', order.holder_id).executeTakeFirst();
  if (!h?.email) return;
  const payload: OrderMailPayload = { template: mail, orderId: order.id };
  await enqueue(tx, { key: `mail:${mail}:${order.id}`, channel: 'email', recipient: h.email, payload });
}

export async function renderOrderMail(db: Executor, config: Config, p: OrderMailPayload, to: string): Promise<MailMessage> {
  const o = await db
    .selectFrom('orders')
    .select(['id', 'holder_id', 'type_name', 'amount_fen', 'issued_serial'])
    .where('id', '=', p.orderId)
    .executeTakeFirstOrThrow();
  const unsubscribe =
    o.holder_id === null
      ? ''
      : `\n\n不再接收到期提醒 / Unsubscribe from reminders: ${config.publicUrl}/api/notify/unsubscribe?token=${encodeURIComponent(await unsubscribeToken(db, o.holder_id))}`;
  if (p.template === 'order_paid')
    return {
      to,
      subject: `订单 ${o.id} 已支付`,
      text: `您的订单 ${o.id}（${o.type_name}，${(o.amount_fen / 100).toFixed(2)} 元）已支付。请插入 USB Key 登录 ${config.publicUrl} 继续更新。\n\nOrder ${o.id} is paid; continue at ${config.publicUrl}.${unsubscribe}`,
    };
  return {
    to,
    subject: `证书已签发：订单 ${o.id}`,
    text: `订单 ${o.id} 的${o.type_name}已签发（序列号 ${o.issued_serial ?? ''}）。请插入 USB Key 登录 ${config.publicUrl} 完成安装。\n\nThe certificate of order ${o.id} is issued; install it at ${config.publicUrl}.${unsubscribe}`,
  };
}
