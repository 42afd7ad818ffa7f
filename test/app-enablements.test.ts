// 应用开通 and the relying-application API, on SQLite and PostgreSQL: the holder sees the applications
// open to the certificate, enables a free one at once and a paid one after payment (once, whoever
// looks first); the application's API (HTTP Basic with its credential) says enabled, for whom, until
// when — by serial and by the certificate itself — and nothing about holders who never enabled it,
// nor to a wrong secret; the enablement belongs to the holder, so it holds for the renewed
// certificate; ending it turns the answer to not enabled.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { IssueView, OrderView } from '../src/api/portal/shapes.js';
import type { RelyingAppView } from '../src/api/staff/shapes.js';
import { recordPayment } from '../src/ra/payment-ledger.js';
import type { AppCertificateView, AppHolderView, AppOfferView } from '../src/shared/app-views.js';
import { BACKENDS } from './helpers/backends.js';
import { createHolder, ORDER_FORM, PortalClient, serveTestCa, type ServedCa, type TestHolder } from './helpers/holder.js';
import { loggedInStaff } from './helpers/staff.js';

const YEAR = 365 * 86_400_000;
const { termYears: _t, ...CONTACT } = ORDER_FORM;
type Created = { app: RelyingAppView; credentialSecret: string };

for (const backend of BACKENDS) {
  describe(`应用开通 and /api/apps/v1 (${backend.name})`, { skip: backend.skip }, () => {
    let served: ServedCa;
    let holder: TestHolder;
    let client: PortalClient;
    let tax: Created;
    let housing: Created;
    let other: Created;

    before(async () => {
      served = await serveTestCa({ postgres: backend.postgres });
      holder = await createHolder(served.ca, { name: '开通测试单位', days: 60, uniqueId: '91310000APPS00001X' });
      client = new PortalClient(served.base, served.origin);
      assert.equal((await client.login(holder)).status, 200);
      const admin = await loggedInStaff(served.ca.rt, served.base, served.origin, ['admin']);
      const make = async (name: string, fee: number): Promise<Created> => {
        const r = await admin.call<Created>('POST', '/api/staff/relying-apps', {
          name,
          nameEn: name,
          description: `${name} 网上办事`,
          acceptedTypes: ['org-identity'],
          feePerYearFen: fee,
          webhookUrl: null,
        });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        return r.body;
      };
      tax = await make('电子税务局', 5000);
      housing = await make('公积金', 0);
      other = await make('招投标平台', 0);
    });
    after(async () => served?.close());

    const api = (who: Created, secret = who.credentialSecret) => ({
      get: async <T>(path: string) => {
        const r = await fetch(`${served.base}/api/apps/v1${path}`, {
          headers: { authorization: `Basic ${Buffer.from(`${who.app.credentialId}:${secret}`).toString('base64')}` },
        });
        return { status: r.status, body: (await r.json()) as T };
      },
      post: async <T>(path: string, body: unknown) => {
        const r = await fetch(`${served.base}/api/apps/v1${path}`, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from(`${who.app.credentialId}:${secret}`).toString('base64')}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify(body),
        });
        return { status: r.status, body: (await r.json()) as T };
      },
    });

    test('a free application is enabled at once; a paid one after payment, once', async () => {
      const offers = await client.call<{ apps: AppOfferView[] }>('GET', '/api/portal/apps');
      assert.equal(offers.status, 200, JSON.stringify(offers.body));
      assert.deepEqual(offers.body.apps.map((a) => a.name).sort(), ['公积金', '招投标平台', '电子税务局'].sort());
      assert.ok(offers.body.apps.every((a) => a.enabled === null));

      const bad = await client.call('POST', `/api/portal/apps/${housing.app.id}/enable`, {
        ...CONTACT,
        paymentMethod: 'bank',
        years: 9,
      });
      assert.equal(bad.status, 400);
      assert.equal((bad.body as { field?: string }).field, 'years');

      const free = await client.call<{ order: OrderView }>('POST', `/api/portal/apps/${housing.app.id}/enable`, {
        ...CONTACT,
        paymentMethod: 'bank',
        years: 1,
      });
      assert.equal(free.status, 201, JSON.stringify(free.body));
      assert.equal(free.body.order.kind, 'app');
      assert.equal(free.body.order.amountFen, 0);
      assert.equal(free.body.order.state, 'completed', 'nothing to pay: enabled at once');

      const paid = await client.call<{ order: OrderView }>('POST', `/api/portal/apps/${tax.app.id}/enable`, {
        ...CONTACT,
        paymentMethod: 'bank',
        years: 2,
      });
      assert.equal(paid.status, 201, JSON.stringify(paid.body));
      assert.equal(paid.body.order.amountFen, 10000, '2 years × ¥50');
      assert.equal(paid.body.order.state, 'awaiting_payment');
      assert.equal(
        (await api(tax).get(`/certificates/${holder.serial}`)).status,
        404,
        'not enabled yet: not this application’s holder',
      );

      const t0 = Date.now();
      assert.equal(
        await recordPayment(served.ca.rt.storage, {
          orderId: paid.body.order.id,
          channel: 'bank',
          tradeNo: `B${paid.body.order.id}`,
          amountFen: 10000,
          paidAt: Date.now(),
          raw: {},
          actor: 'test',
        }),
        'recorded',
      );
      const [a, b] = await Promise.all([
        client.call<{ order: OrderView }>('GET', `/api/portal/orders/${paid.body.order.id}`),
        served.ca.rt.apps.activateDue(),
      ]);
      assert.equal(a.body.order.state, 'completed');
      assert.ok(b <= 1);
      const rows = await served.ca.rt.storage.db
        .selectFrom('app_enablements')
        .selectAll()
        .where('app_id', '=', tax.app.id)
        .execute();
      assert.equal(rows.length, 1, 'enabled once');
      assert.ok(Math.abs(rows[0]!.ends_at - (t0 + 2 * YEAR)) < 60_000);

      const listed = await client.call<{ apps: AppOfferView[] }>('GET', '/api/portal/apps');
      assert.ok(listed.body.apps.find((x) => x.id === tax.app.id)?.enabled);
    });

    test('the application API: enabled, for whom, until when; scoped to its holders; refuses a wrong secret', async () => {
      const r = await api(tax).get<AppCertificateView>(`/certificates/${holder.serial}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.enabled, true);
      assert.equal(r.body.status, 'valid');
      assert.equal(r.body.holder.uniqueId, '91310000APPS00001X');
      assert.equal(r.body.certificateType, 'org-identity');
      assert.ok(r.body.enablement && new Date(r.body.enablement.endsAt).getTime() > Date.now() + YEAR);

      const byCert = await api(tax).post<AppCertificateView>('/certificates/check', {
        certificate: holder.certDer.toString('base64'),
      });
      assert.equal(byCert.status, 200, JSON.stringify(byCert.body));
      assert.equal(byCert.body.serial, r.body.serial);
      const forged = Buffer.from(holder.certDer);
      forged[forged.length - 5]! ^= 1;
      assert.equal((await api(tax).post('/certificates/check', { certificate: forged.toString('base64') })).status, 404);
      assert.equal((await api(tax).post('/certificates/check', { certificate: 'nope' })).status, 400);

      // another application the holder never enabled learns nothing
      const stranger = await api(other).get<{ error: string }>(`/certificates/${holder.serial}`);
      assert.equal(stranger.status, 404);
      assert.equal(
        (await api(other).get(`/certificates/${'ab'.repeat(16)}`)).status,
        404,
        'the same answer as an unknown serial',
      );
      assert.equal((await api(other).get('/holders/91310000APPS00001X')).status, 404);
      const wrong = await api(tax, 'not-the-secret').get(`/certificates/${holder.serial}`);
      assert.equal(wrong.status, 401);
      const none = await fetch(`${served.base}/api/apps/v1/certificates/${holder.serial}`);
      assert.equal(none.status, 401);
      assert.match(none.headers.get('www-authenticate') ?? '', /^Basic/);

      const h = await api(tax).get<AppHolderView>('/holders/91310000APPS00001X');
      assert.equal(h.status, 200, JSON.stringify(h.body));
      assert.equal(h.body.enabled, true);
      assert.deepEqual(
        h.body.certificates.map((c) => c.serial),
        [r.body.serial],
      );
    });

    test('the enablement belongs to the holder: it holds for the renewed certificate; ending it is seen at once', async () => {
      const created = await client.call<{ order: OrderView }>('POST', '/api/portal/orders', {
        ...ORDER_FORM,
        paymentMethod: 'bank',
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const order = created.body.order;
      await recordPayment(served.ca.rt.storage, {
        orderId: order.id,
        channel: 'bank',
        tradeNo: `B${order.id}`,
        amountFen: order.amountFen,
        paidAt: Date.now(),
        raw: {},
        actor: 'test',
      });
      const req = await holder.renewalRequest(order.id);
      const issued = await client.call<IssueView>('POST', `/api/portal/orders/${order.id}/issue`, {
        csr: req.csr.toString('base64'),
        proof: req.proof.toString('base64'),
      });
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      assert.equal((await client.call('POST', `/api/portal/orders/${order.id}/installed`)).status, 200);
      const fresh = await api(tax).get<AppCertificateView>(`/certificates/${issued.body.summary.serial}`);
      assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
      assert.equal(fresh.body.enabled, true, 'the renewed certificate is enabled too');
      const old = await api(tax).get<AppCertificateView>(`/certificates/${holder.serial}`);
      assert.equal(old.body.status, 'revoked');
      assert.equal(old.body.revocationReason, 'superseded');
      assert.equal(old.body.enabled, false);
      const h = await api(tax).get<AppHolderView>('/holders/91310000APPS00001X');
      assert.deepEqual(
        h.body.certificates.map((c) => c.serial),
        [fresh.body.serial],
        'the holder’s current certificates',
      );

      const ended = await client.call('POST', `/api/portal/apps/${tax.app.id}/end`);
      assert.equal(ended.status, 200, JSON.stringify(ended.body));
      const after = await api(tax).get<AppCertificateView>(`/certificates/${issued.body.summary.serial}`);
      assert.equal(after.body.enabled, false);
      assert.equal(after.body.enablement?.state, 'ended');
      assert.equal((await client.call('POST', `/api/portal/apps/${tax.app.id}/end`)).status, 404, 'nothing left to end');
    });
  });
}
