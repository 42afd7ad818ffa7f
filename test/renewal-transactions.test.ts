// The renewal's writes come in few transactions, and each one holds together: a single certificate
// is recorded in the same transaction that moves its order to issued (a refund that came first
// leaves no certificate at all), and the install's move to installed, the superseded revocation and
// the completion commit with the revocation, so the order's history and the certificate's status
// never disagree. On SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RaError } from '../src/ra/errors.js';
import { getCertificate, getCertificateByOrder } from '../src/sa/certificates.js';
import { orderEvents } from '../src/sa/orders.js';
import { BACKENDS } from './helpers/backends.js';
import { createHolder, paidBankOrder, serveTestCa, type ServedCa, type TestHolder } from './helpers/holder.js';
import { loggedInStaff } from './helpers/staff.js';

for (const backend of BACKENDS) {
  describe(`renewal transactions (${backend.name})`, { skip: backend.skip }, () => {
    let served: ServedCa;
    before(async () => {
      served = await serveTestCa({ postgres: backend.postgres });
    });
    after(async () => served?.close());

    const paidOrder = (holder: TestHolder) => paidBankOrder(served, holder);

    const types = async (orderId: string) => (await orderEvents(served.ca.rt.storage.db, orderId)).map((e) => e.type);

    test('an order refunded after the holder asked for its certificate gets none: nothing signed is recorded', async () => {
      const rt = served.ca.rt;
      const holder = await createHolder(served.ca, { name: '退款竞争', days: 30 });
      const { orderId, amountFen } = await paidOrder(holder);
      const req = await holder.renewalRequest(orderId);
      // the holder's request read the order as paid; the refund commits before the certificate does
      const asRead = await rt.renewals.order(orderId);
      assert.equal(asRead.state, 'paid');
      const staff = await loggedInStaff(rt, served.base, served.origin, ['operator']);
      const refund = await staff.call('POST', `/api/staff/orders/${orderId}/refund`, {
        kind: 'order',
        amount: (amountFen / 100).toFixed(2),
        refundReference: 'RF-RACE',
        reason: 'holder asked',
      });
      assert.equal(refund.status, 200, JSON.stringify(refund.body));
      await assert.rejects(
        rt.renewals.issue(asRead, req.csr, req.proof, 'test'),
        (e: unknown) => e instanceof RaError && e.code === 'invalid_state' && /refunded; nothing was issued/.test(e.message),
      );
      assert.equal(await getCertificateByOrder(rt.storage.db, orderId), undefined, 'no certificate recorded for the order');
      const issuedAudit = await rt.storage.db
        .selectFrom('audit_log')
        .select('target')
        .where('action', '=', 'certificate.issued')
        .where('details', 'like', `%${orderId}%`)
        .execute();
      assert.deepEqual(issuedAudit, [], 'no certificate.issued entry for the order');
      const after = await rt.renewals.order(orderId);
      assert.equal(after.state, 'refunded');
      assert.equal(after.issued_serial, null);
      assert.ok(!(await types(orderId)).includes('issued'));
    });

    test('two requests to issue one order at once get the one certificate; the order is issued once', async () => {
      const rt = served.ca.rt;
      const holder = await createHolder(served.ca, { name: '双击签发', days: 30 });
      const { orderId } = await paidOrder(holder);
      const asRead = await rt.renewals.order(orderId);
      const [a, b] = await Promise.all([
        holder.renewalRequest(orderId).then((r) => rt.renewals.issue(asRead, r.csr, r.proof, 'test')),
        holder.renewalRequest(orderId).then((r) => rt.renewals.issue(asRead, r.csr, r.proof, 'test')),
      ]);
      assert.equal(a.certificate.serial, b.certificate.serial);
      assert.equal((await rt.renewals.order(orderId)).issued_serial, a.certificate.serial);
      const history = await types(orderId);
      assert.equal(history.filter((t) => t === 'issued').length, 1);
      assert.equal(history.filter((t) => t === 'issuing').length, 1);
      const recorded = await rt.storage.db.selectFrom('certificates').select('serial').where('order_id', '=', orderId).execute();
      assert.equal(recorded.length, 1);
    });

    test('issue and install: the history reads in order, the old certificate is revoked with it, the order completes once', async () => {
      const rt = served.ca.rt;
      const holder = await createHolder(served.ca, { name: '顺序历史', days: 30 });
      const { client, orderId } = await paidOrder(holder);
      const req = await holder.renewalRequest(orderId);
      const body = { csr: req.csr.toString('base64'), proof: req.proof.toString('base64') };
      const issued = await client.call<{ order: { state: string } }>('POST', `/api/portal/orders/${orderId}/issue`, body);
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      assert.equal(issued.body.order.state, 'issued');
      const again = await client.call<{ order: { state: string } }>('POST', `/api/portal/orders/${orderId}/issue`, body);
      assert.equal(again.status, 200, JSON.stringify(again.body));
      const installed = await client.call<{ order: { state: string } }>('POST', `/api/portal/orders/${orderId}/installed`);
      assert.equal(installed.status, 200, JSON.stringify(installed.body));
      assert.equal(installed.body.order.state, 'completed');
      const twice = await client.call<{ order: { state: string } }>('POST', `/api/portal/orders/${orderId}/installed`);
      assert.equal(twice.status, 200, JSON.stringify(twice.body));
      const history = await types(orderId);
      assert.deepEqual(
        history.slice(history.indexOf('paid')),
        ['paid', 'issuing', 'issued', 'installed', 'old_revoked', 'completed'],
        'each step once, in order',
      );
      const old = await getCertificate(rt.storage.db, holder.serial);
      assert.equal(old?.status, 'revoked');
      const oldRevoked = (await orderEvents(rt.storage.db, orderId)).find((e) => e.type === 'old_revoked')!;
      assert.equal(JSON.parse(oldRevoked.detail ?? '{}').serial, old?.serial);
      const completions = await rt.storage.db
        .selectFrom('audit_log')
        .select('target')
        .where('action', '=', 'order.completed')
        .where('target', '=', orderId)
        .execute();
      assert.equal(completions.length, 1);
    });

    test('an old certificate revoked meanwhile (挂失 before the install) still lets the order complete, without old_revoked', async () => {
      const rt = served.ca.rt;
      const holder = await createHolder(served.ca, { name: '安装前挂失', days: 30 });
      const { client, orderId } = await paidOrder(holder);
      const req = await holder.renewalRequest(orderId);
      const issued = await client.call('POST', `/api/portal/orders/${orderId}/issue`, {
        csr: req.csr.toString('base64'),
        proof: req.proof.toString('base64'),
      });
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      await rt.ca.revoke(holder.serial, 'keyCompromise', 'test');
      const order = await rt.renewals.markInstalled(await rt.renewals.order(orderId), 'test');
      assert.equal(order.state, 'completed');
      const history = await types(orderId);
      assert.deepEqual(history.slice(history.indexOf('issued')), ['issued', 'installed', 'completed']);
      assert.equal((await getCertificate(rt.storage.db, holder.serial))?.revocation_reason, 1, 'its own reason stays');
    });
  });
}
