// The audit log is append-only in the database itself, on SQLite and on PostgreSQL: an UPDATE or a
// DELETE of a row is refused by the triggers of src/sa/migrations.ts (and TRUNCATE on PostgreSQL,
// which row triggers do not see), whoever connects — not only through certdesk's own code.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { verifyAuditChain } from '../src/sa/audit.js';
import { BACKENDS } from './helpers/backends.js';
import { createTestCa, type TestCa } from './helpers/ca.js';

for (const backend of BACKENDS) {
  describe(`append-only audit log (${backend.name})`, { skip: backend.skip }, () => {
    let ca: TestCa;
    before(async () => {
      ca = await createTestCa({ postgres: backend.postgres });
    });
    after(async () => {
      await ca?.cleanup();
    });

    const rows = async (): Promise<unknown[]> => (await sql`select * from audit_log order by seq`.execute(ca.rt.storage.db)).rows;

    test('UPDATE and DELETE of any row are refused; the rows and the chain stay as they were', async () => {
      const db = ca.rt.storage.db;
      const before = await rows();
      assert.ok(before.length >= 3, 'the CA set-up wrote audit entries');
      const middle = Math.ceil(before.length / 2);
      await assert.rejects(sql`update audit_log set actor = 'mallory' where seq = ${middle}`.execute(db), /append-only/);
      await assert.rejects(sql`update audit_log set details = '{}'`.execute(db), /append-only/);
      await assert.rejects(sql`delete from audit_log where seq = ${middle}`.execute(db), /append-only/);
      await assert.rejects(sql`delete from audit_log`.execute(db), /append-only/);
      assert.deepEqual(await rows(), before);
      const chain = await verifyAuditChain(db);
      assert.equal(chain.ok, true);
      assert.equal(chain.entries, before.length);
    });

    if (backend.postgres) {
      test('TRUNCATE is refused too (PostgreSQL runs no row trigger for it)', async () => {
        const before = await rows();
        await assert.rejects(sql`truncate audit_log`.execute(ca.rt.storage.db), /append-only/);
        assert.deepEqual(await rows(), before);
      });
    }
  });
}
