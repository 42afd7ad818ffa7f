// The sandbox payment platform: a stand-in for UnionPay / Alipay that behaves like them — a payment
// page where the holder picks a bank (personal bank cards only), a signed asynchronous notification
// to the merchant retried with back-off until acknowledged, and a signed order-query API. It runs in
// the same process for the demo and tests, but talks to certdesk only over HTTP, like the real ones.
import { randomBytes, type KeyObject } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Storage } from '../../sa/database.js';
import {
  claimNotification,
  findTrade,
  getTrade,
  insertTrade,
  markTradePaid,
  recordNotifyAttempt,
  tradesToNotify,
  type SandboxTrade,
} from '../../sa/sandbox-trades.js';
import { fenToYuan, parseFen } from '../../ra/money.js';
import { signParams, verifyParams } from './signing.js';

export interface SandboxPlatformOptions {
  storage: Storage;
  platformKey: KeyObject;
  /** merchants the platform knows: id → public key and display name */
  merchants: Map<string, { publicKey: KeyObject; name: string }>;
  /** 'on' (default) or 'off': with 'off' no notification is sent, so only the active query finds payments */
  notify: 'on' | 'off';
  /** delays between notification attempts, ms */
  backoffMs: number[];
  log: (msg: string, err?: unknown) => void;
}

export const DEFAULT_NOTIFY_BACKOFF_MS = [
  2_000, 10_000, 60_000, 300_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000, 54_000_000,
];

const BANKS = [
  '中国工商银行',
  '中国建设银行',
  '中国农业银行',
  '中国银行',
  '交通银行',
  '招商银行',
  '上海浦东发展银行',
  '中国邮政储蓄银行',
];

/** The request's amount, or undefined when it is not whole positive fen in digits. */
const validFen = (text: string | undefined): number | undefined => {
  try {
    return parseFen(text);
  } catch {
    return undefined;
  }
};

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><style>
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;background:#f2f4f7;margin:0;color:#222}
header{background:#1d6fb8;color:#fff;padding:14px 24px;font-size:18px}
main{max-width:640px;margin:24px auto;background:#fff;border:1px solid #dde3ea;border-radius:6px;padding:24px}
table{width:100%;border-collapse:collapse;margin-bottom:16px}td{padding:6px 4px;border-bottom:1px solid #eef1f4}td:first-child{color:#666;width:120px}
.banks{display:grid;grid-template-columns:1fr 1fr;gap:8px;margin:12px 0}.banks label{border:1px solid #dde3ea;border-radius:4px;padding:8px;cursor:pointer}
.note{color:#b35c00;font-size:13px}.amount{color:#d4380d;font-size:22px;font-weight:bold}
button,.btn{background:#1d6fb8;color:#fff;border:0;border-radius:4px;padding:10px 24px;font-size:15px;cursor:pointer;text-decoration:none;display:inline-block}
.secondary{background:#8c8c8c}.ok{color:#389e0d;font-size:20px}
</style></head><body><header>沙箱网银支付平台 · Sandbox payment gateway</header><main>${body}</main></body></html>`;
}

function tradeTable(t: SandboxTrade, merchantName: string): string {
  return `<table><tr><td>商户 Merchant</td><td>${esc(merchantName)}</td></tr>
<tr><td>订单号 Order</td><td id="out-trade-no">${esc(t.out_trade_no)}</td></tr>
<tr><td>商品 Item</td><td>${esc(t.subject)}</td></tr>
<tr><td>金额 Amount</td><td class="amount" id="amount">¥${fenToYuan(t.amount_fen)}</td></tr>
<tr><td>交易号 Trade</td><td>${esc(t.trade_no)}</td></tr></table>`;
}

export function registerSandboxPlatform(app: FastifyInstance, o: SandboxPlatformOptions): void {
  const db = o.storage.db;

  const signedReturn = (t: SandboxTrade): string => {
    const p: Record<string, string> = {
      merchant_id: t.merchant_id,
      out_trade_no: t.out_trade_no,
      trade_no: t.trade_no,
      total_amount_fen: String(t.amount_fen),
    };
    p.sign = signParams(p, o.platformKey);
    const u = new URL(t.return_url);
    for (const [k, v] of Object.entries(p)) u.searchParams.set(k, v);
    return u.toString();
  };

  // The payment page the merchant redirects the browser to (signed by the merchant).
  app.get<{ Querystring: Record<string, string> }>('/sandbox-pay/gateway', { schema: { hide: true } }, async (req, reply) => {
    const q = req.query;
    const merchant = o.merchants.get(q.merchant_id ?? '');
    const amount = validFen(q.total_amount_fen);
    if (!merchant || !verifyParams(q, merchant.publicKey)) {
      return reply.code(400).type('text/html').send(page('请求无效', '<p>支付请求签名无效 (invalid merchant signature).</p>'));
    }
    if (!q.out_trade_no || amount === undefined || !q.notify_url || !q.return_url) {
      return reply.code(400).type('text/html').send(page('请求无效', '<p>支付请求参数不完整 (missing parameters).</p>'));
    }
    const now = Date.now();
    await insertTrade(db, {
      trade_no: `SBX${new Date(now).toISOString().slice(0, 10).replace(/-/g, '')}${randomBytes(6).toString('hex').toUpperCase()}`,
      merchant_id: q.merchant_id!,
      out_trade_no: q.out_trade_no,
      amount_fen: amount,
      subject: q.subject ?? '',
      notify_url: q.notify_url,
      return_url: q.return_url,
      status: 'pending',
      bank: null,
      created_at: now,
      paid_at: null,
      notify_attempts: 0,
      next_notify_at: null,
      notified_at: null,
    });
    const t = (await findTrade(db, q.merchant_id!, q.out_trade_no))!;
    if (t.amount_fen !== amount) {
      return reply
        .code(400)
        .type('text/html')
        .send(page('请求无效', '<p>同一订单的金额与首次请求不一致 (amount differs from the first request for this order).</p>'));
    }
    if (t.status === 'paid') {
      return reply
        .type('text/html')
        .send(
          page(
            '已支付',
            `${tradeTable(t, merchant.name)}<p class="ok">该订单已支付，不会重复扣款。 This order is already paid; you will not be charged again.</p><a class="btn" id="return" href="${esc(signedReturn(t))}">返回商户 Return</a>`,
          ),
        );
    }
    const banks = BANKS.map(
      (b, i) => `<label><input type="radio" name="bank" value="${esc(b)}" ${i === 0 ? 'checked' : ''}> ${esc(b)}</label>`,
    ).join('');
    return reply.type('text/html').send(
      page(
        '网银支付',
        `${tradeTable(t, merchant.name)}<form method="post" action="/sandbox-pay/pay"><input type="hidden" name="trade_no" value="${esc(t.trade_no)}">
<p>请选择银行 Choose your bank:</p><div class="banks">${banks}</div>
<p class="note">目前只支持个人银行卡。Personal bank cards only.</p>
<button type="submit" id="confirm-pay">确认支付 Pay</button> <a class="btn secondary" href="${esc(t.return_url)}">取消 Cancel</a></form>`,
      ),
    );
  });

  app.post<{ Body: Record<string, string> }>('/sandbox-pay/pay', { schema: { hide: true } }, async (req, reply) => {
    const t = await getTrade(db, req.body?.trade_no ?? '');
    const bank = req.body?.bank ?? '';
    if (!t || !BANKS.includes(bank))
      return reply.code(400).type('text/html').send(page('支付失败', '<p>交易或银行无效 (unknown trade or bank).</p>'));
    await markTradePaid(db, t.trade_no, bank, Date.now());
    void notifyDue();
    const paid = (await getTrade(db, t.trade_no))!;
    const merchant = o.merchants.get(paid.merchant_id);
    return reply
      .type('text/html')
      .send(
        page(
          '支付成功',
          `${tradeTable(paid, merchant?.name ?? paid.merchant_id)}<p class="ok" id="paid">支付成功 Payment successful (${esc(paid.bank ?? '')})</p><a class="btn" id="return" href="${esc(signedReturn(paid))}">返回商户 Return to merchant</a>`,
        ),
      );
  });

  // Active order query (server to server, signed both ways).
  app.post<{ Body: Record<string, string> }>('/sandbox-pay/api/query', { schema: { hide: true } }, async (req, reply) => {
    const q = req.body ?? {};
    const merchant = o.merchants.get(q.merchant_id ?? '');
    if (!merchant || !verifyParams(q, merchant.publicKey)) return reply.code(400).send({ code: 'INVALID_SIGNATURE' });
    const t = await findTrade(db, q.merchant_id!, q.out_trade_no ?? '');
    const answer: Record<string, string> = { merchant_id: q.merchant_id!, out_trade_no: q.out_trade_no ?? '' };
    if (!t) answer.trade_status = 'TRADE_NOT_EXIST';
    else {
      Object.assign(answer, tradeFields(t));
      answer.trade_status = t.status === 'paid' ? 'TRADE_SUCCESS' : t.status === 'closed' ? 'TRADE_CLOSED' : 'WAIT_BUYER_PAY';
    }
    answer.sign = signParams(answer, o.platformKey);
    return answer;
  });

  const tradeFields = (t: SandboxTrade): Record<string, string> => ({
    trade_no: t.trade_no,
    total_amount_fen: String(t.amount_fen),
    ...(t.paid_at ? { gmt_payment: String(t.paid_at) } : {}),
    ...(t.bank ? { bank: t.bank } : {}),
  });

  let running = false;
  const notifyDue = async (): Promise<void> => {
    if (o.notify === 'off' || running) return;
    running = true;
    try {
      const now = Date.now();
      for (const t of await tradesToNotify(db, now)) {
        // several instances run this notifier on one database: one of them sends each attempt
        if (!(await claimNotification(db, t, now + 30_000))) continue;
        const form: Record<string, string> = {
          notify_id: randomBytes(8).toString('hex'),
          notify_time: String(now),
          merchant_id: t.merchant_id,
          out_trade_no: t.out_trade_no,
          trade_status: 'TRADE_SUCCESS',
          ...tradeFields(t),
        };
        form.sign = signParams(form, o.platformKey);
        let acked = false;
        try {
          const res = await fetch(t.notify_url, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams(form).toString(),
            signal: AbortSignal.timeout(10_000),
          });
          acked = res.ok && (await res.text()).trim() === 'success';
        } catch (e) {
          o.log(`sandbox notification to ${t.notify_url} failed`, e);
        }
        const delay = o.backoffMs[Math.min(t.notify_attempts, o.backoffMs.length - 1)]!;
        await recordNotifyAttempt(
          db,
          t.trade_no,
          acked,
          t.notify_attempts + 1 >= o.backoffMs.length + 1 ? null : now + delay,
          now,
        );
      }
    } catch (e) {
      o.log('sandbox notifier failed', e);
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void notifyDue(), 1000);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
}
