// Cancelling an unpaid order, by the holder in the portal and by staff in the console, on SQLite and
// PostgreSQL: only the order's own holder, only while unpaid, once; the certificate may then be
// ordered again; a payment that arrives for a cancelled order is kept on record for a refund, and a
// cancel racing a payment ends either cancelled or paid — never cancelled with the money lost.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BACKENDS } from './helpers/backends.js';
import { createHolder, ORDER_FORM, PortalClient, sendSandboxNotification, serveTestCa, type ServedCa } from './helpers/holder.js';
import { loggedInStaff, type StaffClient } from './helpers/staff.js';

type Event = { type: string; actor: string; detail: Record<string, unknown> };
type Order = { id: string; state: string; amountFen: number; events: Event[] };

for (const backend of BACKENDS) {
  describe(`cancelling an order (${backend.name})`, { skip: backend.skip }, () => {
    let served: ServedCa;
    let op: StaffClient;
    before(async () => {
      served = await serveTestCa({ postgres: backend.postgres, env: { SANDBOX_NOTIFY: 'off' } });
      op = await loggedInStaff(served.ca.rt, served.base, served.origin, ['operator']);
    });
    after(async () => served?.close());

    const holderWithOrder = async (
      name: string,
      paymentMethod: 'bank' | 'online' = 'online',
    ): Promise<{ portal: PortalClient; order: Order; serial: string }> => {
      const holder = await createHolder(served.ca, { name });
      const portal = new PortalClient(served.base, served.origin);
      assert.equal((await portal.login(holder)).status, 200);
      const r = await portal.call<{ order: Order }>('POST', '/api/portal/orders', { ...ORDER_FORM, paymentMethod });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return { portal, order: r.body.order, serial: holder.serial };
    };
    const auditActions = async (orderId: string): Promise<string[]> =>
      (
        await served.ca.rt.storage.db
          .selectFrom('audit_log')
          .select('action')
          .where('target', '=', orderId)
          .orderBy('seq')
          .execute()
      ).map((a) => a.action);

    test('the holder cancels an unpaid order once; no one else can; the certificate can be ordered again', async () => {
      const { portal, order, serial } = await holderWithOrder('持有人取消');
      const stranger = (await holderWithOrder('别人的订单')).portal;
      assert.equal((await stranger.call('POST', `/api/portal/orders/${order.id}/cancel`)).status, 404, 'not their order');
      const noCsrf = new PortalClient(served.base, served.origin);
      noCsrf.cookie = portal.cookie;
      assert.equal((await noCsrf.call('POST', `/api/portal/orders/${order.id}/cancel`)).status, 403, 'CSRF token required');
      assert.equal((await served.ca.rt.renewals.order(order.id)).state, 'awaiting_payment', 'refused cancels changed nothing');

      const r = await portal.call<{ order: Order }>('POST', `/api/portal/orders/${order.id}/cancel`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.order.state, 'cancelled');
      const cancelled = r.body.order.events.filter((e) => e.type === 'cancelled');
      assert.deepEqual(
        cancelled.map((e) => e.actor),
        [`holder:${serial}`],
      );
      assert.ok((await auditActions(order.id)).includes('order.cancelled'));
      const again = await portal.call<{ error: string }>('POST', `/api/portal/orders/${order.id}/cancel`);
      assert.equal(again.status, 409);
      assert.equal(again.body.error, 'invalid_state');
      // a cancelled order cannot be paid any more; the certificate is free for a new order
      assert.equal((await portal.call('POST', `/api/portal/orders/${order.id}/pay`)).status, 409);
      const quote = await portal.call<{ openOrder: Order | null }>('GET', '/api/portal/renewal');
      assert.equal(quote.body.openOrder, null);
      const next = await portal.call<{ order: Order }>('POST', '/api/portal/orders', { ...ORDER_FORM, paymentMethod: 'online' });
      assert.equal(next.status, 201, JSON.stringify(next.body));
      assert.notEqual(next.body.order.id, order.id);
    });

    test('a paid order cannot be cancelled, by the holder or by staff', async () => {
      const { portal, order } = await holderWithOrder('已付款不可取消');
      assert.equal((await sendSandboxNotification(served.ca, served.base, order)).text, 'success');
      assert.equal((await portal.call('POST', `/api/portal/orders/${order.id}/cancel`)).status, 409);
      assert.equal((await op.call('POST', `/api/staff/orders/${order.id}/cancel`, {})).status, 409);
      assert.equal((await served.ca.rt.renewals.order(order.id)).state, 'paid');
    });

    test('staff cancel with a reason: the holder sees it, the reason is recorded and audited', async () => {
      const { portal, order } = await holderWithOrder('客服取消', 'bank');
      const r = await op.call<{ order: { state: string } }>('POST', `/api/staff/orders/${order.id}/cancel`, {
        reason: '客户来电要求取消',
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const seen = (await portal.call<{ order: Order }>('GET', `/api/portal/orders/${order.id}`)).body.order;
      assert.equal(seen.state, 'cancelled');
      const events = await served.ca.rt.storage.db
        .selectFrom('order_events')
        .selectAll()
        .where('order_id', '=', order.id)
        .execute();
      const reason = events.find((e) => e.type === 'cancel.reason');
      assert.ok(reason, JSON.stringify(events));
      assert.deepEqual(JSON.parse(reason.detail), { reason: '客户来电要求取消' });
      assert.ok(reason.actor.startsWith('staff:'));
      assert.deepEqual((await auditActions(order.id)).slice(-2), ['order.cancelled', 'order.cancel_reason']);
    });

    test('a payment arriving for a cancelled order is acknowledged and kept for a refund; the order stays cancelled', async () => {
      const { portal, order } = await holderWithOrder('取消后到账');
      assert.equal((await portal.call('POST', `/api/portal/orders/${order.id}/cancel`)).status, 200);
      const late = await sendSandboxNotification(served.ca, served.base, order, { trade_no: `SBXCXL${Date.now()}` });
      assert.equal(late.text, 'success', 'acknowledged: the gateway need not retry');
      const o = (await portal.call<{ order: Order }>('GET', `/api/portal/orders/${order.id}`)).body.order;
      assert.equal(o.state, 'cancelled');
      const extra = o.events.filter((e) => e.type === 'payment.extra');
      assert.equal(extra.length, 1, JSON.stringify(o.events));
      assert.match(String(extra[0]!.detail.note), /refund/);
    });

    test('holder and staff cancel at once, and a payment races a cancel: one outcome each, money never lost', async () => {
      const both = await holderWithOrder('同时取消');
      const [h, s] = await Promise.all([
        both.portal.call('POST', `/api/portal/orders/${both.order.id}/cancel`),
        op.call('POST', `/api/staff/orders/${both.order.id}/cancel`, {}),
      ]);
      assert.deepEqual([h.status, s.status].sort(), [200, 409]);
      const bothEvents = (await both.portal.call<{ order: Order }>('GET', `/api/portal/orders/${both.order.id}`)).body.order
        .events;
      assert.equal(bothEvents.filter((e) => e.type === 'cancelled').length, 1);

      const race = await holderWithOrder('付款与取消赛跑');
      const [cancel, paid] = await Promise.all([
        race.portal.call('POST', `/api/portal/orders/${race.order.id}/cancel`),
        sendSandboxNotification(served.ca, served.base, race.order, { trade_no: `SBXRACE${Date.now()}` }),
      ]);
      assert.equal(paid.text, 'success');
      const o = (await race.portal.call<{ order: Order }>('GET', `/api/portal/orders/${race.order.id}`)).body.order;
      const types = o.events.map((e) => e.type);
      if (o.state === 'cancelled') {
        assert.equal(cancel.status, 200);
        assert.ok(types.includes('payment.extra'), `cancelled first: the payment is kept for a refund (${types.join(', ')})`);
      } else {
        assert.equal(o.state, 'paid');
        assert.equal(cancel.status, 409, 'paid first: the cancel is refused');
        assert.ok(!types.includes('cancelled'));
      }
    });
  });
}
