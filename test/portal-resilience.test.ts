// The renewal ledger when things go wrong: a lost payment notification (the active query finds the
// payment), an unpaid order that expires (and a payment arriving afterwards still pays it), and an
// expired certificate that may log in for renewal only.
import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { TestCa } from './helpers/ca.js';
import {
  createHolder,
  PortalClient,
  sandboxReturnPath,
  sendSandboxNotification,
  serveTestCa,
  type ServedCa,
} from './helpers/holder.js';

type Order = { id: string; state: string; amountFen: number; events: { type: string }[] };
const FORM = {
  termYears: 1,
  recipient: '张三',
  phone: '13800138000',
  address: '上海市浦东新区世纪大道100号',
  postcode: '200120',
  paymentMethod: 'online',
};

describe('portal resilience', () => {
  let served: ServedCa;
  let ca: TestCa;
  let base: string;
  let origin: string;
  before(async () => {
    // No notifications from the gateway: only the active query can learn of a payment.
    served = await serveTestCa({ env: { SANDBOX_NOTIFY: 'off', ORDER_TTL_MINUTES: '1' } });
    ({ ca, base, origin } = served);
  });
  after(async () => served?.close());

  test('a lost notification: the browser return and the order view query the gateway and find the payment', async () => {
    const holder = await createHolder(ca, { name: '通知丢失' });
    const c = new PortalClient(base, origin);
    await c.login(holder);
    const order = (await c.call<{ order: Order }>('POST', '/api/portal/orders', FORM)).body.order;
    const pay = await c.call<{ redirectUrl: string }>('POST', `/api/portal/orders/${order.id}/pay`);
    const u = new URL(pay.body.redirectUrl);
    const page = await (await fetch(`${base}${u.pathname}${u.search}`)).text();
    const tradeNo = /name="trade_no" value="([^"]+)"/.exec(page)![1]!;
    const paidPage = await (
      await fetch(`${base}/sandbox-pay/pay`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `trade_no=${tradeNo}&bank=${encodeURIComponent('中国银行')}`,
      })
    ).text();
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await ca.rt.renewals.order(order.id)).state, 'awaiting_payment', 'no notification arrived');
    // the browser comes back by the link the gateway signed: a hint, which makes the server ask the gateway
    const back = await c.call('GET', sandboxReturnPath(paidPage));
    assert.equal(back.status, 302);
    assert.equal((await ca.rt.renewals.order(order.id)).state, 'paid', 'the return queried the gateway');
    const seen = await c.call<{ order: Order }>('GET', `/api/portal/orders/${order.id}`);
    assert.equal(seen.body.order.state, 'paid');
    assert.ok(seen.body.order.events.some((e) => e.type === 'paid'));
    const payments = await ca.rt.storage.db.selectFrom('payments').selectAll().where('order_id', '=', order.id).execute();
    assert.equal(payments.length, 1);
    assert.equal(payments[0]!.channel, 'sandbox');
    assert.equal(payments[0]!.trade_no, tradeNo);
  });

  test('an unpaid order expires; a payment that arrives afterwards still pays it (money is never lost)', async () => {
    const holder = await createHolder(ca, { name: '订单过期' });
    const c = new PortalClient(base, origin);
    await c.login(holder);
    const order = (await c.call<{ order: Order }>('POST', '/api/portal/orders', FORM)).body.order;
    await ca.rt.storage.db
      .updateTable('orders')
      .set({ expires_at: Date.now() - 1 })
      .where('id', '=', order.id)
      .execute();
    assert.equal(await ca.rt.renewals.expireOrders(), 1);
    assert.equal((await ca.rt.renewals.order(order.id)).state, 'expired');
    // an expired order cannot be paid from the portal any more…
    assert.equal((await c.call('POST', `/api/portal/orders/${order.id}/pay`)).status, 409);
    // …but a late notification for money already taken pays it
    const r = await sendSandboxNotification(ca, base, order, { trade_no: 'SBXLATE1' });
    assert.equal(r.text, 'success');
    assert.equal((await ca.rt.renewals.order(order.id)).state, 'paid');
    // with the order expired, a new one could have been opened; the renewal page resumes this one instead
    const q = await c.call<{ openOrder: Order | null }>('GET', '/api/portal/renewal');
    assert.equal(q.body.openOrder?.id, order.id);
  });

  test('a notification with the wrong amount is acknowledged but does not pay the order; it is on record', async () => {
    const holder = await createHolder(ca, { name: '金额不符' });
    const c = new PortalClient(base, origin);
    await c.login(holder);
    const order = (await c.call<{ order: Order }>('POST', '/api/portal/orders', FORM)).body.order;
    const r = await sendSandboxNotification(ca, base, order, { trade_no: 'SBXWRONGAMOUNT', total_amount_fen: '1' });
    assert.equal(r.text, 'success');
    const o = await c.call<{ order: Order }>('GET', `/api/portal/orders/${order.id}`);
    assert.equal(o.body.order.state, 'awaiting_payment');
    assert.ok(o.body.order.events.some((e) => e.type === 'payment.rejected'));
    const audit = await ca.rt.storage.db
      .selectFrom('audit_log')
      .selectAll()
      .where('target', '=', order.id)
      .where('action', '=', 'payment.rejected')
      .execute();
    assert.equal(audit.length, 1);
  });

  test('an expired certificate inside the renewal window logs in for renewal only', async () => {
    const holder = await createHolder(ca, { name: '已过期' });
    await ca.rt.storage.db
      .updateTable('certificates')
      .set({ not_after: Date.now() - 10 * 86_400_000 })
      .where('serial', '=', holder.serial)
      .execute();
    const c = new PortalClient(base, origin);
    const r = await c.login(holder);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.renewalOnly, true);
    assert.equal((await c.call('GET', '/api/portal/renewal')).status, 200);
    const certs = await c.call<{ error: string }>('GET', '/api/portal/certificates');
    assert.equal(certs.status, 403);
    assert.equal(certs.body.error, 'renewal_only');
    // far past the window: refused, with the dates and the service point
    await ca.rt.storage.db
      .updateTable('certificates')
      .set({ not_after: Date.now() - 200 * 86_400_000 })
      .where('serial', '=', holder.serial)
      .execute();
    const late = await new PortalClient(base, origin).login(holder);
    assert.equal(late.status, 401);
    assert.match(String(late.body.message), /renewal window closed .*service point/);
  });
});

describe('resuming with the new certificate', () => {
  let served: ServedCa;
  let ca: TestCa;
  let base: string;
  let origin: string;
  before(async () => {
    served = await serveTestCa();
    ({ ca, base, origin } = served);
  });
  after(async () => served?.close());

  test('after the key switched to the new certificate, logging in with it shows the unfinished order', async () => {
    const holder = await createHolder(ca, { name: '新证书续办' });
    const c = new PortalClient(base, origin);
    await c.login(holder);
    const order = (await c.call<{ order: Order }>('POST', '/api/portal/orders', FORM)).body.order;
    assert.equal((await sendSandboxNotification(ca, base, order)).text, 'success');
    const req = await holder.renewalRequest(order.id);
    const issued = await c.call<{ certificate: string }>('POST', `/api/portal/orders/${order.id}/issue`, {
      csr: req.csr.toString('base64'),
      proof: req.proof.toString('base64'),
    });
    assert.equal(issued.status, 200);
    const newCert = Buffer.from(issued.body.certificate, 'base64');
    // the tab closed after the assistant switched labels: the key now presents the new certificate
    const next = new PortalClient(base, origin);
    const ch = (await next.call<{ challenge: string }>('POST', '/api/portal/login/challenge')).body.challenge;
    const login = await next.call('POST', '/api/portal/login', {
      challenge: ch,
      signature: sign('sha256', Buffer.from(ch), { key: req.newKey, dsaEncoding: 'der' }).toString('base64'),
      certificate: newCert.toString('base64'),
    });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    next.csrf = String(login.body.csrfToken);
    const q = await next.call<{ openOrder: Order | null }>('GET', '/api/portal/renewal');
    assert.equal(q.body.openOrder?.id, order.id);
    assert.equal(q.body.openOrder?.state, 'issued');
    const done = await next.call<{ order: Order }>('POST', `/api/portal/orders/${order.id}/installed`);
    assert.equal(done.body.order.state, 'completed');
  });
});
