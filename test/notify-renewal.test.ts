// The outbox hooks in a real renewal through the portal (SQLite and PostgreSQL): the order form's
// 电子邮箱 becomes the holder's contact, paying enqueues the "order paid" mail, issuing the
// "certificate issued" mail, and completing the order a signed certificate.renewed webhook to the
// relying application that accepts the type; a holder's revocation a certificate.revoked webhook;
// all delivered by a notify run to loopback peers.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { runNotify } from '../src/notify/notifier.js';
import { insertHookApp } from './helpers/relying-apps.js';
import { sandboxSmsMessages } from '../src/notify/sms-sandbox.js';
import { BACKENDS } from './helpers/backends.js';
import { createHolder, freePort, ORDER_FORM, PortalClient, serveTestCa, type ServedCa } from './helpers/holder.js';

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 150));
  }
}

for (const backend of BACKENDS) {
  describe(`notify hooks in a renewal (${backend.name})`, { skip: backend.skip }, () => {
    let served: ServedCa;
    let smtp: SMTPServer;
    let hook: Server;
    const mails: { to: string[]; raw: string }[] = [];
    const hooks: { body: string; verified: boolean }[] = [];
    const secret = 'whsec-renewal-test';

    before(async () => {
      served = await serveTestCa({ postgres: backend.postgres });
      const smtpPort = await freePort();
      smtp = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS'],
        onData(stream, session, cb) {
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
            cb();
          });
        },
      });
      await new Promise<void>((r) => smtp.listen(smtpPort, '127.0.0.1', r));
      served.ca.rt.config.smtpUrl = `smtp://127.0.0.1:${smtpPort}`;
      const hookPort = await freePort();
      hook = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(req.headers['x-certdesk-signature'] ?? ''));
          const verified = !!m && createHmac('sha256', secret).update(`${m[1]}.${body}`).digest('hex') === m[2];
          hooks.push({ body, verified });
          res.writeHead(200).end('ok');
        });
      });
      await new Promise<void>((r) => hook.listen(hookPort, '127.0.0.1', r));
      await insertHookApp(served.ca.rt.storage.db, 'app-renewal', `http://127.0.0.1:${hookPort}/hook`, secret);
    });
    after(async () => {
      await new Promise<void>((r) => (hook ? hook.close(() => r()) : r()));
      await new Promise<void>((r) => (smtp ? smtp.close(() => r()) : r()));
      await served?.close();
    });

    /** 应用开通 of the free app, by the holder, through the portal API. */
    const enable = async (c: PortalClient): Promise<void> => {
      const r = await c.call<{ order: { state: string } }>('POST', '/api/portal/apps/app-renewal/enable', {
        recipient: ORDER_FORM.recipient,
        phone: ORDER_FORM.phone,
        address: ORDER_FORM.address,
        postcode: ORDER_FORM.postcode,
        paymentMethod: 'bank',
        years: 1,
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.order.state, 'completed');
    };
    const eventsOf = (type: string) =>
      hooks
        .map((h) => ({ ...h, event: JSON.parse(h.body) as { type: string; data: Record<string, unknown> } }))
        .filter((h) => h.event.type === type);

    test('order paid and certificate issued mails, certificate.renewed webhook', async () => {
      const { ca, base, origin } = served;
      const holder = await createHolder(ca, { name: '通知续期', uniqueId: '91110000NOTIFY001X' });
      const c = new PortalClient(base, origin);
      await c.login(holder);
      await enable(c);
      await runNotify(ca.rt);
      const started = eventsOf('enablement.started');
      assert.equal(started.length, 1, 'enablement.started for the app enabled');
      assert.ok(started[0]!.verified);
      assert.deepEqual(started[0]!.event.data.holder, { uniqueId: '91110000NOTIFY001X', name: '通知续期' });
      hooks.length = 0;
      const created = await c.call<{ order: { id: string } }>('POST', '/api/portal/orders', {
        ...ORDER_FORM,
        email: 'renew@example.test',
        phone: '13900139000',
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.order.id;
      const h = await ca.rt.storage.db
        .selectFrom('holders')
        .select('email')
        .where('unique_id', '=', '91110000NOTIFY001X')
        .executeTakeFirstOrThrow();
      assert.equal(h.email, 'renew@example.test');

      const pay = await c.call<{ redirectUrl: string }>('POST', `/api/portal/orders/${id}/pay`);
      const pageUrl = new URL(pay.body.redirectUrl);
      const page = await (await fetch(`${base}${pageUrl.pathname}${pageUrl.search}`)).text();
      const tradeNo = /name="trade_no" value="([^"]+)"/.exec(page)![1]!;
      await fetch(`${base}/sandbox-pay/pay`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `trade_no=${tradeNo}&bank=${encodeURIComponent('招商银行')}`,
      });
      assert.equal(
        (
          await until(
            () => ca.rt.renewals.order(id),
            (o) => o.state === 'paid',
          )
        ).state,
        'paid',
      );
      const req = await holder.renewalRequest(id);
      const issued = await c.call<{ certificate: string }>('POST', `/api/portal/orders/${id}/issue`, {
        csr: req.csr.toString('base64'),
        proof: req.proof.toString('base64'),
      });
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      const installed = await c.call<{ order: { state: string } }>('POST', `/api/portal/orders/${id}/installed`);
      assert.equal(installed.body.order.state, 'completed');

      const r = await runNotify(ca.rt);
      assert.equal(r.failed + r.dead, 0, JSON.stringify(r));
      const mine = mails.filter((m) => m.to.includes('renew@example.test'));
      assert.equal(mine.length, 3, 'order paid, the e-invoice, certificate issued');
      assert.ok(mine.some((m) => m.raw.includes(id)));
      const invoice = mine.find((m) => /application\/pdf/.test(m.raw));
      assert.ok(invoice, 'the e-invoice mail carries the PDF');
      assert.match(invoice.raw, /filename="?invoice-[^"\s]+\.pdf/);
      const pdfB64 = /Content-Type: application\/pdf[^]*?\r\n\r\n([A-Za-z0-9+/=\r\n]+)/.exec(invoice.raw)![1]!;
      const pdf = Buffer.from(pdfB64.replace(/\r\n/g, ''), 'base64');
      assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
      const stored = await ca.rt.storage.db
        .selectFrom('invoices')
        .select('pdf')
        .where('order_id', '=', id)
        .executeTakeFirstOrThrow();
      assert.ok(stored.pdf && pdf.equals(stored.pdf), 'the attachment is the stored e-invoice');
      const texts = (await sandboxSmsMessages(ca.rt.storage.db, '13900139000')).map((m) => m.body);
      assert.equal(texts.length, 2, JSON.stringify(texts));
      assert.match(texts[0]!, new RegExp(`订单${id}.*已支付`));
      assert.match(texts[1]!, new RegExp(`订单${id}的证书已签发`));
      assert.equal(hooks.length, 1);
      assert.ok(hooks[0]!.verified, 'the webhook signature verifies');
      const event = JSON.parse(hooks[0]!.body) as { type: string; data: { orderId: string; previousSerial: string } };
      assert.equal(event.type, 'certificate.renewed');
      assert.equal(event.data.orderId, id);
      assert.equal(event.data.previousSerial, holder.serial);
      // nothing more on a second run
      await runNotify(ca.rt);
      assert.equal(hooks.length, 1);
    });

    test('a revocation by the holder sends a signed certificate.revoked webhook', async () => {
      const { ca, base, origin } = served;
      const holder = await createHolder(ca, { name: '通知撤销', uniqueId: '91110000NOTIFY002X' });
      const c = new PortalClient(base, origin);
      await c.login(holder);
      await enable(c);
      await runNotify(ca.rt);
      const st = await c.call<{ statement: string }>('POST', '/api/portal/revocation/statement', {
        serial: holder.serial,
        reason: 'keyCompromise',
      });
      assert.equal(st.status, 200, JSON.stringify(st.body));
      const ok = await c.call<{ status: string }>('POST', '/api/portal/revocation', {
        statement: st.body.statement,
        signature: holder.signLogin(st.body.statement).toString('base64'),
      });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      const before = hooks.length;
      await runNotify(ca.rt);
      assert.equal(hooks.length, before + 1);
      const last = hooks.at(-1)!;
      assert.ok(last.verified);
      const event = JSON.parse(last.body) as { type: string; data: { serial: string; reason: string } };
      assert.equal(event.type, 'certificate.revoked');
      assert.equal(event.data.serial, holder.serial);
      assert.equal(event.data.reason, 'keyCompromise');
    });

    test('an app hears only of its own holders; ending an enablement sends enablement.ended once', async () => {
      const { ca, base, origin } = served;
      // a holder who never enabled the app: its revocation is no business of the app's
      const stranger = await createHolder(ca, { name: '未开通', uniqueId: '91110000NOTIFY003X' });
      const s = new PortalClient(base, origin);
      await s.login(stranger);
      const st = await s.call<{ statement: string }>('POST', '/api/portal/revocation/statement', {
        serial: stranger.serial,
        reason: 'cessationOfOperation',
      });
      assert.equal(st.status, 200, JSON.stringify(st.body));
      const rv = await s.call('POST', '/api/portal/revocation', {
        statement: st.body.statement,
        signature: stranger.signLogin(st.body.statement).toString('base64'),
      });
      assert.equal(rv.status, 200, JSON.stringify(rv.body));
      const before = hooks.length;
      await runNotify(ca.rt);
      assert.equal(hooks.length, before, 'no webhook about a holder who did not enable the app');

      const holder = await createHolder(ca, { name: '结束开通', uniqueId: '91110000NOTIFY004X' });
      const c = new PortalClient(base, origin);
      await c.login(holder);
      await enable(c);
      const ended = await c.call('POST', '/api/portal/apps/app-renewal/end');
      assert.equal(ended.status, 200, JSON.stringify(ended.body));
      await runNotify(ca.rt);
      await runNotify(ca.rt);
      const endings = eventsOf('enablement.ended').filter(
        (h) => (h.event.data.holder as { uniqueId: string }).uniqueId === '91110000NOTIFY004X',
      );
      assert.equal(endings.length, 1);
      assert.ok(endings[0]!.verified);
    });
  });
}
