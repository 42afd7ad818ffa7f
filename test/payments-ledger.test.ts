// The payment ledger under repeated and malformed input, on SQLite and PostgreSQL: an extra payment
// (a second trade for a paid order, money for a closed one) is recorded once per (channel, trade_no)
// however many copies of its notification arrive at once, and an amount is whole positive fen in
// digits at every way in — gateway notifications, staff confirmation and refunds, bank statements,
// the CLI — so a signed −30000 or "3e4" moves no money and leaves no record.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Migrator, sql } from 'kysely';
import { openDatabase, migrate } from '../src/sa/database.js';
import { migrationProvider } from '../src/sa/migrations.js';
import { MAX_FEN, parseFen, yuanToFen } from '../src/ra/money.js';
import { BACKENDS } from './helpers/backends.js';
import { cliAsync } from './helpers/cli.js';
import { createHolder, ORDER_FORM, PortalClient, sendSandboxNotification, serveTestCa, type ServedCa } from './helpers/holder.js';
import { loggedInStaff, type StaffClient } from './helpers/staff.js';

type Order = { id: string; state: string; amountFen: number; reference: string };
const FORM = ORDER_FORM;

/** Spellings of an amount that are not whole positive fen in plain digits. */
const BAD_FEN = [
  '-30000',
  '3e4',
  '30000.0',
  '300.5',
  '+30000',
  ' 30000',
  '30000 ',
  '30 000',
  '0',
  '030000',
  '0x7530',
  '',
  '99999999999999999999',
  String(MAX_FEN + 1),
];
/** The same for yuan as staff type them (the console and the CLI). */
const BAD_YUAN = [
  '-300.00',
  '3e2',
  '300.001',
  '+300.00',
  ' 300.00',
  '300.00 ',
  '300,00',
  '0.00',
  '.5',
  '1e9',
  '99999999999.00',
  'Infinity',
];

describe('amounts: one parser, whole positive fen', () => {
  test('fen in digits: accepted and refused spellings', () => {
    assert.equal(parseFen('30000'), 30000);
    assert.equal(parseFen('1'), 1);
    assert.equal(parseFen(String(MAX_FEN)), MAX_FEN);
    for (const bad of BAD_FEN) assert.throws(() => parseFen(bad), RangeError, `parseFen(${JSON.stringify(bad)})`);
    assert.throws(() => parseFen(30000 as unknown as string), RangeError, 'a number is not the wire format');
  });

  test('yuan with at most two decimals: accepted and refused spellings', () => {
    assert.equal(yuanToFen('300.00'), 30000);
    assert.equal(yuanToFen('300.5'), 30050);
    assert.equal(yuanToFen('0.01'), 1);
    for (const bad of BAD_YUAN) assert.throws(() => yuanToFen(bad), RangeError, `yuanToFen(${JSON.stringify(bad)})`);
  });
});

test('migration 0006 turns the extra payments recorded before (events, repeated) into one record per trade', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'certdesk-migrate-'));
  const storage = await openDatabase({ dataDir: dir, migrate: false });
  try {
    const r = await new Migrator({ db: storage.db, provider: migrationProvider('sqlite') }).migrateTo(
      '0004_orders_issued_serial',
    );
    assert.equal(r.error, undefined);
    // the rows an older version wrote for extra payments; the order row itself does not matter here
    // (foreign keys off until the migration is done)
    await sql`pragma foreign_keys = off`.execute(storage.db);
    const event = (at: number, tradeNo: string, amountFen: unknown) => ({
      order_id: 'R20261125-OLDONE',
      at,
      type: 'payment.extra',
      actor: 'gateway:sandbox',
      detail: JSON.stringify({ channel: 'sandbox', tradeNo, amountFen, note: 'order already paid: refund this payment' }),
    });
    await storage.db
      .insertInto('order_events')
      .values([
        event(1000, 'SBXA', 30000),
        event(1001, 'SBXA', 30000),
        event(1002, 'SBXA', 30000),
        event(1003, 'SBXNEG', -30000),
        event(1004, 'SBXB', 55000),
      ])
      .execute();
    await migrate(storage);
    await sql`pragma foreign_keys = on`.execute(storage.db);
    const rows = await storage.db.selectFrom('extra_payments').selectAll().orderBy('id').execute();
    assert.deepEqual(
      rows.map((x) => [x.order_id, x.channel, x.trade_no, x.amount_fen, x.paid_at, x.recorded_by]),
      [
        ['R20261125-OLDONE', 'sandbox', 'SBXA', 30000, 1000, 'gateway:sandbox'],
        ['R20261125-OLDONE', 'sandbox', 'SBXB', 55000, 1004, 'gateway:sandbox'],
      ],
    );
    assert.equal((await storage.db.selectFrom('order_events').select('id').execute()).length, 5, 'the events stay');
  } finally {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const backend of BACKENDS) {
  describe(`payment ledger (${backend.name})`, { skip: backend.skip }, () => {
    let served: ServedCa;
    let op: StaffClient;
    before(async () => {
      // No notifications from the sandbox platform itself: the test sends them.
      served = await serveTestCa({ postgres: backend.postgres, env: { SANDBOX_NOTIFY: 'off' } });
      op = await loggedInStaff(served.ca.rt, served.base, served.origin, ['operator']);
    });
    after(async () => served?.close());

    const newOrder = async (name: string, paymentMethod: 'online' | 'bank'): Promise<{ portal: PortalClient; order: Order }> => {
      const holder = await createHolder(served.ca, { name });
      const portal = new PortalClient(served.base, served.origin);
      assert.equal((await portal.login(holder)).status, 200);
      const r = await portal.call<{ order: Order }>('POST', '/api/portal/orders', { ...FORM, paymentMethod });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return { portal, order: r.body.order };
    };

    const records = async (orderId: string) => {
      const db = served.ca.rt.storage.db;
      const [payments, extras, events, audit] = await Promise.all([
        db.selectFrom('payments').selectAll().where('order_id', '=', orderId).execute(),
        db.selectFrom('extra_payments').selectAll().where('order_id', '=', orderId).execute(),
        db.selectFrom('order_events').selectAll().where('order_id', '=', orderId).execute(),
        db.selectFrom('audit_log').selectAll().where('target', '=', orderId).execute(),
      ]);
      return {
        payments,
        extras,
        events: events.map((e) => e.type),
        audit: audit.map((a) => a.action),
      };
    };
    const count = (xs: string[], x: string): number => xs.filter((v) => v === x).length;

    /** 50 copies of one signed notification, sent at once. */
    const fifty = (order: Order, tradeNo: string): Promise<{ status: number; text: string }[]> => {
      const paidAt = String(Date.now());
      return Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          sendSandboxNotification(served.ca, served.base, order, { trade_no: tradeNo, gmt_payment: paidAt, notify_id: `n${i}` }),
        ),
      );
    };

    test('50 parallel copies of an extra payment for a paid order record it once; another trade is another extra', async () => {
      const { order } = await newOrder('多付一次', 'online');
      assert.equal((await sendSandboxNotification(served.ca, served.base, order, { trade_no: 'SBXFIRST' })).text, 'success');
      const answers = await fifty(order, 'SBXSECOND');
      assert.deepEqual(new Set(answers.map((a) => `${a.status} ${a.text}`)), new Set(['200 success']));
      let r = await records(order.id);
      assert.equal(count(r.events, 'payment.extra'), 1, 'one payment.extra event');
      assert.equal(count(r.audit, 'payment.extra'), 1, 'one payment.extra audit row');
      assert.equal(r.payments.length, 1);
      assert.equal(r.payments[0]!.trade_no, 'SBXFIRST');
      assert.deepEqual(
        r.extras.map((x) => [x.channel, x.trade_no, x.amount_fen]),
        [['sandbox', 'SBXSECOND', order.amountFen]],
      );

      // a different trade is a different extra payment
      await fifty(order, 'SBXTHIRD');
      r = await records(order.id);
      assert.deepEqual(r.extras.map((x) => x.trade_no).sort(), ['SBXSECOND', 'SBXTHIRD']);
      assert.equal(count(r.events, 'payment.extra'), 2);
      assert.equal(count(r.audit, 'payment.extra'), 2);
      assert.equal((await served.ca.rt.renewals.order(order.id)).state, 'paid');
    });

    test('50 parallel copies of a payment for a cancelled order record one extra payment, to refund once', async () => {
      const { portal, order } = await newOrder('取消后付款', 'online');
      assert.equal((await portal.call('POST', `/api/portal/orders/${order.id}/cancel`)).status, 200);
      await fifty(order, 'SBXLATE');
      const r = await records(order.id);
      assert.equal(count(r.events, 'payment.extra'), 1, 'one payment.extra event');
      assert.equal(count(r.audit, 'payment.extra'), 1, 'one payment.extra audit row');
      assert.equal(r.payments.length, 0);
      assert.equal(r.extras.length, 1);
      assert.equal((await served.ca.rt.renewals.order(order.id)).state, 'cancelled');
      const refund = (ref: string) =>
        op.call<{ error?: string }>('POST', `/api/staff/orders/${order.id}/refund`, {
          kind: 'extra',
          tradeNo: 'SBXLATE',
          amount: (order.amountFen / 100).toFixed(2),
          refundReference: ref,
          reason: '订单已取消',
        });
      assert.equal((await refund('RF-LATE-1')).status, 200);
      const twice = await refund('RF-LATE-2');
      assert.equal(twice.status, 409);
      assert.equal(twice.body.error, 'already_refunded');
    });

    test('a signed notification whose amount is not whole positive fen is refused and leaves no record', async () => {
      const unpaid = (await newOrder('金额格式', 'online')).order;
      const paid = (await newOrder('金额格式二', 'online')).order;
      assert.equal((await sendSandboxNotification(served.ca, served.base, paid, { trade_no: 'SBXPAID' })).text, 'success');
      const before = { unpaid: await records(unpaid.id), paid: await records(paid.id) };
      for (const bad of BAD_FEN) {
        for (const order of [unpaid, paid]) {
          const r = await sendSandboxNotification(served.ca, served.base, order, {
            trade_no: `SBXBAD${BAD_FEN.indexOf(bad)}`,
            total_amount_fen: bad,
          });
          assert.deepEqual([r.status, r.text], [400, 'fail'], `total_amount_fen ${JSON.stringify(bad)}`);
        }
      }
      assert.deepEqual(await records(unpaid.id), before.unpaid, 'nothing recorded for the unpaid order');
      assert.deepEqual(await records(paid.id), before.paid, 'no extra payment recorded for the paid order');
      assert.equal((await served.ca.rt.renewals.order(unpaid.id)).state, 'awaiting_payment');
    });

    test('staff confirmation, refunds and statements take only positive amounts, naming the field', async () => {
      const { order } = await newOrder('线下金额', 'bank');
      const confirm = (body: Record<string, unknown>) =>
        op.call<{ error: string; field?: string; outcome?: string }>('POST', `/api/staff/orders/${order.id}/confirm-payment`, {
          reference: 'ICBC-AMT-1',
          ...body,
        });
      for (const amount of BAD_YUAN) {
        const r = await confirm({ amount });
        assert.deepEqual([r.status, r.body.error, r.body.field], [400, 'invalid', 'amount'], `amount ${JSON.stringify(amount)}`);
      }
      for (const amountFen of [-30000, 0, 300.5, 1e20, '30000']) {
        const r = await confirm({ amountFen });
        assert.deepEqual([r.status, r.body.field], [400, 'amount'], `amountFen ${JSON.stringify(amountFen)}`);
      }
      const none = await records(order.id);
      assert.equal(none.payments.length + none.extras.length, 0);
      assert.equal((await confirm({ amount: '300.00' })).body.outcome, 'recorded');
      for (const amount of ['-300.00', '3e2', ' 300.00']) {
        const r = await op.call<{ error: string; field?: string }>('POST', `/api/staff/orders/${order.id}/refund`, {
          kind: 'order',
          amount,
          refundReference: 'RF-AMT',
          reason: '测试',
        });
        assert.deepEqual([r.status, r.body.field], [400, 'amount'], `refund amount ${JSON.stringify(amount)}`);
      }
      assert.equal((await served.ca.rt.renewals.order(order.id)).state, 'paid');

      // a statement line with an exponent is reported unreadable, not read as 300 yuan
      const other = (await newOrder('对账金额', 'bank')).order;
      const imported = await op.call<{ unmatched: { outcome: string; amountFen: number | null }[] }>(
        'POST',
        '/api/staff/statements',
        { filename: 's.csv', content: `date,amount,reference,transaction_id\n2026-11-25,3e2,${other.reference},TX-EXP\n` },
      );
      assert.equal(imported.status, 200, JSON.stringify(imported.body));
      assert.deepEqual(
        imported.body.unmatched.map((u) => [u.outcome, u.amountFen]),
        [['invalid', null]],
      );
      assert.equal((await served.ca.rt.renewals.order(other.id)).state, 'awaiting_payment');
    });

    if (!backend.postgres)
      test('certdesk orders confirm-payment --amount refuses a negative, an exponent and padding', async () => {
        const { order } = await newOrder('命令行金额', 'bank');
        for (const amount of ['-300.00', '3e2', ' 300.00']) {
          const r = await cliAsync(
            ['orders', 'confirm-payment', order.id, '--reference', 'CLI-AMT', `--amount=${amount}`],
            served.ca.env,
          );
          assert.notEqual(r.status, 0, `--amount=${amount}`);
          assert.match(r.stderr, /--amount: amount must be yuan/);
        }
        assert.equal((await records(order.id)).payments.length, 0);
      });
  });
}
