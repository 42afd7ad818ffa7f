// The sandbox payment platform's notifications, as a gateway sends them: signed, retried with the
// configured back-off while the merchant does not acknowledge (an HTTP error or any answer other
// than `success`), never again once it has, and given up after the last delay. The merchant here
// is a loopback HTTP server that checks each notification with certdesk's own gateway adapter.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance } from 'fastify';
import { SandboxGatewayAdapter } from '../src/payments/sandbox/adapter.js';
import { sandboxKeys } from '../src/payments/sandbox/keys.js';
import { registerSandboxPlatform } from '../src/payments/sandbox/platform.js';
import { findTrade } from '../src/sa/sandbox-trades.js';
import { createTestCa, type TestCa } from './helpers/ca.js';

const MERCHANT = 'merchant-retry-test';
const BACKOFF_MS = [300, 1200];

/** What the merchant answers to the n-th notification of an order (the last entry repeats). */
const ANSWERS: Record<string, { status: number; body: string }[]> = {
  // refused, then a wrong answer, then acknowledged
  'ORDER-ACK-3RD': [
    { status: 500, body: 'busy' },
    { status: 200, body: 'fail' },
    { status: 200, body: 'success' },
  ],
  // never acknowledged
  'ORDER-NEVER': [{ status: 503, body: 'down' }],
};

interface Seen {
  orderId: string;
  tradeNo: string;
  amountFen: number;
  notifyTime: number;
}

describe('payment gateway notifications: retry with back-off until acknowledged', () => {
  let ca: TestCa;
  let platform: FastifyInstance;
  let merchant: Server;
  let gatewayUrl: string;
  let adapter: SandboxGatewayAdapter;
  const seen: Seen[] = [];
  const errors: unknown[] = [];

  before(async () => {
    ca = await createTestCa();
    const keys = sandboxKeys(ca.dir);
    merchant = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => (body += d));
      req.on('end', () => {
        try {
          const form = Object.fromEntries(new URLSearchParams(body));
          const p = adapter.parseNotification(form); // throws unless signed by the platform key
          assert.ok(p, 'a TRADE_SUCCESS notification');
          const n = seen.filter((s) => s.orderId === p.orderId).length;
          seen.push({ orderId: p.orderId, tradeNo: p.tradeNo, amountFen: p.amountFen, notifyTime: Number(form.notify_time) });
          const plan = ANSWERS[p.orderId]!;
          const a = plan[Math.min(n, plan.length - 1)]!;
          res.writeHead(a.status).end(a.body);
        } catch (e) {
          errors.push(e);
          res.writeHead(400).end('bad');
        }
      });
    });
    await new Promise<void>((r) => merchant.listen(0, '127.0.0.1', r));
    const notifyUrl = `http://127.0.0.1:${(merchant.address() as AddressInfo).port}/notify`;

    platform = Fastify();
    await platform.register(formbody);
    registerSandboxPlatform(platform, {
      storage: ca.rt.storage,
      platformKey: keys.platformPrivate,
      merchants: new Map([[MERCHANT, { publicKey: keys.merchantPublic, name: '重试测试商户' }]]),
      notify: 'on',
      backoffMs: BACKOFF_MS,
      log: () => {},
    });
    await platform.listen({ port: 0, host: '127.0.0.1' });
    gatewayUrl = `http://127.0.0.1:${(platform.server.address() as AddressInfo).port}`;
    adapter = new SandboxGatewayAdapter({
      merchantId: MERCHANT,
      publicGatewayUrl: gatewayUrl,
      apiGatewayUrl: gatewayUrl,
      notifyUrl,
      merchantKey: keys.merchantPrivate,
      platformPublicKey: keys.platformPublic,
    });
  });
  after(async () => {
    await platform?.close();
    merchant?.close();
    await ca?.cleanup();
  });

  /** The holder pays `orderId` on the platform's page (the way the browser does). */
  const pay = async (orderId: string, amountFen: number): Promise<string> => {
    const { redirectUrl } = await adapter.createPayment({
      orderId,
      amountFen,
      subject: '单位身份证书 更新 1 年',
      returnUrl: 'http://127.0.0.1:1/return',
    });
    const page = await (await fetch(redirectUrl)).text();
    const tradeNo = /name="trade_no" value="([^"]+)"/.exec(page)?.[1];
    assert.ok(tradeNo, page);
    const paid = await fetch(`${gatewayUrl}/sandbox-pay/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ trade_no: tradeNo, bank: '中国银行' }).toString(),
    });
    assert.equal(paid.status, 200);
    return tradeNo;
  };

  /** Waits until the platform has finished with the trade: acknowledged, or given up. */
  const settled = async (orderId: string): Promise<NonNullable<Awaited<ReturnType<typeof findTrade>>>> => {
    for (let i = 0; i < 300; i++) {
      const t = await findTrade(ca.rt.storage.db, MERCHANT, orderId);
      if (t && t.notify_attempts > 0 && t.next_notify_at === null) return t;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`the platform still retries ${orderId}`);
  };

  /** The merchant's view of one order's notifications: each one waited at least its back-off delay. */
  const checkSpacing = (orderId: string, tradeNo: string, amountFen: number): Seen[] => {
    const mine = seen.filter((s) => s.orderId === orderId);
    for (const s of mine) assert.deepEqual({ tradeNo: s.tradeNo, amountFen: s.amountFen }, { tradeNo, amountFen });
    for (let i = 1; i < mine.length; i++) {
      const gap = mine[i]!.notifyTime - mine[i - 1]!.notifyTime;
      assert.ok(
        gap >= BACKOFF_MS[i - 1]!,
        `attempt ${i + 1} came ${gap} ms after the previous one, before ${BACKOFF_MS[i - 1]} ms`,
      );
    }
    return mine;
  };

  test('refused, then answered wrongly, then acknowledged: three notifications, then none', async () => {
    const tradeNo = await pay('ORDER-ACK-3RD', 30000);
    const t = await settled('ORDER-ACK-3RD');
    assert.equal(t.notify_attempts, 3);
    assert.ok(t.notified_at, 'recorded as acknowledged');
    assert.equal(checkSpacing('ORDER-ACK-3RD', tradeNo, 30000).length, 3);
    assert.deepEqual(errors, [], 'every notification verified with the platform key');
  });

  test('never acknowledged: one notification per back-off delay, then it gives up', async () => {
    const tradeNo = await pay('ORDER-NEVER', 18000);
    const t = await settled('ORDER-NEVER');
    assert.equal(t.notify_attempts, BACKOFF_MS.length + 1);
    assert.equal(t.notified_at, null, 'not recorded as acknowledged');
    assert.equal(checkSpacing('ORDER-NEVER', tradeNo, 18000).length, BACKOFF_MS.length + 1);
    // the acknowledged order got nothing more meanwhile
    assert.equal(seen.filter((s) => s.orderId === 'ORDER-ACK-3RD').length, 3);
    assert.deepEqual(errors, []);
  });
});
