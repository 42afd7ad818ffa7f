// The background jobs `certdesk serve` starts, run through their runner (src/jobs/periodic.ts) as the
// server runs them: the runner itself (a tick at start, never two at once, errors to the job's
// logger, stop), the CRL refresher, the order housekeeping (expiry; the active query for a lost
// notification) and the audit checkpoints written to the log.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAuditCheckpoints } from '../src/jobs/audit-checkpoint.js';
import { startCrlRefresher } from '../src/jobs/crl-refresher.js';
import { startOrderJobs } from '../src/jobs/order-jobs.js';
import { runPeriodically } from '../src/jobs/periodic.js';
import { toPem } from '../src/pki/pem.js';
import { parseOrderForm } from '../src/ra/order-form.js';
import { parseCheckpoint, verifyAuditChain } from '../src/sa/audit.js';
import { latestCrl } from '../src/sa/crls.js';
import { claimNotification, tradesToNotify } from '../src/sa/sandbox-trades.js';
import { StaffAccounts } from '../src/staff/accounts.js';
import { openssl } from './helpers/ca.js';
import { createHolder, ORDER_FORM, serveTestCa, type ServedCa } from './helpers/holder.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value (generous deadline: the machine may be busy). */
async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const v = await check();
    if (v !== undefined) return v;
    await sleep(50);
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('the periodic runner', () => {
  test('ticks at start, never runs two ticks of a job at once, hands errors to the job and goes on; stop ends it', async () => {
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const errors: unknown[] = [];
    const stop = runPeriodically(
      10,
      async () => {
        calls++;
        if (calls === 1) await gate; // a slow first tick
        if (calls === 2) throw new Error('second tick fails');
      },
      (e) => errors.push(e),
      { atStart: true },
    );
    try {
      assert.equal(calls, 1, 'the first tick runs at once, not after the interval');
      await sleep(150); // many intervals pass while the first tick is still running
      assert.equal(calls, 1, 'no second tick while the first one runs');
      release();
      await eventually('more ticks after the slow one', () => (calls >= 4 ? true : undefined));
      assert.equal(errors.length, 1);
      assert.match(String((errors[0] as Error).message), /second tick fails/);
    } finally {
      stop();
    }
    const atStop = calls;
    await sleep(100);
    assert.ok(calls <= atStop + 1, 'no ticks after stop (one already running may finish)');
  });
});

describe('background jobs on a running CA', () => {
  const SHARDS = 3;
  let served: ServedCa;
  before(async () => {
    // no gateway notifications: only the order job's active query can find an online payment
    served = await serveTestCa({ env: { SANDBOX_NOTIFY: 'off', CRL_REFRESH_SECONDS: '60', CRL_SHARDS: String(SHARDS) } });
  });
  after(async () => served?.close());

  test('CRL refresher: every scope in use gets a CRL when it has none or an old one, signed by its CA', async () => {
    const { rt } = served.ca;
    const issuers = rt.ca.crlIssuers();
    const root = rt.ca.root.record.id;
    const issuing = rt.ca.issuing.record.id;
    const rootBefore = (await latestCrl(rt.storage.db, root))!.crl_number;
    const issuingBefore = (await latestCrl(rt.storage.db, issuing))!.crl_number;
    // age the stored CRLs past the 60 s refresh interval
    await rt.storage.db
      .updateTable('crls')
      .set((eb) => ({ this_update: eb('this_update', '-', 3600_000) }))
      .execute();
    let published = 0;
    const errors: unknown[] = [];
    const stop = startCrlRefresher(
      rt,
      () => published++,
      (msg, err) => errors.push(err ?? msg),
    );
    // the root's full CRL and the issuing CA's 3 shards (none published yet); the issuing CA's
    // full CRL names no certificate (all were issued with shards), so it is left as it is
    try {
      await eventually('a new CRL for every scope', () => (published >= 1 + SHARDS ? true : undefined));
    } finally {
      stop();
    }
    assert.deepEqual(errors, []);
    assert.equal(published, 1 + SHARDS);
    assert.equal((await latestCrl(rt.storage.db, root))!.crl_number, rootBefore + 1, 'one new full CRL for the root');
    assert.equal(
      (await latestCrl(rt.storage.db, issuing))!.crl_number,
      issuingBefore,
      "the issuing CA's full CRL is not refreshed",
    );
    const scopes = [
      { ca: issuers.find((c) => c.record.id === root)!, shard: null },
      ...Array.from({ length: SHARDS }, (_, shard) => ({ ca: issuers.find((c) => c.record.id === issuing)!, shard })),
    ];
    for (const { ca: c, shard } of scopes) {
      const crl = (await latestCrl(rt.storage.db, c.record.id, shard))!;
      assert.ok(Date.now() - crl.this_update < 600_000, 'the new CRL is current');
      const caFile = path.join(served.ca.dir, `crl-ca-${c.record.id}.pem`);
      writeFileSync(caFile, toPem('CERTIFICATE', c.record.cert_der));
      const v = openssl(['crl', '-inform', 'DER', '-noout', '-CAfile', caFile], crl.der);
      assert.equal(v.status, 0, v.out);
      assert.match(v.out, /verify OK/);
    }
  });

  test('order jobs: an overdue unpaid order expires, one not yet due stays open, a paid online order is found', async () => {
    const { ca, base } = served;
    const rt = ca.rt;
    const overdue = await rt.renewals.createOrder(
      (await createHolder(ca, { name: '过期订单' })).serial,
      parseOrderForm({ ...ORDER_FORM, paymentMethod: 'bank' }),
      'test',
    );
    const open = await rt.renewals.createOrder(
      (await createHolder(ca, { name: '未到期订单' })).serial,
      parseOrderForm({ ...ORDER_FORM, paymentMethod: 'postal' }),
      'test',
    );
    await rt.storage.db
      .updateTable('orders')
      .set({ expires_at: Date.now() - 1 })
      .where('id', '=', overdue.id)
      .execute();
    // an online order paid on the gateway's page, whose notification never comes
    const online = await rt.renewals.createOrder(
      (await createHolder(ca, { name: '通知丢失订单' })).serial,
      parseOrderForm({ ...ORDER_FORM, paymentMethod: 'online' }),
      'test',
    );
    const redirect = new URL(await rt.renewals.startOnlinePayment(online, `${base}/return`));
    const page = await (await fetch(`${base}${redirect.pathname}${redirect.search}`)).text();
    const tradeNo = /name="trade_no" value="([^"]+)"/.exec(page)![1]!;
    const paid = await fetch(`${base}/sandbox-pay/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ trade_no: tradeNo, bank: '中国银行' }).toString(),
    });
    assert.equal(paid.status, 200);
    assert.equal((await rt.renewals.order(online.id)).state, 'awaiting_payment', 'no notification: not paid yet');

    const errors: unknown[] = [];
    const stop = startOrderJobs(rt, (msg, err) => errors.push(err ?? msg), 50);
    try {
      await eventually('the overdue order expired', async () =>
        (await rt.renewals.order(overdue.id)).state === 'expired' ? true : undefined,
      );
      await eventually('the online payment found', async () =>
        (await rt.renewals.order(online.id)).state === 'paid' ? true : undefined,
      );
    } finally {
      stop();
    }
    assert.deepEqual(errors, []);
    assert.equal((await rt.renewals.order(open.id)).state, 'awaiting_payment', 'an order within its time stays open');
    const events = await rt.storage.db.selectFrom('order_events').selectAll().where('order_id', '=', overdue.id).execute();
    assert.ok(
      events.some((e) => e.type === 'expired' && e.actor === 'system:expiry'),
      JSON.stringify(events),
    );
    const payments = await rt.storage.db.selectFrom('payments').selectAll().where('order_id', '=', online.id).execute();
    assert.equal(payments.length, 1, 'paid once');
    assert.equal(payments[0]!.trade_no, tradeNo);
  });

  test('gateway notifications: of two instances that see the same attempt due, one takes it', async () => {
    const db = served.ca.rt.storage.db;
    // the online order paid above: notifications are off here, so its first attempt is still due
    const due = await tradesToNotify(db, Date.now());
    assert.ok(due.length > 0, 'a paid trade waits for its notification');
    const t = due[0]!;
    const won = await Promise.all([claimNotification(db, t, Date.now() + 30_000), claimNotification(db, t, Date.now() + 30_000)]);
    assert.deepEqual(won.filter(Boolean).length, 1, `one claim wins: ${JSON.stringify(won)}`);
    assert.ok(!(await tradesToNotify(db, Date.now())).some((x) => x.trade_no === t.trade_no), 'not due again during the lease');
  });

  test('audit checkpoints: the head is logged at start and again only when the log grew; it verifies the chain', async () => {
    const { rt } = served.ca;
    const logged: string[] = [];
    const errors: unknown[] = [];
    const stop = startAuditCheckpoints(
      rt,
      (msg, extra, err) => {
        if (err) errors.push(err);
        else if (msg === 'audit checkpoint') logged.push(String(extra?.checkpoint));
      },
      50,
    );
    try {
      const first = await eventually('the checkpoint at start', () => logged[0]);
      await sleep(300); // several ticks with nothing new
      assert.equal(logged.length, 1, 'an unchanged head is not logged again');
      await new StaffAccounts(rt).create(
        { username: 'checkpoint.trigger', roles: ['operator'], password: 'a-long-enough-password' },
        'test',
      );
      const second = await eventually('a checkpoint after the new entry', () => logged[1]);
      const [a, b] = [parseCheckpoint(first)!, parseCheckpoint(second)!];
      assert.ok(b.seq > a.seq, `${second} is after ${first}`);
      const chain = await verifyAuditChain(rt.storage.db, [a, b]);
      assert.equal(chain.ok, true, JSON.stringify(chain));
    } finally {
      stop();
    }
    assert.deepEqual(errors, []);
  });
});
