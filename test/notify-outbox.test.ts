// The outbox with real peers on loopback, on SQLite and PostgreSQL: an SMTP server (smtp-server)
// receives an expiry reminder with its .ics (DTSTART = the certificate's last day), once per
// threshold, and none after an opt-out or a renewal; an HTTP receiver gets a signed webhook,
// retried with back-off while it is down and delivered once per idempotency key; after the last
// attempt the message is dead and the staff retry delivers it; the SMS sandbox records a message.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { SMTPServer } from 'smtp-server';
import { buildServer } from '../src/api/server.js';
import { FieldError, parseOrderForm } from '../src/ra/order-form.js';
import { runNotify } from '../src/notify/notifier.js';
import { enqueue, listMessages } from '../src/notify/outbox.js';
import { sandboxSmsMessages } from '../src/notify/sms-sandbox.js';
import { enqueueCertificateEvent } from '../src/notify/webhooks.js';
import { enableFor, insertHookApp } from './helpers/relying-apps.js';
import { writeTransaction } from '../src/sa/database.js';
import { setHolderContact } from '../src/sa/holders.js';
import { BACKENDS } from './helpers/backends.js';
import { cli } from './helpers/cli.js';
import { createTestCa, opensslCsr, type TestCa } from './helpers/ca.js';
import { freePort } from './helpers/holder.js';
import { loggedInStaff, type StaffClient } from './helpers/staff.js';

const DAY = 86_400_000;

interface Mail {
  to: string[];
  raw: string;
}

/** The decoded parts of a MIME message (base64 or quoted-printable or plain), by content type. */
function mimeParts(raw: string): { type: string; body: string }[] {
  const boundary = /boundary="?([^";\r\n]+)"?/i.exec(raw)?.[1];
  assert.ok(boundary, 'a multipart mail');
  return raw
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((part) => {
      const [head, ...rest] = part.replace(/^\r\n/, '').split('\r\n\r\n');
      const body = rest.join('\r\n\r\n');
      const type = /content-type:\s*([^;\r\n]+)/i.exec(head!)?.[1]?.toLowerCase() ?? '';
      const enc = /content-transfer-encoding:\s*(\S+)/i.exec(head!)?.[1]?.toLowerCase();
      const decoded =
        enc === 'base64'
          ? Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')
          : enc === 'quoted-printable'
            ? Buffer.from(
                body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
                'latin1',
              ).toString('utf8')
            : body;
      return { type, body: decoded };
    });
}

const subjectOf = (raw: string): string => {
  const m = /^subject:\s*(.+(?:\r\n\s+.+)*)/im.exec(raw)![1]!;
  return m.replace(/\r\n\s+/g, ' ').replace(/=\?utf-8\?([bq])\?([^?]*)\?=\s*/gi, (_, e: string, t: string) =>
    e.toLowerCase() === 'b'
      ? Buffer.from(t, 'base64').toString('utf8')
      : Buffer.from(
          t.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (__, h: string) => String.fromCharCode(parseInt(h, 16))),
          'latin1',
        ).toString('utf8'),
  );
};

test('the order form takes an optional 电子邮箱 and names it when it is wrong', () => {
  const form = {
    termYears: 1,
    recipient: '张三',
    phone: '13800000000',
    address: '上海市浦东新区',
    postcode: '200120',
    paymentMethod: 'online',
  };
  assert.equal(parseOrderForm(form).email, undefined);
  assert.equal(parseOrderForm({ ...form, email: '' }).email, undefined);
  assert.equal(parseOrderForm({ ...form, email: ' a@example.com ' }).email, 'a@example.com');
  assert.throws(
    () => parseOrderForm({ ...form, email: 'not-mail' }),
    (e: unknown) => e instanceof FieldError && e.field === 'email' && /电子邮箱/.test(e.message),
  );
});

for (const backend of BACKENDS) {
  describe(`notify outbox (${backend.name})`, { skip: backend.skip }, () => {
    let ca: TestCa;
    let app: FastifyInstance;
    let base: string;
    let staff: StaffClient;
    let smtp: SMTPServer;
    const mails: Mail[] = [];

    before(async () => {
      const port = await freePort();
      ca = await createTestCa({ postgres: backend.postgres, port });
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
      ca.rt.config.smtpUrl = `smtp://127.0.0.1:${smtpPort}`;
      ca.rt.config.smtpFrom = 'ca@example.test';
      ca.rt.config.notifyBackoffSeconds = 2;
      ca.rt.config.notifyMaxAttempts = 3;
      ({ app } = await buildServer(ca.rt, { logger: false }));
      await app.listen({ port, host: '127.0.0.1' });
      base = `http://127.0.0.1:${port}`;
      staff = await loggedInStaff(ca.rt, base, new URL(ca.config.publicUrl).origin, ['operator']);
    });
    after(async () => {
      await app?.close();
      await new Promise<void>((r) => (smtp ? smtp.close(() => r()) : r()));
      await ca?.cleanup();
    });

    async function issue(uniqueId: string, cn: string) {
      const { csr } = opensslCsr(ca.dir, `/CN=${cn}/O=${cn}/C=CN`);
      return (await ca.rt.ca.issue({ csr, profileId: 'org-identity', uniqueId, actor: 'test' })).record;
    }

    test('an expiry reminder by SMTP with the .ics, once per threshold, none after opt-out', async () => {
      const cert = await issue('91110000REMIND001X', '提醒测试');
      await setHolderContact(ca.rt.storage.db, cert.holder_id!, { email: 'holder@example.test' });
      const r1 = await runNotify(ca.rt, cert.not_after - 29.5 * DAY);
      assert.equal(r1.reminders, 1);
      assert.equal(r1.sent, 1);
      assert.equal(mails.length, 1);
      const mail = mails[0]!;
      assert.deepEqual(mail.to, ['holder@example.test']);
      assert.match(subjectOf(mail.raw), /证书到期提醒/);
      const parts = mimeParts(mail.raw);
      const ics = parts.find((p) => p.type === 'text/calendar');
      assert.ok(ics, 'an .ics attachment');
      assert.match(mail.raw, /filename="?certificate-expiry\.ics/);
      const lastDay = new Date(cert.not_after - 1 + 8 * 3600_000).toISOString().slice(0, 10).replace(/-/g, '');
      assert.match(ics.body, /BEGIN:VEVENT/);
      assert.equal(/DTSTART;VALUE=DATE:(\d{8})/.exec(ics.body)?.[1], lastDay);
      const text = parts.find((p) => p.type === 'text/plain')!.body;
      assert.ok(text.includes(ca.config.publicUrl), 'the portal link');

      // the same threshold again: nothing new
      const r2 = await runNotify(ca.rt, cert.not_after - 29 * DAY);
      assert.equal(r2.reminders, 0);
      assert.equal(mails.length, 1);
      // the next threshold (7 days)
      assert.equal((await runNotify(ca.rt, cert.not_after - 6.5 * DAY)).reminders, 1);
      assert.equal(mails.length, 2);

      // opt-out through the link in the mail: no 3-day reminder
      const link = /(http\S+\/api\/notify\/unsubscribe\?token=\S+)/.exec(text)![1]!;
      const forged = await fetch(`${base}/api/notify/unsubscribe?token=${cert.holder_id}.${'A'.repeat(43)}`);
      assert.equal(forged.status, 400);
      const res = await fetch(link.replace(ca.config.publicUrl, base));
      assert.equal(res.status, 200);
      assert.equal((await runNotify(ca.rt, cert.not_after - 2.5 * DAY)).reminders, 0);
      assert.equal(mails.length, 2);
    });

    test('a reminder by SMS to a mobile number, once per threshold; none to a landline; none after opt-out', async () => {
      const mobile = await issue('91110000REMINDSMSX', '短信提醒');
      await ca.rt.storage.db.updateTable('holders').set({ phone: '13700137000' }).where('id', '=', mobile.holder_id!).execute();
      const landline = await issue('91110000REMINDTELX', '座机提醒');
      await ca.rt.storage.db.updateTable('holders').set({ phone: '021-962600' }).where('id', '=', landline.holder_id!).execute();
      const at = mobile.not_after - 29.5 * DAY;
      await runNotify(ca.rt, at);
      await runNotify(ca.rt, at + 60_000);
      const got = await sandboxSmsMessages(ca.rt.storage.db, '13700137000');
      assert.equal(got.length, 1, 'one SMS for the 30-day threshold');
      assert.match(got[0]!.body, /将于\d{4}-\d{2}-\d{2}到期（还有30天）.*登录.*更新。退订：http/);
      assert.equal((await sandboxSmsMessages(ca.rt.storage.db, '021-962600')).length, 0);
      assert.equal((await sandboxSmsMessages(ca.rt.storage.db, '021962600')).length, 0);
      await ca.rt.storage.db
        .updateTable('holders')
        .set({ reminders_opt_out_at: Date.now() })
        .where('id', '=', mobile.holder_id!)
        .execute();
      await runNotify(ca.rt, mobile.not_after - 6.5 * DAY);
      assert.equal((await sandboxSmsMessages(ca.rt.storage.db, '13700137000')).length, 1, 'opted out: no 7-day SMS');
    });

    test('no reminder once the certificate is renewed', async () => {
      const old = await issue('91110000REMIND002X', '续期测试');
      await setHolderContact(ca.rt.storage.db, old.holder_id!, { email: 'renewed@example.test' });
      const renewed = await ca.rt.ca.issue({
        csr: opensslCsr(ca.dir, '/CN=续期测试/O=续期测试/C=CN').csr,
        profileId: 'org-identity',
        uniqueId: '91110000REMIND002X',
        renewsSerial: old.serial,
        notAfter: new Date(old.not_after + 365 * DAY),
        actor: 'test',
      });
      assert.ok(renewed.record.not_after > old.not_after);
      const before = mails.filter((m) => m.to.includes('renewed@example.test')).length;
      await runNotify(ca.rt, old.not_after - 29.5 * DAY);
      assert.equal(mails.filter((m) => m.to.includes('renewed@example.test')).length, before);
      const keys = (await listMessages(ca.rt.storage.db)).map((m) => m.idempotency_key);
      assert.ok(!keys.includes(`reminder:${old.serial}:30`));
    });

    test('a signed webhook: retried with back-off while the receiver is down, once per key, dead then retried by staff', async () => {
      const cert = await issue('91110000WEBHOOK01X', '回调测试');
      const hookPort = await freePort();
      const secret = 'whsec-test-0123456789';
      await insertHookApp(ca.rt.storage.db, 'app-hook', `http://127.0.0.1:${hookPort}/hook`, secret);
      await enableFor(ca.rt.storage.db, 'app-hook', cert.holder_id!);
      const received: { body: string; verified: boolean }[] = [];
      let receiver: Server | undefined;
      const startReceiver = async (): Promise<void> => {
        receiver = createServer((req, res) => {
          const chunks: Buffer[] = [];
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8');
            const sig = String(req.headers['x-certdesk-signature'] ?? '');
            const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig);
            const verified = !!m && createHmac('sha256', secret).update(`${m[1]}.${body}`).digest('hex') === m[2];
            received.push({ body, verified });
            res.writeHead(verified ? 204 : 401).end();
          });
        });
        await new Promise<void>((r) => receiver!.listen(hookPort, '127.0.0.1', r));
      };
      const stopReceiver = () => new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));

      const event = () =>
        writeTransaction(ca.rt.storage, (tx) =>
          enqueueCertificateEvent(tx, 'certificate.revoked', `revoked:${cert.serial}`, cert),
        );
      await event();
      await event(); // the same idempotency key: a no-op
      const mine = async () => (await listMessages(ca.rt.storage.db)).filter((m) => m.recipient === 'app-hook');
      assert.equal((await mine()).length, 1);

      // receiver down: the attempt fails and the next one waits (back-off)
      let r = await runNotify(ca.rt);
      assert.equal(r.failed, 1);
      let [msg] = await mine();
      assert.equal(msg!.state, 'pending');
      assert.equal(msg!.attempts, 1);
      const firstDelay = msg!.next_attempt_at - Date.now();
      assert.ok(firstDelay > 0 && firstDelay <= 2000, `first retry after ≤ 2 s, got ${firstDelay}`);
      r = await runNotify(ca.rt);
      assert.equal(r.failed + r.sent, 0, 'not due again before its back-off');
      await runNotify(ca.rt, Date.now() + 3000);
      [msg] = await mine();
      assert.equal(msg!.attempts, 2);
      assert.ok(msg!.next_attempt_at - Date.now() > 2500, 'the second retry waits twice as long');

      // the receiver is back: delivered, verified, and exactly once
      await startReceiver();
      await runNotify(ca.rt, Date.now() + 10_000);
      await runNotify(ca.rt, Date.now() + 60_000);
      await event();
      await runNotify(ca.rt, Date.now() + 60_000);
      assert.equal(received.length, 1);
      assert.ok(received[0]!.verified, 'the signature verifies');
      const payload = JSON.parse(received[0]!.body) as { type: string; data: { serial: string } };
      assert.equal(payload.type, 'certificate.revoked');
      assert.equal(payload.data.serial, cert.serial);
      [msg] = await mine();
      assert.equal(msg!.state, 'sent');

      // a second event while the receiver is down: dead after 3 attempts, then a staff retry delivers it
      await stopReceiver();
      await writeTransaction(ca.rt.storage, (tx) =>
        enqueueCertificateEvent(tx, 'certificate.renewed', `order:test-${cert.serial}`, cert),
      );
      for (let i = 0; i < 3; i++) await runNotify(ca.rt, Date.now() + 3600_000);
      const list = await staff.call<{ items: { id: string; key: string; attempts: number }[] }>(
        'GET',
        '/api/staff/outbox?state=dead',
      );
      assert.equal(list.status, 200);
      const dead = list.body;
      const item = dead.items.find((d) => d.key === `webhook:app-hook:order:test-${cert.serial}`);
      assert.ok(item, 'the message is dead');
      assert.equal(item.attempts, 3);
      const bad = await staff.call('GET', '/api/staff/outbox?state=nope');
      assert.equal(bad.status, 400);
      await startReceiver();
      await runNotify(ca.rt, Date.now() + 3600_000);
      assert.equal(received.length, 1, 'a dead message is not sent until retried');
      const retried = await staff.call<{ message: { state: string } }>('POST', `/api/staff/outbox/${item.id}/retry`, {});
      assert.equal(retried.status, 200);
      assert.equal(retried.body.message.state, 'pending');
      await runNotify(ca.rt);
      assert.equal(received.length, 2);
      assert.ok(received[1]!.verified);
      assert.equal((JSON.parse(received[1]!.body) as { type: string }).type, 'certificate.renewed');
      const again = await staff.call('POST', `/api/staff/outbox/${item.id}/retry`, {});
      assert.equal(again.status, 404, 'only a dead message can be retried');
      await stopReceiver();
    });

    test('the SMS sandbox records a message', async () => {
      await writeTransaction(ca.rt.storage, (tx) =>
        enqueue(tx, { key: 'sms:test:1', channel: 'sms', recipient: '13800000000', payload: { body: '您的证书已签发' } }),
      );
      await runNotify(ca.rt);
      const sms = await sandboxSmsMessages(ca.rt.storage.db, '13800000000');
      assert.equal(sms.length, 1);
      assert.equal(sms[0]!.body, '您的证书已签发');
    });
    test('certdesk notify list and retry, certdesk holder contact', async () => {
      await writeTransaction(ca.rt.storage, (tx) =>
        enqueue(tx, { key: 'webhook:no-such-app:1', channel: 'webhook', recipient: 'no-such-app', payload: {} }),
      );
      for (let i = 0; i < 3; i++) await runNotify(ca.rt, Date.now() + 3600_000);
      const listed = cli(['notify', 'list', '--state', 'dead', '--json'], ca.env);
      assert.equal(listed.status, 0, listed.stderr);
      const rows = JSON.parse(listed.stdout) as { id: string; key: string; state: string; lastError: string }[];
      const row = rows.find((m) => m.key === 'webhook:no-such-app:1');
      assert.ok(row, 'the dead message is listed');
      assert.equal(row.state, 'dead');
      assert.match(row.lastError, /no-such-app/);
      const retried = cli(['notify', 'retry', row.id], ca.env);
      assert.equal(retried.status, 0, retried.stderr);
      const m = (await listMessages(ca.rt.storage.db)).find((x) => x.id === row.id)!;
      assert.equal(m.state, 'pending');
      assert.equal(m.attempts, 0);
      const again = cli(['notify', 'retry', row.id], ca.env);
      assert.notEqual(again.status, 0);
      assert.match(again.stderr, /no dead message/);
      assert.notEqual(cli(['notify', 'list', '--state', 'lost'], ca.env).status, 0);

      const cert = await issue('91110000CONTACT01X', '联系测试');
      const bad = cli(['holder', 'contact', '91110000CONTACT01X', '--email', 'not-an-address'], ca.env);
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /--email/);
      const set = cli(
        ['holder', 'contact', '91110000CONTACT01X', '--email', 'contact@example.test', '--phone', '13900000000'],
        ca.env,
      );
      assert.equal(set.status, 0, set.stderr);
      const h = await ca.rt.storage.db
        .selectFrom('holders')
        .selectAll()
        .where('id', '=', cert.holder_id!)
        .executeTakeFirstOrThrow();
      assert.equal(h.email, 'contact@example.test');
      assert.equal(h.phone, '13900000000');
      const unknown = cli(['holder', 'contact', '91110000NOBODY000X', '--email', 'a@example.test'], ca.env);
      assert.notEqual(unknown.status, 0);
      assert.match(unknown.stderr, /唯一识别号/);
    });
    test('staff set the reminder days', async () => {
      const admin = await loggedInStaff(ca.rt, base, new URL(ca.config.publicUrl).origin, ['admin']);
      const bad = await admin.call<{ field: string }>('PUT', '/api/staff/settings/reminder-days', { reminderDays: [0, 'x'] });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.field, 'reminderDays');
      const set = await admin.call<{ reminderDays: number[] }>('PUT', '/api/staff/settings/reminder-days', {
        reminderDays: [14, 45],
      });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      assert.deepEqual(set.body.reminderDays, [45, 14]);
      const cert = await issue('91110000DAYS0001X', '天数测试');
      await setHolderContact(ca.rt.storage.db, cert.holder_id!, { email: 'days@example.test' });
      const mine = async () =>
        (await listMessages(ca.rt.storage.db))
          .map((m) => m.idempotency_key)
          .filter((k) => k.startsWith(`reminder:${cert.serial}:`));
      await runNotify(ca.rt, cert.not_after - 50 * DAY);
      assert.deepEqual(await mine(), [], 'not before 45 days');
      await runNotify(ca.rt, cert.not_after - 44.5 * DAY);
      assert.deepEqual(await mine(), [`reminder:${cert.serial}:45`]);
      await admin.call('PUT', '/api/staff/settings/reminder-days', { reminderDays: [90, 60, 30, 7, 3] });
    });
  });
}
