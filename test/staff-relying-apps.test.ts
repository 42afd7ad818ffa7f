// 应用管理 through the staff API, on SQLite and PostgreSQL: an admin adds a relying application and
// gets its credential and webhook secrets once (never again in a view, never in the audit log; the
// credential is stored hashed), rotates them, and webhook URLs that are not http(s) or point at the
// CA itself are refused with the field named. Readers without catalogue.write cannot change them.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../src/api/server.js';
import type { RelyingAppView } from '../src/api/staff/shapes.js';
import { createTestCa, type TestCa } from './helpers/ca.js';
import { BACKENDS } from './helpers/backends.js';
import { freePort } from './helpers/holder.js';
import { loggedInStaff, type StaffClient } from './helpers/staff.js';

type Created = { app: RelyingAppView; credentialSecret: string; webhookSecret: string };

for (const backend of BACKENDS) {
  describe(`staff relying applications (${backend.name})`, { skip: backend.skip }, () => {
    let ca: TestCa;
    let app: FastifyInstance;
    let port: number;
    let admin: StaffClient;
    let auditor: StaffClient;
    let typeCode: string;

    before(async () => {
      port = await freePort();
      ca = await createTestCa({ postgres: backend.postgres, port });
      ({ app } = await buildServer(ca.rt, { logger: false }));
      await app.listen({ port, host: '127.0.0.1' });
      const base = `http://127.0.0.1:${port}`;
      const origin = new URL(ca.config.publicUrl).origin;
      admin = await loggedInStaff(ca.rt, base, origin, ['admin']);
      auditor = await loggedInStaff(ca.rt, base, origin, ['auditor']);
      typeCode = (await ca.rt.storage.db.selectFrom('certificate_types').select('code').executeTakeFirstOrThrow()).code;
    });
    after(async () => {
      await app?.close();
      await ca?.cleanup();
    });

    const input = (over: Record<string, unknown> = {}) => ({
      name: '电子税务局',
      nameEn: 'e-Tax',
      description: '网上办税',
      acceptedTypes: [typeCode],
      feePerYearFen: 5000,
      webhookUrl: 'https://tax.example.cn/certdesk/hook',
      ...over,
    });

    test('create shows the secrets once; the credential is stored hashed; rotation replaces it', async () => {
      const r = await admin.call<Created>('POST', '/api/staff/relying-apps', input());
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const { app: view, credentialSecret, webhookSecret } = r.body;
      assert.ok(credentialSecret.length >= 40 && webhookSecret.length >= 40);
      assert.match(view.credentialId, /^app_[0-9a-f]{24}$/);
      assert.equal(view.feePerYearFen, 5000);
      assert.deepEqual(view.acceptedTypes, [typeCode]);

      const row = await ca.rt.storage.db
        .selectFrom('relying_apps')
        .selectAll()
        .where('id', '=', view.id)
        .executeTakeFirstOrThrow();
      assert.equal(row.credential_hash, createHash('sha256').update(credentialSecret).digest('hex'));
      assert.notEqual(row.credential_hash, credentialSecret);
      assert.equal(row.webhook_secret, webhookSecret);

      const list = await auditor.call<{ items: RelyingAppView[] }>('GET', '/api/staff/relying-apps');
      assert.equal(list.status, 200);
      const listed = JSON.stringify(list.body);
      assert.ok(listed.includes(view.id));
      assert.ok(!listed.includes(credentialSecret) && !listed.includes(webhookSecret) && !listed.includes(row.credential_hash));

      const audit = await ca.rt.storage.db
        .selectFrom('audit_log')
        .select('details')
        .where('target', '=', `app:${view.id}`)
        .execute();
      assert.ok(audit.length >= 1);
      for (const a of audit)
        assert.ok(
          !a.details.includes(credentialSecret) && !a.details.includes(webhookSecret) && !a.details.includes(row.credential_hash),
        );

      const rot = await admin.call<{ credentialSecret: string }>('POST', `/api/staff/relying-apps/${view.id}/credential`);
      assert.equal(rot.status, 200);
      assert.notEqual(rot.body.credentialSecret, credentialSecret);
      const after = await ca.rt.storage.db
        .selectFrom('relying_apps')
        .selectAll()
        .where('id', '=', view.id)
        .executeTakeFirstOrThrow();
      assert.equal(after.credential_hash, createHash('sha256').update(rot.body.credentialSecret).digest('hex'));
      assert.equal(after.credential_id, row.credential_id);

      const ws = await admin.call<{ webhookSecret: string }>('POST', `/api/staff/relying-apps/${view.id}/webhook-secret`);
      assert.equal(ws.status, 200);
      assert.notEqual(ws.body.webhookSecret, webhookSecret);

      const upd = await admin.call<{ app: RelyingAppView }>(
        'PUT',
        `/api/staff/relying-apps/${view.id}`,
        input({ feePerYearFen: 0 }),
      );
      assert.equal(upd.status, 200, JSON.stringify(upd.body));
      assert.equal(upd.body.app.feePerYearFen, 0);
    });

    test('webhook URLs that are not http(s) or point at the CA itself are refused, naming the field', async () => {
      const pub = new URL(ca.config.publicUrl);
      const bad = [
        'ftp://tax.example.cn/hook',
        'file:///etc/passwd',
        'javascript:alert(1)',
        'not a url',
        `${pub.origin}/api/staff/relying-apps`,
        `http://127.0.0.1:${port}/api/portal/orders`,
        `http://localhost:${port}/`,
        `http://[::1]:${port}/`,
        `http://0.0.0.0:${port}/`,
        'https://user:pw@tax.example.cn/hook',
      ];
      for (const webhookUrl of bad) {
        const r = await admin.call<{ field: string; message: string }>('POST', '/api/staff/relying-apps', input({ webhookUrl }));
        assert.equal(r.status, 400, `${webhookUrl}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.field, 'webhookUrl', webhookUrl);
        assert.match(r.body.message, /webhookUrl/);
      }
      // Another port on loopback is a separate service (the relying app's own test receiver, say).
      const other = await admin.call(
        'POST',
        '/api/staff/relying-apps',
        input({ webhookUrl: `http://127.0.0.1:${port + 1}/hook` }),
      );
      assert.equal(other.status, 201, JSON.stringify(other.body));
    });

    test('bad fields are named; an auditor cannot add or rotate', async () => {
      for (const [over, field] of [
        [{ feePerYearFen: -1 }, 'feePerYearFen'],
        [{ feePerYearFen: 1.5 }, 'feePerYearFen'],
        [{ acceptedTypes: [] }, 'acceptedTypes'],
        [{ acceptedTypes: ['no-such-type'] }, 'acceptedTypes'],
        [{ name: '' }, 'name'],
      ] as const) {
        const r = await admin.call<{ field: string }>('POST', '/api/staff/relying-apps', input(over));
        assert.equal(r.status, 400, JSON.stringify(r.body));
        assert.equal(r.body.field, field);
      }
      assert.equal((await auditor.call('POST', '/api/staff/relying-apps', input())).status, 403);
      const some = (await auditor.call<{ items: RelyingAppView[] }>('GET', '/api/staff/relying-apps')).body.items[0]!;
      assert.equal((await auditor.call('POST', `/api/staff/relying-apps/${some.id}/credential`)).status, 403);
      assert.equal((await admin.call('PUT', '/api/staff/relying-apps/no-such-id', input())).status, 404);
    });
  });
}
