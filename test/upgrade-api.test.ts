// 升级证书 on the server, on SQLite and PostgreSQL: an ECDSA 单位身份证书 holder sees the open upgrade to
// 单位身份证书（SM2 双证书）, orders it, pays; issuing with an SM2 CSR and the proof signed by the OLD
// (ECDSA) key gives an SM2 signing certificate of the target profile with its encryption partner and
// the KMC's envelope, the old certificate's remaining time carried over, once per order; installing
// revokes the old certificate (superseded). A path staff closed is refused, with nothing opened; an
// open upgrade blocks a renewal of the same certificate (and the reverse).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { IssueView, OrderView, UpgradeOptionView } from '../src/api/portal/shapes.js';
import { keyTypeOfSpki } from '../src/pki/algorithms.js';
import { parseCertificate } from '../src/pki/certificate.js';
import { recordPayment } from '../src/ra/payment-ledger.js';
import { getCertificate, getEncryptionPartner } from '../src/sa/certificates.js';
import { BACKENDS } from './helpers/backends.js';
import { createHolder, ORDER_FORM, PortalClient, serveTestCa, type ServedCa, type TestHolder } from './helpers/holder.js';
import { loggedInStaff } from './helpers/staff.js';

const DAY = 86_400_000;
const { termYears: _t, ...CONTACT } = ORDER_FORM;

for (const backend of BACKENDS) {
  describe(`升级证书: ECDSA → SM2 dual pair (${backend.name})`, { skip: backend.skip }, () => {
    let served: ServedCa;
    let holder: TestHolder;
    let client: PortalClient;

    before(async () => {
      served = await serveTestCa({ keyType: 'both', postgres: backend.postgres });
      holder = await createHolder(served.ca, { name: '升级测试单位', days: 100 });
      client = new PortalClient(served.base, served.origin);
      assert.equal((await client.login(holder)).status, 200);
    });
    after(async () => served?.close());

    const pay = async (order: OrderView) =>
      recordPayment(served.ca.rt.storage, {
        orderId: order.id,
        channel: 'bank',
        tradeNo: `B${order.id}`,
        amountFen: order.amountFen,
        paidAt: Date.now(),
        raw: {},
        actor: 'test',
      });

    test('the upgrade is offered, ordered, paid, issued once as an SM2 pair with the remaining time, installed', async () => {
      const q = await client.call<{ options: UpgradeOptionView[]; refusal: string | null }>('GET', '/api/portal/upgrades');
      assert.equal(q.status, 200, JSON.stringify(q.body));
      assert.equal(q.body.refusal, null);
      const sm2 = q.body.options.find((o) => o.toType === 'org-identity-sm2');
      assert.ok(sm2, JSON.stringify(q.body.options));
      assert.equal(sm2.keyType, 'sm2');
      assert.equal(sm2.dual, true);
      assert.equal(sm2.priceFen, 20000);
      assert.ok(sm2.carryOver);

      const bad = await client.call('POST', '/api/portal/upgrades/orders', {
        ...CONTACT,
        paymentMethod: 'bank',
        toType: 'person-identity',
      });
      assert.equal(bad.status, 409, JSON.stringify(bad.body));
      assert.equal((bad.body as { error?: string }).error, 'not_eligible');
      assert.equal((bad.body as { field?: string }).field, 'toType');
      const noType = await client.call('POST', '/api/portal/upgrades/orders', { ...CONTACT, paymentMethod: 'bank' });
      assert.equal(noType.status, 400);

      const created = await client.call<{ order: OrderView }>('POST', '/api/portal/upgrades/orders', {
        ...CONTACT,
        paymentMethod: 'bank',
        toType: 'org-identity-sm2',
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const order = created.body.order;
      assert.equal(order.kind, 'upgrade');
      assert.equal(order.amountFen, 20000);
      assert.equal(order.newKeyType, 'sm2', 'the page is told to make an SM2 key');
      assert.match(order.certificateTypeName, /SM2/);

      // an open upgrade blocks a renewal of the same certificate
      const renewal = await client.call('POST', '/api/portal/orders', { ...ORDER_FORM, paymentMethod: 'bank' });
      assert.equal(renewal.status, 409, JSON.stringify(renewal.body));
      assert.match(JSON.stringify(renewal.body), new RegExp(order.id));

      // nothing is issued before payment
      const early = await holder.renewalRequest(order.id, 'sm2');
      const unpaid = await client.call('POST', `/api/portal/orders/${order.id}/issue`, {
        csr: early.csr.toString('base64'),
        proof: early.proof.toString('base64'),
      });
      assert.equal(unpaid.status, 409, JSON.stringify(unpaid.body));

      assert.equal(await pay(order), 'recorded');
      const req = await holder.renewalRequest(order.id, 'sm2');
      const body = { csr: req.csr.toString('base64'), proof: req.proof.toString('base64') };
      const t0 = Date.now();
      const issued = await client.call<IssueView>('POST', `/api/portal/orders/${order.id}/issue`, body);
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      const cert = parseCertificate(Buffer.from(issued.body.certificate, 'base64'));
      assert.equal(keyTypeOfSpki(cert.spki).keyType, 'sm2');
      const db = served.ca.rt.storage.db;
      const rec = (await getCertificate(db, issued.body.summary.serial))!;
      assert.equal(rec.profile, 'org-identity-sm2');
      assert.ok(issued.body.encryption, 'the encryption half comes with it');
      assert.ok(issued.body.encryption.envelope, 'with the KMC envelope for the new signing key');
      const partner = (await getEncryptionPartner(db, rec.serial))!;
      assert.equal(partner.profile, 'org-identity-sm2-enc');
      // one year from now plus what was left of the old certificate (about 100 days)
      const old = parseCertificate(holder.certDer);
      const expected = t0 + 365 * DAY + (old.notAfter.getTime() - t0);
      assert.ok(
        Math.abs(cert.notAfter.getTime() - expected) < 2 * DAY,
        `${cert.notAfter.toISOString()} ≈ ${new Date(expected).toISOString()}`,
      );
      assert.deepEqual(
        cert.subject.map((a) => `${a.type}=${a.value}`).filter((x) => !x.startsWith('serialNumber')),
        old.subject.map((a) => `${a.type}=${a.value}`).filter((x) => !x.startsWith('serialNumber')),
        'the subject is the old one',
      );

      const again = await client.call<IssueView>('POST', `/api/portal/orders/${order.id}/issue`, body);
      assert.equal(again.body.certificate, issued.body.certificate, 'issued once per order');

      const installed = await client.call<{ order: OrderView }>('POST', `/api/portal/orders/${order.id}/installed`);
      assert.equal(installed.status, 200, JSON.stringify(installed.body));
      assert.equal(installed.body.order.state, 'completed');
      const oldRec = (await getCertificate(db, holder.serial))!;
      assert.equal(oldRec.status, 'revoked');
      assert.equal(oldRec.revocation_reason, 4, 'superseded');
    });

    test('a path staff closed is not offered and cannot be ordered', async () => {
      const other = await createHolder(served.ca, { name: '关闭路径单位', days: 60 }); // inside the renewal window
      const c = new PortalClient(served.base, served.origin);
      assert.equal((await c.login(other)).status, 200);
      const admin = await loggedInStaff(served.ca.rt, served.base, served.origin, ['admin']);
      const closed = await admin.call('PUT', '/api/staff/catalogue/upgrade-paths/org-identity/org-identity-sm2', {
        priceFen: 20000,
        termYears: 1,
        active: false,
      });
      assert.equal(closed.status, 200, JSON.stringify(closed.body));
      const sameKey = await admin.call('PUT', '/api/staff/catalogue/upgrade-paths/org-identity/org-identity-sm2', {
        priceFen: 20000,
        termYears: 1,
        newKey: false,
      });
      assert.equal(sameKey.status, 400, 'a change of algorithm always needs a new key');
      const q = await c.call<{ options: UpgradeOptionView[] }>('GET', '/api/portal/upgrades');
      assert.deepEqual(q.body.options, []);
      const r = await c.call('POST', '/api/portal/upgrades/orders', {
        ...CONTACT,
        paymentMethod: 'bank',
        toType: 'org-identity-sm2',
      });
      assert.equal(r.status, 409, JSON.stringify(r.body));
      assert.equal((r.body as { error?: string }).error, 'not_eligible');
      const orders = await c.call<{ orders: OrderView[] }>('GET', '/api/portal/orders');
      assert.deepEqual(orders.body.orders, [], 'nothing was opened');

      // reopened: an open renewal now blocks the upgrade
      await admin.call('PUT', '/api/staff/catalogue/upgrade-paths/org-identity/org-identity-sm2', {
        priceFen: 20000,
        termYears: 1,
      });
      const renewal = await c.call<{ order: OrderView }>('POST', '/api/portal/orders', { ...ORDER_FORM, paymentMethod: 'bank' });
      assert.equal(renewal.status, 201, JSON.stringify(renewal.body));
      const blocked = await c.call('POST', '/api/portal/upgrades/orders', {
        ...CONTACT,
        paymentMethod: 'bank',
        toType: 'org-identity-sm2',
      });
      assert.equal(blocked.status, 409);
      assert.match(JSON.stringify(blocked.body), new RegExp(renewal.body.order.id));
    });
  });
}
