// What the holder is told about an order, by e-mail and by SMS: paid, certificate issued, the
// reviewer's decision on a seal application or a change, the e-invoice (its PDF attached). They are
// enqueued by name and order id in the transaction of the change, and rendered at delivery (with the
// configured portal link, the reviewer's reason, the stored invoice), so the RA code that enqueues
// them needs no configuration. SMS goes to a mainland mobile number only (a landline 联系电话 reads
// no SMS), and is short: it points to the portal.
import type { Config } from '../config/config.js';
import type { Executor } from '../sa/database.js';
import { getHolder, type Holder } from '../sa/holders.js';
import { enqueue } from './outbox.js';
import type { MailMessage } from './smtp.js';
import { unsubscribeToken } from './unsubscribe.js';

export type OrderNotice =
  'order_paid' | 'certificate_issued' | 'seal_approved' | 'seal_rejected' | 'change_approved' | 'change_rejected' | 'invoice';

export interface OrderNoticePayload {
  template: OrderNotice;
  orderId: string;
  /** the reviewer's reason, for a rejection */
  reason?: string;
}

/** No SMS for these: the mail carries what matters (an attachment). */
const MAIL_ONLY: readonly OrderNotice[] = ['invoice'];

/** The 11-digit mainland mobile number in `phone` (+86, spaces and dashes allowed), else undefined. */
export function mobileNumber(phone: string | null | undefined): string | undefined {
  const digits = (phone ?? '').replace(/[\s-]/g, '').replace(/^(\+?86)(?=1\d{10}$)/, '');
  return /^1[3-9]\d{9}$/.test(digits) ? digits : undefined;
}

/**
 * Enqueues `notice` about the order to its holder's e-mail and mobile, whichever the holder has.
 * `holder`: the order's holder as the caller's transaction has just read it (not read again).
 */
export async function enqueueOrderNotice(
  tx: Executor,
  notice: OrderNotice,
  order: { id: string; holder_id: number | null },
  { holder, ...extra }: { reason?: string; holder?: Holder | undefined } = {},
): Promise<void> {
  const h = await getHolder(tx, order.holder_id, holder);
  if (!h) return;
  const payload: OrderNoticePayload = { template: notice, orderId: order.id, ...extra };
  if (h.email) await enqueue(tx, { key: `mail:${notice}:${order.id}`, channel: 'email', recipient: h.email, payload });
  const mobile = mobileNumber(h.phone);
  if (mobile && !MAIL_ONLY.includes(notice))
    await enqueue(tx, { key: `sms:${notice}:${order.id}`, channel: 'sms', recipient: mobile, payload });
}

export const isOrderNotice = (p: unknown): p is OrderNoticePayload =>
  typeof p === 'object' && p !== null && 'template' in p && 'orderId' in p;

interface NoticeText {
  subject: string;
  /** the mail's body, Chinese then English */
  text: string;
  sms: string;
}

async function noticeText(
  db: Executor,
  config: Config,
  p: OrderNoticePayload,
): Promise<NoticeText & { holderId: number | null }> {
  const o = await db
    .selectFrom('orders')
    .select(['id', 'holder_id', 'type_name', 'amount_fen', 'issued_serial'])
    .where('id', '=', p.orderId)
    .executeTakeFirstOrThrow();
  const url = config.publicUrl;
  const yuan = (o.amount_fen / 100).toFixed(2);
  const reason = p.reason ?? '';
  const t = ((): NoticeText => {
    switch (p.template) {
      case 'order_paid':
        return {
          subject: `订单 ${o.id} 已支付`,
          text: `您的订单 ${o.id}（${o.type_name}，${yuan} 元）已支付。请插入 USB Key 登录 ${url} 继续办理。\n\nOrder ${o.id} is paid; continue at ${url}.`,
          sms: `【证书服务】订单${o.id}（${o.type_name}，${yuan}元）已支付，请插入USB Key登录${url}继续办理。`,
        };
      case 'certificate_issued':
        return {
          subject: `证书已签发：订单 ${o.id}`,
          text: `订单 ${o.id} 的${o.type_name}已签发（序列号 ${o.issued_serial ?? ''}）。请插入 USB Key 登录 ${url} 完成安装。\n\nThe certificate of order ${o.id} is issued; install it at ${url}.`,
          sms: `【证书服务】订单${o.id}的证书已签发，请插入USB Key登录${url}完成安装。`,
        };
      case 'seal_approved':
        return {
          subject: `印章申请已通过审核：订单 ${o.id}`,
          text: `您的印章申请（订单 ${o.id}，${o.type_name}）已通过审核。支付完成后即制作印章，可在 ${url} 的“印章查询”中写入 USB Key。\n\nYour seal application ${o.id} is approved; once paid, the seal is made and can be written to your key at ${url}.`,
          sms: `【证书服务】印章申请${o.id}已通过审核，支付后即制作，请登录${url}查看。`,
        };
      case 'seal_rejected':
        return {
          subject: `印章申请未通过审核：订单 ${o.id}`,
          text: `您的印章申请（订单 ${o.id}，${o.type_name}）未通过审核。原因：${reason}\n已支付的款项将原路退回；请修改后重新申请：${url}\n\nYour seal application ${o.id} was rejected: ${reason}`,
          sms: `【证书服务】印章申请${o.id}未通过审核，原因：${reason}。详情请登录${url}。`,
        };
      case 'change_approved':
        return {
          subject: `证书变更已通过审核：订单 ${o.id}`,
          text: `您的变更申请（订单 ${o.id}）已通过审核。请插入 USB Key 登录 ${url} 支付并完成变更。\n\nYour change request ${o.id} is approved; pay and complete it at ${url}.`,
          sms: `【证书服务】变更申请${o.id}已通过审核，请插入USB Key登录${url}完成变更。`,
        };
      case 'change_rejected':
        return {
          subject: `证书变更未通过审核：订单 ${o.id}`,
          text: `您的变更申请（订单 ${o.id}）未通过审核。原因：${reason}\n请修改后重新申请：${url}\n\nYour change request ${o.id} was rejected: ${reason}`,
          sms: `【证书服务】变更申请${o.id}未通过审核，原因：${reason}。详情请登录${url}。`,
        };
      case 'invoice':
        return {
          subject: `电子发票：订单 ${o.id}（${yuan} 元）`,
          text: `您的订单 ${o.id}（${o.type_name}）的电子发票见附件（PDF）。也可登录 ${url} 在“我的订单”中下载。\n\nThe e-invoice of order ${o.id} is attached.`,
          sms: '',
        };
    }
  })();
  return { ...t, holderId: o.holder_id };
}

/**
 * The mail of a notice; `invoicePdf` gives the e-invoice PDF (stored, or rendered and stored once) for
 * the invoice notice.
 */
export async function renderOrderMail(
  db: Executor,
  config: Config,
  p: OrderNoticePayload,
  to: string,
  invoicePdf: (orderId: string) => Promise<{ pdf: Buffer; number: string }>,
): Promise<MailMessage> {
  const t = await noticeText(db, config, p);
  const unsubscribe =
    t.holderId === null
      ? ''
      : `\n\n不再接收到期提醒 / Unsubscribe from reminders: ${config.publicUrl}/api/notify/unsubscribe?token=${encodeURIComponent(await unsubscribeToken(db, t.holderId))}`;
  const mail: MailMessage = { to, subject: t.subject, text: t.text + unsubscribe };
  if (p.template === 'invoice') {
    const inv = await invoicePdf(p.orderId);
    mail.attachments = [{ filename: `invoice-${inv.number}.pdf`, contentType: 'application/pdf', content: inv.pdf }];
  }
  return mail;
}

export async function renderOrderSms(db: Executor, config: Config, p: OrderNoticePayload): Promise<string> {
  return (await noticeText(db, config, p)).sms;
}
