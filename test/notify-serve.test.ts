// The notify job in `certdesk serve` (SQLite and PostgreSQL): a webhook committed to the outbox while
// its receiver is down is attempted by the server's job, the server is killed with SIGKILL, and
// after the receiver is back and the server restarted the message is delivered, once.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { listMessages } from '../src/notify/outbox.js';
import { enqueueCertificateEvent } from '../src/notify/webhooks.js';
import { writeTransaction } from '../src/sa/database.js';
import { enableFor, insertHookApp } from './helpers/relying-apps.js';
import { BACKENDS } from './helpers/backends.js';
import { createTestCa, opensslCsr, type TestCa } from './helpers/ca.js';
import { BUILT_CLI, eventually, freePort, run, type Running } from './helpers/processes.js';

for (const backend of BACKENDS) {
  describe(`notify job in certdesk serve (${backend.name})`, { skip: backend.skip }, () => {
    let ca: TestCa;
    let serve: Running | undefined;
    let hook: Server | undefined;
    after(async () => {
      await serve?.stop();
      await new Promise<void>((r) => (hook ? hook.close(() => r()) : r()));
      await ca?.cleanup();
    });
    before(async () => {
      ca = await createTestCa({ postgres: backend.postgres, port: await freePort() });
    });

    test('kill -9 between commit and delivery: delivered after the restart, once', async () => {
      const port = await freePort();
      const hookPort = await freePort();
      await insertHookApp(ca.rt.storage.db, 'app-serve', `http://127.0.0.1:${hookPort}/hook`, 'whsec-serve');
      const { csr } = opensslCsr(ca.dir, '/CN=重启测试/O=重启测试/C=CN');
      const cert = (await ca.rt.ca.issue({ csr, profileId: 'org-identity', uniqueId: '91110000RESTART01X', actor: 'test' }))
        .record;
      await enableFor(ca.rt.storage.db, 'app-serve', cert.holder_id!);
      await writeTransaction(ca.rt.storage, (tx) =>
        enqueueCertificateEvent(tx, 'certificate.revoked', `revoked:${cert.serial}`, cert),
      );
      const message = async () => (await listMessages(ca.rt.storage.db)).find((m) => m.recipient === 'app-serve')!;
      assert.equal((await message()).state, 'pending');

      const env = { ...ca.env, PORT: String(port), JOB_INTERVAL_SECONDS: '1', NOTIFY_BACKOFF_SECONDS: '1' };
      serve = run(process.execPath, [BUILT_CLI, 'serve'], { env });
      await serve.waitFor(/certdesk is serving/, 'serve started');
      assert.ok(await eventually(async () => (await message()).attempts >= 1), 'the server job attempted it');
      serve.proc.kill('SIGKILL');
      await serve.exited;
      serve = undefined;
      const left = await message();
      assert.equal(left.state, 'pending');
      // killed mid-attempt (a window of milliseconds), the message is under the dead process's
      // 5-minute lease and a restart would wait that long: shorten the wait, not the behaviour
      if (left.next_attempt_at - Date.now() > 60_000)
        await ca.rt.storage.db.updateTable('outbox').set({ next_attempt_at: Date.now() }).where('id', '=', left.id).execute();

      const received: string[] = [];
      hook = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          received.push(Buffer.concat(chunks).toString('utf8'));
          res.writeHead(204).end();
        });
      });
      await new Promise<void>((r) => hook!.listen(hookPort, '127.0.0.1', r));
      serve = run(process.execPath, [BUILT_CLI, 'serve'], { env });
      await serve.waitFor(/certdesk is serving/, 'serve restarted');
      assert.ok(await eventually(async () => (await message()).state === 'sent', 30_000), 'delivered after the restart');
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(received.length, 1);
      assert.equal((JSON.parse(received[0]!) as { data: { serial: string } }).data.serial, cert.serial);
    });
  });
}
