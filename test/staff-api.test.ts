// The staff console API end to end without a browser, on SQLite and PostgreSQL: login with password
// + TOTP (enrolment, reuse, lockout, CSRF, separate cookies), roles checked on the server, offline
// payments confirmed and imported from a bank statement (the holder then updates through the
// portal API), refunds, invoices (mailing, PDF), catalogue changes for new orders only,
// certificates (OCSP/CRL status, revocation), the audit log (browse, CSV, verify).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../src/api/server.js';
import { verifyAuditChain } from '../src/sa/audit.js';
import { createTestCa, type TestCa } from './helpers/ca.js';
import { BACKENDS } from './helpers/backends.js';
import { requireTool } from './helpers/requirements.js';
import { createHolder, freePort, PortalClient, type TestHolder } from './helpers/holder.js';
import { createStaff, loggedInStaff, StaffClient, type TestStaff } from './helpers/staff.js';

type Order = {
  id: string;
  state: string;
  amountFen: number;
  reference: string;
  events: { type: string; detail: Record<string, unknown> }[];
  invoice?: Record<string, unknown> | null;
};
const FORM = {
  termYears: 1,
  recipient: 'CA客服部',
  phone: '021-962600',
  address: '上海市虹口区四川北路1601室',
  postcode: '200080',
};

for (const backend of BACKENDS) {
  describe(`staff console API (${backend.name})`, { skip: backend.skip }, () => {
    let ca: TestCa;
    let app: FastifyInstance;
    let base: string;
    let origin: string;
    let operator: TestStaff;
    let auditor: TestStaff;
    let admin: TestStaff;
    let op: StaffClient;

    before(async () => {
      const port = await freePort();
      ca = await createTestCa({ postgres: backend.postgres, port });
      ({ app } = await buildServer(ca.rt, { logger: false }));
      await app.listen({ port, host: '127.0.0.1' });
      base = `http://127.0.0.1:${port}`;
      origin = new URL(ca.config.publicUrl).origin;
      operator = await createStaff(ca.rt, ['operator']);
      auditor = await createStaff(ca.rt, ['auditor']);
      admin = await createStaff(ca.rt, ['admin']);
      op = new StaffClient(base, origin);
      assert.equal((await op.login(operator)).status, 200);
    });
    after(async () => {
      await app?.close();
      await ca?.cleanup();
    });

    /** A holder with an offline order awaiting payment. */
    const holderWithOrder = async (
      name: string,
      paymentMethod: 'bank' | 'postal' | 'online' = 'bank',
    ): Promise<{ holder: TestHolder; portal: PortalClient; order: Order }> => {
      const holder = await createHolder(ca, { name, uniqueId: `UID${Math.floor(Math.random() * 1e12)}` });
      const portal = new PortalClient(base, origin);
      assert.equal((await portal.login(holder)).status, 200);
      const r = await portal.call<{ order: Order }>('POST', '/api/portal/orders', { ...FORM, paymentMethod });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return { holder, portal, order: r.body.order };
    };

    test('login: password then TOTP (enrolment with a QR code), code reuse refused, CSRF, lockout', async () => {
      const fresh = await createStaff(ca.rt, ['operator']);
      const c = new StaffClient(base, origin);
      const r1 = await c.call<{ next: string; csrfToken: string; enrol: { qr: string; otpauthUri: string } }>(
        'POST',
        '/api/staff/login',
        { username: fresh.username, password: fresh.password },
      );
      assert.equal(r1.status, 200);
      assert.equal(r1.body.next, 'enrol');
      assert.match(r1.body.enrol.qr, /^data:image\/png;base64,/);
      assert.match(r1.body.enrol.otpauthUri, new RegExp(`^otpauth://totp/certdesk%3A${fresh.username}\\?secret=${fresh.secret}`));
      assert.match(c.cookie, /^certdesk_staff=/);
      // the pending (password-only) session does not open the console
      assert.equal((await c.call('GET', '/api/staff/session')).status, 401);
      // the TOTP step needs the CSRF token
      assert.equal((await c.call('POST', '/api/staff/login/totp', { code: '000000' })).status, 403);
      c.csrf = r1.body.csrfToken;
      const wrong = await c.call<{ error: string }>('POST', '/api/staff/login/totp', { code: '000000' });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.error, 'wrong_code');
      const code = fresh.nextCode();
      const ok = await c.call<{ staff: { totpEnrolled: boolean; roles: string[] }; csrfToken: string }>(
        'POST',
        '/api/staff/login/totp',
        { code },
      );
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.deepEqual(ok.body.staff.roles, ['operator']);
      c.csrf = ok.body.csrfToken;
      assert.equal((await c.call('GET', '/api/staff/session')).status, 200);

      // the same code again (a second login within the window) is refused
      const c2 = new StaffClient(base, origin);
      const p = await c2.call<{ next: string; csrfToken: string }>('POST', '/api/staff/login', {
        username: fresh.username,
        password: fresh.password,
      });
      assert.equal(p.body.next, 'totp');
      c2.csrf = p.body.csrfToken;
      assert.equal((await c2.call('POST', '/api/staff/login/totp', { code })).status, 401);

      // state-changing staff request without CSRF
      const noCsrf = new StaffClient(base, origin);
      noCsrf.cookie = c.cookie;
      assert.equal((await noCsrf.call('POST', '/api/staff/orders/R-none/cancel', {})).status, 403);
      // a foreign origin is refused
      const evil = new StaffClient(base, 'https://evil.example');
      assert.equal(
        (await evil.call('POST', '/api/staff/login', { username: fresh.username, password: fresh.password })).status,
        403,
      );

      // lockout after 5 failures in a row, even with the right password afterwards
      const victim = await createStaff(ca.rt, ['auditor']);
      const v = new StaffClient(base, origin);
      for (let i = 0; i < 5; i++)
        assert.equal(
          (await v.call('POST', '/api/staff/login', { username: victim.username, password: 'wrong-password-123' })).status,
          401,
        );
      const locked = await v.call<{ error: string }>('POST', '/api/staff/login', {
        username: victim.username,
        password: victim.password,
      });
      assert.equal(locked.status, 423);
      assert.equal(locked.body.error, 'locked');
      // an admin unlocks it
      const ad = new StaffClient(base, origin);
      assert.equal((await ad.login(admin)).status, 200);
      const list = await ad.call<{ items: { id: number; username: string; locked: boolean }[] }>('GET', '/api/staff/accounts');
      const acc = list.body.items.find((a) => a.username === victim.username)!;
      assert.equal(acc.locked, true);
      assert.equal((await ad.call('POST', `/api/staff/accounts/${acc.id}/unlock`)).status, 204);
      assert.equal((await v.login(victim)).status, 200);

      // logout ends the session
      assert.equal((await c.call('POST', '/api/staff/logout')).status, 204);
      assert.equal((await c.call('GET', '/api/staff/session')).status, 401);
    });

    test('staff and holder sessions are separate: neither cookie opens the other side', async () => {
      const { portal } = await holderWithOrder('分离测试');
      const asHolder = new StaffClient(base, origin);
      asHolder.cookie = portal.cookie;
      assert.equal((await asHolder.call('GET', '/api/staff/session')).status, 401);
      const asStaff = new PortalClient(base, origin);
      asStaff.cookie = op.cookie;
      assert.equal((await asStaff.call('GET', '/api/portal/session')).status, 401);
    });

    test('an auditor cannot confirm payments, mark invoices or edit the catalogue; an operator cannot manage accounts', async () => {
      const { order } = await holderWithOrder('权限测试');
      const a = new StaffClient(base, origin);
      assert.equal((await a.login(auditor)).status, 200);
      const r = await a.call<{ error: string }>('POST', `/api/staff/orders/${order.id}/confirm-payment`, {
        reference: 'BANK-1',
        amount: '300.00',
      });
      assert.equal(r.status, 403);
      assert.equal(r.body.error, 'forbidden');
      assert.equal((await a.call('POST', '/api/staff/statements', { content: 'date,amount,reference\n' })).status, 403);
      assert.equal((await a.call('PUT', '/api/staff/settings/payment-methods', { paymentMethods: ['online'] })).status, 403);
      assert.equal((await a.call('GET', '/api/staff/audit')).status, 200);
      assert.equal((await a.call('GET', `/api/staff/orders/${order.id}`)).status, 200);
      assert.equal((await op.call('GET', '/api/staff/accounts')).status, 403);
      assert.equal((await op.call('GET', '/api/staff/audit')).status, 403);
      const holder = await new PortalClient(base, origin).call<{ order: Order }>('GET', `/api/portal/orders/${order.id}`);
      assert.equal(holder.status, 401);
    });

    test('confirm a bank transfer: a wrong amount is refused with the reason; then the holder sees it paid and updates', async () => {
      const { holder, portal, order } = await holderWithOrder('转帐测试');
      const queue = await op.call<{ items: { id: string; reference: string; amountFen: number }[]; total: number }>(
        'GET',
        '/api/staff/queue/offline-payments?pageSize=100',
      );
      assert.ok(queue.body.items.some((o) => o.id === order.id && o.reference === order.reference && o.amountFen === 30000));

      const wrong = await op.call<{ error: string; message: string; field: string }>(
        'POST',
        `/api/staff/orders/${order.reference}/confirm-payment`,
        { reference: 'ICBC-20261125-001', amount: '299.00' },
      );
      assert.equal(wrong.status, 422);
      assert.equal(wrong.body.error, 'amount_mismatch');
      assert.match(wrong.body.message, /299\.00.*300\.00/);
      assert.equal(
        (await portal.call<{ order: Order }>('GET', `/api/portal/orders/${order.id}`)).body.order.state,
        'awaiting_payment',
      );

      const ok = await op.call<{ outcome: string; order: { state: string } }>(
        'POST',
        `/api/staff/orders/${order.id}/confirm-payment`,
        { reference: 'ICBC-20261125-001', amount: '300.00' },
      );
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.outcome, 'recorded');
      assert.equal(ok.body.order.state, 'paid');
      // the holder sees it at once and updates
      assert.equal((await portal.call<{ order: Order }>('GET', `/api/portal/orders/${order.id}`)).body.order.state, 'paid');
      const req = await holder.renewalRequest(order.id);
      const issued = await portal.call<{ order: Order }>('POST', `/api/portal/orders/${order.id}/issue`, {
        csr: req.csr.toString('base64'),
        proof: req.proof.toString('base64'),
      });
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      assert.equal(issued.body.order.state, 'issued');

      // the order's history names who did what
      const d = await op.call<{
        events: { type: string; actor: string }[];
        payment: { tradeNo: string; recordedBy: string };
        invoice: { number: string; paperStatus: string };
      }>('GET', `/api/staff/orders/${order.id}`);
      assert.deepEqual(
        d.body.events.map((e) => e.type),
        ['created', 'payment.rejected', 'paid', 'issuing', 'issued'],
      );
      assert.equal(d.body.events.find((e) => e.type === 'paid')!.actor, `staff:${operator.username}`);
      assert.equal(d.body.payment.tradeNo, 'ICBC-20261125-001');
      assert.equal(d.body.invoice.paperStatus, 'to_mail');
      // confirming again is harmless; a refund of an issued order's payment is refused with the reason
      assert.equal(
        (
          await op.call<{ outcome: string }>('POST', `/api/staff/orders/${order.id}/confirm-payment`, {
            reference: 'ICBC-20261125-001',
            amount: '300.00',
          })
        ).body.outcome,
        'duplicate',
      );
      const refund = await op.call<{ error: string; message: string }>('POST', `/api/staff/orders/${order.id}/refund`, {
        kind: 'order',
        amount: '300.00',
        refundReference: 'RF-1',
        reason: 'test',
      });
      assert.equal(refund.status, 409);
      assert.match(refund.body.message, /issued/);
    });

    test('error messages follow Accept-Language: Chinese when its first language is zh, else English', async () => {
      const { order } = await holderWithOrder('语言测试');
      const confirm = (headers?: Record<string, string>) =>
        op.call<{ error: string; message: string; field: string }>(
          'POST',
          `/api/staff/orders/${order.id}/confirm-payment`,
          { reference: 'ICBC-20261125-LANG', amount: '299.00' },
          headers,
        );
      const zh = await confirm({ 'accept-language': 'zh-CN' });
      assert.equal(zh.status, 422);
      assert.deepEqual(zh.body, {
        error: 'amount_mismatch',
        message: '实收金额 299.00 元与订单金额 300.00 元不符',
        field: 'amount',
      });
      for (const en of [await confirm(), await confirm({ 'accept-language': 'en-US,zh-CN;q=0.8' })]) {
        assert.equal(en.status, 422);
        assert.equal(en.body.error, 'amount_mismatch');
        assert.equal(en.body.field, 'amount');
        assert.match(en.body.message, /299\.00 does not match .*300\.00/);
      }
    });

    test('statement import matches two orders, reports the unmatched line, and records nothing twice on re-import', async () => {
      const a = await holderWithOrder('导入甲');
      const b = await holderWithOrder('导入乙', 'postal');
      const csv =
        '\uFEFFdate,amount,reference,payer,transaction_id\r\n' +
        `2026-11-25,300.00,"转帐 ${a.order.reference} 证书更新",导入甲,TX-${a.order.id}\r\n` +
        `2026/11/25 10:30,"¥300.00",汇款附言${b.order.reference.toLowerCase()},导入乙,TX-${b.order.id}\r\n` +
        `2026-11-25,500.00,货款,某公司,TX-OTHER-${a.order.id}\r\n`;
      const r = await op.call<{
        matched: { orderId: string }[];
        unmatched: { line: number; outcome: string }[];
        alreadyRecorded: unknown[];
      }>('POST', '/api/staff/statements', { filename: 'icbc.csv', content: csv });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.matched.map((m) => m.orderId).sort(), [a.order.id, b.order.id].sort());
      assert.equal(r.body.unmatched.length, 1);
      assert.equal(r.body.unmatched[0]!.line, 4);
      assert.equal(r.body.unmatched[0]!.outcome, 'no_reference');
      assert.equal((await a.portal.call<{ order: Order }>('GET', `/api/portal/orders/${a.order.id}`)).body.order.state, 'paid');
      assert.equal((await b.portal.call<{ order: Order }>('GET', `/api/portal/orders/${b.order.id}`)).body.order.state, 'paid');

      const again = await op.call<{ matched: unknown[]; alreadyRecorded: { orderId: string }[]; unmatched: unknown[] }>(
        'POST',
        '/api/staff/statements',
        { filename: 'icbc.csv', content: csv },
      );
      assert.equal(again.body.matched.length, 0);
      assert.equal(again.body.alreadyRecorded.length, 2);
      const events = (await op.call<{ events: { type: string }[] }>('GET', `/api/staff/orders/${a.order.id}`)).body.events;
      assert.equal(events.filter((e) => e.type === 'paid').length, 1);
      // an amount mismatch and an unknown reference are reported with the reason
      const c = await holderWithOrder('导入丙');
      const bad = await op.call<{ unmatched: { outcome: string }[] }>('POST', '/api/staff/statements', {
        content: `日期,金额,附言,付款人,流水号\n20261126,30.00,${c.order.reference},导入丙,TX-C1\n20261126,300.00,CDZZZZZZZZ,谁,TX-C2\n`,
      });
      assert.deepEqual(
        bad.body.unmatched.map((u) => u.outcome),
        ['amount_mismatch', 'unknown_reference'],
      );
      // a header without the required columns is refused
      const noHeader = await op.call<{ error: string; field: string }>('POST', '/api/staff/statements', {
        content: 'foo,bar\n1,2\n',
      });
      assert.equal(noHeader.status, 400);
    });

    test('refunds: a paid order before issuance becomes refunded and its invoice void; extra payments are refunded once', async () => {
      const { portal, order } = await holderWithOrder('退款测试');
      await op.call('POST', `/api/staff/orders/${order.id}/confirm-payment`, { reference: 'BOC-9', amount: '300.00' });
      // a second transfer for the same order is money to give back
      const extra = await op.call<{ outcome: string }>('POST', `/api/staff/orders/${order.id}/confirm-payment`, {
        reference: 'BOC-10',
        amount: '300.00',
      });
      assert.equal(extra.body.outcome, 'extra');
      const wrongAmount = await op.call<{ error: string }>('POST', `/api/staff/orders/${order.id}/refund`, {
        kind: 'order',
        amount: '100.00',
        refundReference: 'RF-A',
        reason: '客户申请',
      });
      assert.equal(wrongAmount.status, 422);
      const r = await op.call<{ order: { state: string } }>('POST', `/api/staff/orders/${order.id}/refund`, {
        kind: 'order',
        amount: '300.00',
        refundReference: 'RF-A',
        reason: '客户申请退款',
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.order.state, 'refunded');
      assert.equal((await portal.call<{ order: Order }>('GET', `/api/portal/orders/${order.id}`)).body.order.state, 'refunded');
      const x = await op.call('POST', `/api/staff/orders/${order.id}/refund`, {
        kind: 'extra',
        tradeNo: 'BOC-10',
        amount: '300.00',
        refundReference: 'RF-B',
        reason: '重复汇款',
      });
      assert.equal(x.status, 200, JSON.stringify(x.body));
      const twice = await op.call<{ error: string }>('POST', `/api/staff/orders/${order.id}/refund`, {
        kind: 'extra',
        tradeNo: 'BOC-10',
        amount: '300.00',
        refundReference: 'RF-C',
        reason: '重复汇款',
      });
      assert.equal(twice.status, 409);
      assert.equal(twice.body.error, 'already_refunded');
      const d = await op.call<{ refunds: { kind: string }[]; invoice: { status: string } }>(
        'GET',
        `/api/staff/orders/${order.id}`,
      );
      assert.deepEqual(
        d.body.refunds.map((f) => f.kind),
        ['order', 'extra'],
      );
      assert.equal(d.body.invoice.status, 'void');
    });

    test('cancel an unpaid order; a paid one is refused', async () => {
      const { portal, order } = await holderWithOrder('取消测试');
      const r = await op.call<{ order: { state: string } }>('POST', `/api/staff/orders/${order.id}/cancel`, {
        reason: '客户来电取消',
      });
      assert.equal(r.body.order.state, 'cancelled');
      const seen = (await portal.call<{ order: Order }>('GET', `/api/portal/orders/${order.id}`)).body.order;
      assert.equal(seen.state, 'cancelled');
      assert.equal((await op.call('POST', `/api/staff/orders/${order.id}/cancel`, {})).status, 409);
    });

    test('search orders by name, unique ID, order number, state and date range; server-side paging', async () => {
      const { order } = await holderWithOrder('搜索测试公司');
      const byName = await op.call<{ items: { id: string }[]; total: number }>(
        'GET',
        `/api/staff/orders?name=${encodeURIComponent('搜索测试')}`,
      );
      assert.deepEqual(
        byName.body.items.map((o) => o.id),
        [order.id],
      );
      const d = await op.call<{ order: { uniqueId: string } }>('GET', `/api/staff/orders/${order.id}`);
      const byUid = await op.call<{ items: { id: string }[] }>(
        'GET',
        `/api/staff/orders?uniqueId=${encodeURIComponent(d.body.order.uniqueId)}`,
      );
      assert.deepEqual(
        byUid.body.items.map((o) => o.id),
        [order.id],
      );
      assert.equal((await op.call<{ total: number }>('GET', `/api/staff/orders?order=${order.reference}`)).body.total, 1);
      const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
      const page = await op.call<{ items: unknown[]; total: number; pageSize: number }>(
        'GET',
        `/api/staff/orders?state=awaiting_payment,paid&from=${today}&to=${today}&pageSize=2&page=1`,
      );
      assert.equal(page.body.items.length, 2);
      assert.ok(page.body.total >= 2);
      assert.equal((await op.call<{ total: number }>('GET', '/api/staff/orders?from=2001-01-01&to=2001-01-02')).body.total, 0);
      assert.equal((await op.call('GET', '/api/staff/orders?state=bogus')).status, 400);
    });

    test('invoices: mark the paper invoice mailed (the holder sees it); the e-invoice PDF has the amount in 元 and 大写', async (t) => {
      const { portal, order } = await holderWithOrder('发票测试有限公司');
      await op.call('POST', `/api/staff/orders/${order.id}/confirm-payment`, { reference: 'CCB-77', amount: '300.00' });
      const toMail = await op.call<{ items: { orderId: string; mailTo: { address: string } }[] }>(
        'GET',
        '/api/staff/invoices?paperStatus=to_mail&pageSize=100',
      );
      assert.equal(toMail.body.items.find((i) => i.orderId === order.id)?.mailTo.address, FORM.address);
      const bad = await op.call<{ field: string }>('POST', `/api/staff/orders/${order.id}/invoice/mailed`, {
        carrier: 'EMS',
        trackingNo: '!',
      });
      assert.equal(bad.body.field, 'trackingNo');
      const m = await op.call<{ invoice: { paperStatus: string; trackingNo: string } }>(
        'POST',
        `/api/staff/orders/${order.id}/invoice/mailed`,
        { carrier: 'EMS', trackingNo: 'EA123456789CN' },
      );
      assert.equal(m.body.invoice.paperStatus, 'mailed');
      assert.equal(
        (await op.call('POST', `/api/staff/orders/${order.id}/invoice/mailed`, { carrier: 'EMS', trackingNo: 'EA123456789CN' }))
          .status,
        409,
      );
      const seen = (await portal.call<{ order: Order }>('GET', `/api/portal/orders/${order.id}`)).body.order;
      const mailed = seen.events.find((e) => e.type === 'invoice.mailed');
      assert.ok(mailed, JSON.stringify(seen.events));
      assert.deepEqual(mailed.detail, { carrier: 'EMS', trackingNo: 'EA123456789CN', number: `INV-${order.id.slice(1)}` });
      // the order itself says where the invoice is and links the e-invoice
      assert.deepEqual(seen.invoice, {
        number: `INV-${order.id.slice(1)}`,
        status: 'issued',
        amountFen: 30000,
        pdfUrl: `/api/portal/orders/${order.id}/invoice.pdf`,
        paper: 'mailed',
        carrier: 'EMS',
        trackingNo: 'EA123456789CN',
        mailedAt: seen.invoice?.mailedAt,
      });
      assert.ok(Date.parse(String(seen.invoice?.mailedAt)) > Date.now() - 60_000);

      const pdf = await op.call('GET', `/api/staff/orders/${order.id}/invoice.pdf`);
      assert.equal(pdf.status, 200);
      assert.equal(pdf.headers.get('content-type'), 'application/pdf');
      assert.equal(pdf.raw.subarray(0, 5).toString(), '%PDF-');
      // the same bytes every time (rendered once, stored), and the holder downloads the same file
      assert.ok((await op.call('GET', `/api/staff/orders/${order.id}/invoice.pdf`)).raw.equals(pdf.raw));
      const holderPdf = await portal.call('GET', `/api/portal/orders/${order.id}/invoice.pdf`);
      assert.equal(holderPdf.status, 200);
      const other = await holderWithOrder('别人的发票');
      assert.equal((await other.portal.call('GET', `/api/portal/orders/${order.id}/invoice.pdf`)).status, 404);
      const noPoppler = requireTool('poppler');
      if (noPoppler) t.skip(`the PDF's text and fonts are not checked: ${noPoppler}`);
      else {
        const file = path.join(ca.dir, 'invoice.pdf');
        writeFileSync(file, pdf.raw);
        const text = execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' });
        for (const s of [
          '电子收据',
          '发票测试有限公司',
          'certdesk 演示 CA 有限公司',
          '300.00',
          '叁佰元整',
          '单位身份证书 更新 1 年',
          order.id,
          '银行转帐',
        ]) {
          assert.ok(text.includes(s), `${s} missing from the PDF text:\n${text}`);
        }
        const fonts = execFileSync('pdffonts', [file], { encoding: 'utf8' });
        assert.match(fonts, /NotoSans\S*\s.*yes\s+yes/, fonts); // embedded, subset
      }
    });

    test('catalogue: a price change applies to new orders only; payment methods; profile checks', async () => {
      const { order: before } = await holderWithOrder('价格甲');
      const ad = new StaffClient(base, origin);
      assert.equal((await ad.login(admin)).status, 200);
      const cat = await ad.call<{
        types: {
          code: string;
          prices: Record<string, number>;
          name: string;
          nameEn: string;
          profile: string;
          renewBeforeDays: number;
          renewAfterDays: number;
          onlineRenewal: boolean;
        }[];
      }>('GET', '/api/staff/catalogue');
      const t = cat.body.types.find((x) => x.code === 'org-identity')!;
      const saved = await ad.call('PUT', '/api/staff/catalogue/types/org-identity', { ...t, prices: { '1': 32000, '2': 60000 } });
      assert.equal(saved.status, 200, JSON.stringify(saved.body));
      assert.equal(
        (await ad.call('PUT', '/api/staff/catalogue/types/org-identity', { ...t, profile: 'no-such-profile' })).status,
        400,
      );
      const { order: after } = await holderWithOrder('价格乙');
      assert.equal(after.amountFen, 32000);
      assert.equal(
        (await op.call<{ order: { amountFen: number } }>('GET', `/api/staff/orders/${before.id}`)).body.order.amountFen,
        30000,
      );
      const pm = await ad.call<{ paymentMethods: string[] }>('PUT', '/api/staff/settings/payment-methods', {
        paymentMethods: ['bank', 'online'],
      });
      assert.deepEqual(pm.body.paymentMethods, ['online', 'bank']);
      const holder = await createHolder(ca, { name: '邮政不可用' });
      const portal = new PortalClient(base, origin);
      await portal.login(holder);
      const refused = await portal.call<{ field: string }>('POST', '/api/portal/orders', { ...FORM, paymentMethod: 'postal' });
      assert.equal(refused.status, 400);
      assert.equal(refused.body.field, 'paymentMethod');
      // restore for the other tests
      await ad.call('PUT', '/api/staff/catalogue/types/org-identity', { ...t });
      await ad.call('PUT', '/api/staff/settings/payment-methods', { paymentMethods: ['online', 'postal', 'bank'] });
      const audit = await ad.call<{ items: { action: string; actor: string }[] }>('GET', '/api/staff/audit?action=settings.');
      assert.ok(audit.body.items.some((e) => e.action === 'settings.updated' && e.actor === `staff:${admin.username}`));
    });

    test('certificates: search, details with OCSP and CRL status, revocation on request', async () => {
      const holder = await createHolder(ca, { name: '撤销测试', uniqueId: 'UID-REVOKE-1' });
      const s = await op.call<{ items: { serial: string }[] }>('GET', '/api/staff/certificates?uniqueId=UID-REVOKE-1');
      assert.deepEqual(
        s.body.items.map((c) => c.serial),
        [holder.serial],
      );
      assert.equal(
        (await op.call<{ total: number }>('GET', `/api/staff/certificates?subject=${encodeURIComponent('撤销测')}`)).body.total,
        1,
      );
      const d1 = await op.call<{ ocsp: string; crl: { listed: boolean } }>('GET', `/api/staff/certificates/${holder.serial}`);
      assert.equal(d1.body.ocsp, 'good');
      assert.equal(d1.body.crl.listed, false);
      const a = new StaffClient(base, origin);
      await a.login(auditor);
      assert.equal(
        (await a.call('POST', `/api/staff/certificates/${holder.serial}/revoke`, { reason: 'keyCompromise', requestedBy: 'x' }))
          .status,
        403,
      );
      // the lost UKey is in someone's hands, logged in to the portal
      const finder = new PortalClient(base, origin);
      assert.equal((await finder.login(holder)).status, 200);
      const r = await op.call<{ status: string }>('POST', `/api/staff/certificates/${holder.serial}/revoke`, {
        reason: 'keyCompromise',
        requestedBy: '撤销测试 经办人 张三，书面申请',
        note: 'UKey 丢失',
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal((await finder.call('GET', '/api/portal/session')).status, 401, 'the revocation ended its portal session');
      const d2 = await op.call<{
        ocsp: string;
        crl: { listed: boolean };
        revocation: { reason: string };
        audit: { action: string; actor: string }[];
      }>('GET', `/api/staff/certificates/${holder.serial}`);
      assert.equal(d2.body.ocsp, 'revoked');
      assert.equal(d2.body.crl.listed, true);
      assert.equal(d2.body.revocation.reason, 'keyCompromise');
      assert.deepEqual(
        d2.body.audit.filter((e) => e.action.startsWith('certificate.revo')).map((e) => [e.action, e.actor]),
        [
          ['certificate.revocation_requested', `staff:${operator.username}`],
          ['certificate.revoked', `staff:${operator.username}`],
        ],
      );
      assert.equal(
        (
          await op.call('POST', `/api/staff/certificates/${holder.serial}/revoke`, {
            reason: 'keyCompromise',
            requestedBy: 'again',
          })
        ).status,
        409,
      );
    });

    test('audit: auditors browse with filters and keyset paging, export CSV; the chain verifies', async () => {
      const a = await loggedInStaff(ca.rt, base, origin, ['auditor']);
      const p1 = await a.call<{ items: { seq: number; action: string }[]; nextBeforeSeq: number }>(
        'GET',
        '/api/staff/audit?limit=5',
      );
      assert.equal(p1.body.items.length, 5);
      const p2 = await a.call<{ items: { seq: number }[] }>('GET', `/api/staff/audit?limit=5&beforeSeq=${p1.body.nextBeforeSeq}`);
      assert.ok(p2.body.items[0]!.seq < p1.body.items[4]!.seq);
      const logins = await a.call<{ items: { action: string }[] }>(
        'GET',
        `/api/staff/audit?actor=staff:${operator.username}&action=staff.login`,
      );
      assert.ok(logins.body.items.length >= 1);
      const csv = await a.call('GET', '/api/staff/audit.csv?action=payment.');
      assert.equal(csv.status, 200);
      assert.match(String(csv.headers.get('content-type')), /text\/csv/);
      const text = csv.raw.toString('utf8');
      assert.ok(text.startsWith('\uFEFFseq,at,actor,action,target,details,prev_hash,hash\r\n'));
      assert.match(text, /payment\.recorded/);
      assert.doesNotMatch(text, /staff\.login/);
      const v = await a.call<{ ok: boolean; entries: number }>('GET', '/api/staff/audit/verify');
      assert.equal(v.body.ok, true);
      assert.equal((await verifyAuditChain(ca.rt.storage.db)).ok, true);
    });
  });
}
