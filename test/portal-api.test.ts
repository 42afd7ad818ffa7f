// The holder portal API end to end without a browser: login with a signed challenge, a renewal order
// paid through the sandbox gateway (notification and active query) or offline (confirmed by the
// CLI), issuance exactly once, completion — with the refusals a real portal must make.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sandboxKeys } from '../src/payments/sandbox/keys.js';
import { signParams } from '../src/payments/sandbox/signing.js';
import { findExtension, parseCertificate } from '../src/pki/certificate.js';
import { LEGACY_UNIQUE_ID_OID } from '../src/pki/holder-identity.js';
import { attributeValue } from '../src/pki/name.js';
import { OID } from '../src/pki/oids.js';
import { toPem } from '../src/pki/pem.js';
import { SANDBOX_MERCHANT_ID } from '../src/runtime.js';
import { getCertificate } from '../src/sa/certificates.js';
import { openssl, type TestCa } from './helpers/ca.js';
import { BACKENDS } from './helpers/backends.js';
import { cliAsync } from './helpers/cli.js';
import { issueLegacyCertificate } from './helpers/legacy-certificate.js';
import { createHolder, ORDER_FORM, PortalClient, serveTestCa, type ServedCa, type TestHolder } from './helpers/holder.js';

type Order = {
  id: string;
  state: string;
  amountFen: number;
  reference: string;
  newNotAfter: string;
  certificateTypeName: string;
  certificateTypeNameEn: string;
  remittance: Record<string, string> | null;
  events: { type: string }[];
};

const FORM = ORDER_FORM;

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 150));
  }
}

for (const backend of BACKENDS) {
  describe(`portal API (${backend.name})`, { skip: backend.skip }, () => {
    let served: ServedCa;
    let ca: TestCa;
    let base: string;
    let origin: string;
    const client = (): PortalClient => new PortalClient(base, origin);

    before(async () => {
      served = await serveTestCa({ postgres: backend.postgres });
      ({ ca, base, origin } = served);
    });
    after(async () => served?.close());

    const payOnline = async (c: PortalClient, orderId: string): Promise<void> => {
      const pay = await c.call<{ redirectUrl: string }>('POST', `/api/portal/orders/${orderId}/pay`);
      assert.equal(pay.status, 200, JSON.stringify(pay.body));
      const pageUrl = new URL(pay.body.redirectUrl);
      const page = await (await fetch(`${base}${pageUrl.pathname}${pageUrl.search}`)).text();
      assert.match(page, /目前只支持个人银行卡/);
      const tradeNo = /name="trade_no" value="([^"]+)"/.exec(page)![1]!;
      const done = await fetch(`${base}/sandbox-pay/pay`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `trade_no=${tradeNo}&bank=${encodeURIComponent('招商银行')}`,
      });
      assert.match(await done.text(), /支付成功/);
    };

    const renewAndInstall = async (c: PortalClient, holder: TestHolder, orderId: string): Promise<Buffer> => {
      const req = await holder.renewalRequest(orderId);
      const issued = await c.call<{ certificate: string; order: Order }>('POST', `/api/portal/orders/${orderId}/issue`, {
        csr: req.csr.toString('base64'),
        proof: req.proof.toString('base64'),
      });
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      assert.equal(issued.body.order.state, 'issued');
      const installed = await c.call<{ order: Order }>('POST', `/api/portal/orders/${orderId}/installed`);
      assert.equal(installed.body.order.state, 'completed');
      return Buffer.from(issued.body.certificate, 'base64');
    };

    test('login with a signed challenge; session, CSRF and logout', async () => {
      const holder = await createHolder(ca, { name: '登录测试', uniqueId: '001120438184130111' });
      const c = client();
      const r = await c.login(holder);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual((r.body as { holder: unknown }).holder, { name: '登录测试', uniqueId: '001120438184130111', kind: 'org' });
      const cert = (
        r.body as { certificate: { commonName: string; profileName: string; profileNameEn: string; uniqueId: string } }
      ).certificate;
      assert.equal(cert.commonName, '登录测试');
      assert.equal(cert.profileName, '单位身份证书');
      assert.equal(cert.profileNameEn, 'Organisation identity certificate');
      assert.equal(cert.uniqueId, '001120438184130111');
      assert.match(c.cookie, /^certdesk_session=/);
      assert.equal((await c.call('GET', '/api/portal/session')).status, 200);
      // state-changing request without the CSRF header
      const noCsrf = new PortalClient(base, origin);
      noCsrf.cookie = c.cookie;
      const refused = await noCsrf.call('POST', '/api/portal/orders', FORM);
      assert.equal(refused.status, 403);
      assert.equal((refused.body as { error: string }).error, 'csrf');
      assert.equal((await c.call('POST', '/api/portal/logout')).status, 204);
      assert.equal((await c.call('GET', '/api/portal/session')).status, 401);
    });

    test('replayed, forged and foreign-origin challenges, unknown and revoked certificates are refused', async () => {
      const holder = await createHolder(ca, { name: '拒绝测试' });
      const c = client();
      const ch = (await c.call<{ challenge: string }>('POST', '/api/portal/login/challenge')).body.challenge;
      const body = {
        challenge: ch,
        signature: holder.signLogin(ch).toString('base64'),
        certificate: holder.certDer.toString('base64'),
      };
      assert.equal((await c.call('POST', '/api/portal/login', body)).status, 200);
      const replay = await client().call<{ error: string }>('POST', '/api/portal/login', body);
      assert.equal(replay.status, 401);
      assert.equal(replay.body.error, 'challenge_unknown');

      const forged = JSON.stringify({ ...JSON.parse(ch), nonce: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
      const f = await client().call<{ error: string }>('POST', '/api/portal/login', {
        ...body,
        challenge: forged,
        signature: holder.signLogin(forged).toString('base64'),
      });
      assert.equal(f.body.error, 'challenge_unknown');

      const other = await createHolder(ca, { name: '别人' });
      const ch2 = (await c.call<{ challenge: string }>('POST', '/api/portal/login/challenge')).body.challenge;
      const wrongKey = await client().call<{ error: string }>('POST', '/api/portal/login', {
        challenge: ch2,
        signature: other.signLogin(ch2).toString('base64'),
        certificate: holder.certDer.toString('base64'),
      });
      assert.equal(wrongKey.body.error, 'signature_invalid');
      // the refused attempt used its challenge up: the right signature on it no longer logs in
      const afterRefusal = await client().call<{ error: string }>('POST', '/api/portal/login', {
        challenge: ch2,
        signature: holder.signLogin(ch2).toString('base64'),
        certificate: holder.certDer.toString('base64'),
      });
      assert.deepEqual([afterRefusal.status, afterRefusal.body.error], [401, 'challenge_unknown']);

      const evil = new PortalClient(base, 'https://evil.example');
      const e = await evil.call<{ error: string }>('POST', '/api/portal/login/challenge');
      assert.equal(e.status, 403);
      assert.equal(e.body.error, 'origin_not_allowed');

      // a certificate from another CA (OpenSSL self-signed)
      const selfSigned = openssl([
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        path.join(ca.dir, 'x.key'),
        '-subj',
        '/CN=x',
        '-outform',
        'DER',
        '-out',
        path.join(ca.dir, 'x.der'),
      ]);
      assert.equal(selfSigned.status, 0);
      const ch3 = (await c.call<{ challenge: string }>('POST', '/api/portal/login/challenge')).body.challenge;
      const { readFileSync } = await import('node:fs');
      const foreign = await client().call<{ error: string }>('POST', '/api/portal/login', {
        challenge: ch3,
        signature: 'AAAA',
        certificate: readFileSync(path.join(ca.dir, 'x.der')).toString('base64'),
      });
      assert.equal(foreign.body.error, 'certificate_unknown');

      await ca.rt.ca.revoke(other.serial, 'keyCompromise', 'test');
      const rev = await client().login(other);
      assert.equal(rev.status, 401);
      assert.equal((rev.body as { error: string }).error, 'certificate_revoked');
    });

    test('renewal quote and order validation: every field error names its field; price from the catalogue', async () => {
      const holder = await createHolder(ca, { name: '校验测试' });
      const c = client();
      await c.login(holder);
      const q = await c.call<{
        eligible: boolean;
        terms: { years: number; priceFen: number }[];
        certificateType: { name: string };
      }>('GET', '/api/portal/renewal');
      assert.equal(q.body.eligible, true);
      assert.deepEqual(
        q.body.terms.map((t) => t.years),
        [1, 2, 3],
      );
      assert.equal(q.body.certificateType.name, '单位身份证书');
      const bad: [Record<string, unknown>, string][] = [
        [{ ...FORM, phone: '12345' }, 'phone'],
        [{ ...FORM, postcode: '2000' }, 'postcode'],
        [{ ...FORM, address: '' }, 'address'],
        [{ ...FORM, recipient: '' }, 'recipient'],
        [{ ...FORM, termYears: 5 }, 'termYears'],
        [{ ...FORM, paymentMethod: 'cash' }, 'paymentMethod'],
      ];
      for (const [form, field] of bad) {
        const r = await c.call<{ field: string; message: string }>('POST', '/api/portal/orders', form);
        assert.equal(r.status, 400, field);
        assert.equal(r.body.field, field, JSON.stringify(r.body));
      }
      const r = await c.call<{ order: Order }>('POST', '/api/portal/orders', { ...FORM, termYears: 2, amountFen: 1 });
      assert.equal(r.status, 201);
      assert.equal(r.body.order.amountFen, 55000, 'price from the catalogue, not the browser');
      // 证书种类 in both languages, kept with the order
      assert.deepEqual(
        [r.body.order.certificateTypeName, r.body.order.certificateTypeNameEn],
        ['单位身份证书', 'Organisation identity certificate'],
      );
      const dup = await c.call<{ error: string; orderId: string }>('POST', '/api/portal/orders', FORM);
      assert.equal(dup.status, 409);
      assert.equal(dup.body.orderId, r.body.order.id);
    });

    test('online renewal: sandbox payment page, signed notification, issuance once, old certificate superseded', async () => {
      const holder = await createHolder(ca, { name: '在线续费', days: 40 });
      const c = client();
      await c.login(holder);
      const created = await c.call<{ order: Order }>('POST', '/api/portal/orders', FORM);
      const id = created.body.order.id;
      // issuing before payment is refused
      const early = await holder.renewalRequest(id);
      const notPaid = await c.call<{ error: string }>('POST', `/api/portal/orders/${id}/issue`, {
        csr: early.csr.toString('base64'),
        proof: early.proof.toString('base64'),
      });
      assert.equal(notPaid.body.error, 'order_not_paid');

      await payOnline(c, id);
      const paid = await until(
        () => ca.rt.renewals.order(id),
        (o) => o.state === 'paid',
      );
      assert.equal(paid.state, 'paid', 'the notification paid the order');

      // a proof by another key is refused
      const req = await holder.renewalRequest(id);
      const stranger = await createHolder(ca, { name: '陌生人' });
      const badProof = await stranger.renewalRequest(id);
      const refused = await c.call<{ error: string }>('POST', `/api/portal/orders/${id}/issue`, {
        csr: req.csr.toString('base64'),
        proof: badProof.proof.toString('base64'),
      });
      assert.equal(refused.body.error, 'proof_invalid');

      const newCert = await renewAndInstall(c, holder, id);
      const again = await holder.renewalRequest(id);
      const second = await c.call<{ certificate: string }>('POST', `/api/portal/orders/${id}/issue`, {
        csr: again.csr.toString('base64'),
        proof: again.proof.toString('base64'),
      });
      assert.equal(second.body.certificate, newCert.toString('base64'), 'asking again returns the same certificate');

      const oldNotAfter = parseCertificate(holder.certDer).notAfter;
      const expected = new Date(oldNotAfter);
      expected.setUTCFullYear(expected.getUTCFullYear() + 1);
      assert.equal(parseCertificate(newCert).notAfter.getTime(), expected.getTime(), 'unexpired: old notAfter + 1 year');
      assert.deepEqual(parseCertificate(newCert).subject, parseCertificate(holder.certDer).subject);
      const files = ca.files();
      const f = path.join(ca.dir, 'renewed.pem');
      writeFileSync(f, toPem('CERTIFICATE', newCert));
      assert.equal(openssl(['verify', '-x509_strict', '-CAfile', files.root, '-untrusted', files.chain, f]).status, 0);
      const old = await getCertificate(ca.rt.storage.db, holder.serial);
      assert.equal(old?.status, 'revoked');
      assert.equal(old?.revocation_reason, 4, 'superseded');
      const rows = await ca.rt.storage.db.selectFrom('certificates').select('serial').where('order_id', '=', id).execute();
      assert.equal(rows.length, 1);
    });

    test('a certificate revoked after its renewal was paid gets nothing issued; the order stays paid for a refund', async () => {
      const holder = await createHolder(ca, { name: '付款后挂失', days: 40 });
      const c = client();
      await c.login(holder);
      const created = await c.call<{ order: Order }>('POST', '/api/portal/orders', FORM);
      const id = created.body.order.id;
      await payOnline(c, id);
      await until(
        () => ca.rt.renewals.order(id),
        (o) => o.state === 'paid',
      );
      // revoked while the holder's session is still open (a 挂失 at a service point, say)
      await ca.rt.ca.revoke(holder.serial, 'keyCompromise', 'test');
      const req = await holder.renewalRequest(id);
      const refused = await c.call<{ error: string; message: string }>('POST', `/api/portal/orders/${id}/issue`, {
        csr: req.csr.toString('base64'),
        proof: req.proof.toString('base64'),
      });
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.equal(refused.body.error, 'certificate_revoked');
      assert.match(refused.body.message, /refund/);
      assert.equal((await ca.rt.renewals.order(id)).state, 'paid', 'the paid order is kept, not consumed');
      const rows = await ca.rt.storage.db.selectFrom('certificates').select('serial').where('order_id', '=', id).execute();
      assert.equal(rows.length, 0, 'no certificate issued on a revoked key');
    });
    test('a holder whose certificate has the 唯一识别号 in the old 2.25 extension logs in and renews; the new one has it in serialNumber', async () => {
      const uniqueId = '001120438184130222';
      const holder = await createHolder(ca, {
        name: '旧证书单位',
        issue: (csr) => issueLegacyCertificate(ca, csr, { uniqueId, days: 40 }),
      });
      const oldCert = parseCertificate(holder.certDer);
      assert.ok(findExtension(oldCert, LEGACY_UNIQUE_ID_OID), 'an old-style certificate');
      assert.equal(attributeValue(oldCert.subject, 'serialNumber'), undefined);
      const c = client();
      const login = await c.login(holder);
      assert.equal(login.status, 200, JSON.stringify(login.body));
      assert.equal((login.body as { certificate: { uniqueId: string } }).certificate.uniqueId, uniqueId);
      const created = await c.call<{ order: Order }>('POST', '/api/portal/orders', FORM);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await payOnline(c, created.body.order.id);
      await until(
        () => ca.rt.renewals.order(created.body.order.id),
        (o) => o.state === 'paid',
      );
      const renewed = parseCertificate(await renewAndInstall(c, holder, created.body.order.id));
      assert.equal(attributeValue(renewed.subject, 'serialNumber'), uniqueId, 'the 唯一识别号 moved to serialNumber');
      assert.equal(findExtension(renewed, LEGACY_UNIQUE_ID_OID), undefined, 'and the old extension is not written again');
      assert.equal(findExtension(renewed, OID.certificatePolicies), undefined, 'no policies unless configured');
      const row = await getCertificate(ca.rt.storage.db, renewed.serialHex);
      const holderRow = await ca.rt.storage.db.selectFrom('holders').selectAll().where('unique_id', '=', uniqueId).execute();
      assert.equal(holderRow.length, 1, 'the same holder record');
      assert.equal(row?.holder_id, holderRow[0]!.id);
    });

    test('50 concurrent duplicate notifications: one payment record, one issuance', async () => {
      const holder = await createHolder(ca, { name: '并发通知' });
      const c = client();
      await c.login(holder);
      const order = (await c.call<{ order: Order }>('POST', '/api/portal/orders', FORM)).body.order;
      const keys = sandboxKeys(ca.dir);
      const form: Record<string, string> = {
        notify_id: 'n1',
        merchant_id: SANDBOX_MERCHANT_ID,
        out_trade_no: order.id,
        trade_status: 'TRADE_SUCCESS',
        trade_no: 'SBXCONCURRENT1',
        total_amount_fen: String(order.amountFen),
        gmt_payment: String(Date.now()),
      };
      form.sign = signParams(form, keys.platformPrivate);
      const answers = await Promise.all(
        Array.from({ length: 50 }, () =>
          fetch(`${base}/api/payments/notify/sandbox`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams(form).toString(),
          }).then((r) => r.text()),
        ),
      );
      assert.deepEqual(new Set(answers), new Set(['success']));
      const payments = await ca.rt.storage.db.selectFrom('payments').selectAll().where('order_id', '=', order.id).execute();
      assert.equal(payments.length, 1);
      const reqs = await Promise.all(Array.from({ length: 10 }, () => holder.renewalRequest(order.id)));
      const issued = await Promise.all(
        reqs.map((r) =>
          c.call<{ certificate: string }>('POST', `/api/portal/orders/${order.id}/issue`, {
            csr: r.csr.toString('base64'),
            proof: r.proof.toString('base64'),
          }),
        ),
      );
      assert.equal(new Set(issued.map((i) => i.body.certificate)).size, 1, 'one certificate');
      const certs = await ca.rt.storage.db.selectFrom('certificates').select('serial').where('order_id', '=', order.id).execute();
      assert.equal(certs.length, 1);

      // forged notification: refused, nothing recorded
      const forged = { ...form, trade_no: 'SBXFORGED', sign: form.sign };
      const r = await fetch(`${base}/api/payments/notify/sandbox`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(forged).toString(),
      });
      assert.equal(r.status, 400);
      assert.equal(await r.text(), 'fail');
    });

    test('offline bank transfer: remittance instructions, CLI confirmation (amount checked), then update', async () => {
      const holder = await createHolder(ca, { name: '银行转帐' });
      const c = client();
      await c.login(holder);
      const order = (await c.call<{ order: Order }>('POST', '/api/portal/orders', { ...FORM, paymentMethod: 'bank' })).body.order;
      assert.equal(order.state, 'awaiting_payment');
      assert.match(order.reference, /^CD[A-Z2-9]{8}$/);
      assert.equal(order.remittance?.reference, order.reference);
      assert.ok(order.remittance?.account);
      const pay = await c.call<{ error: string }>('POST', `/api/portal/orders/${order.id}/pay`);
      assert.equal(pay.status, 409);

      const wrong = await cliAsync(
        ['orders', 'confirm-payment', order.reference, '--reference', 'ICBC-778899', '--amount', '3.00'],
        ca.env,
      );
      assert.notEqual(wrong.status, 0);
      assert.match(wrong.stderr, /does not match the order's ¥300\.00/);
      assert.equal((await ca.rt.renewals.order(order.id)).state, 'awaiting_payment');
      const ok = await cliAsync(
        ['orders', 'confirm-payment', order.id, '--reference', 'ICBC-778899', '--amount', '300.00'],
        ca.env,
      );
      assert.equal(ok.status, 0, ok.stderr);
      assert.match(ok.stdout, /is paid/);
      const again = await cliAsync(['orders', 'confirm-payment', order.id, '--reference', 'ICBC-778899'], ca.env);
      assert.match(again.stdout, /already recorded; nothing changed/);
      const seen = await c.call<{ order: Order }>('GET', `/api/portal/orders/${order.id}`);
      assert.equal(seen.body.order.state, 'paid');
      await renewAndInstall(c, holder, order.id);
      const history = await c.call<{ orders: Order[] }>('GET', '/api/portal/orders');
      assert.equal(history.body.orders.find((o) => o.id === order.id)?.state, 'completed');
    });

    test('a certificate outside the renewal window is told why, with the dates', async () => {
      const holder = await createHolder(ca, { name: '太早', days: 300 });
      const c = client();
      await c.login(holder);
      const q = await c.call<{ eligible: boolean; reason: string; window: { opensAt: string } }>('GET', '/api/portal/renewal');
      assert.equal(q.body.eligible, false);
      assert.equal(q.body.reason, 'too_early');
      assert.ok(new Date(q.body.window.opensAt) > new Date());
      const r = await c.call<{ error: string }>('POST', '/api/portal/orders', FORM);
      assert.equal(r.body.error, 'not_eligible');
    });

    test('certificate query: current and history, PEM/DER downloads of own certificates only', async () => {
      const holder = await createHolder(ca, { name: '查询测试' });
      const c = client();
      await c.login(holder);
      const list = await c.call<{ current: { serial: string } }>('GET', '/api/portal/certificates');
      assert.equal(list.body.current.serial, holder.serial);
      const pem = await c.call<string>('GET', `/api/portal/certificates/${holder.serial}.pem`);
      assert.match(pem.body, /BEGIN CERTIFICATE/);
      const other = await createHolder(ca, { name: '他人证书' });
      assert.equal((await c.call('GET', `/api/portal/certificates/${other.serial}.der`)).status, 404);
    });
  });
}
