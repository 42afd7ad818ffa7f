// The audit log is append-only in the database itself, on SQLite and on PostgreSQL: an UPDATE or a
// DELETE of a row is refused by the triggers of src/sa/migrations.ts (and TRUNCATE on PostgreSQL,
// which row triggers do not see), whoever connects — not only through certdesk's own code. The same
// holds for the record of every issued certificate: never deleted, its bytes never changed, and
// revocation final.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { verifyAuditChain } from '../src/sa/audit.js';
import { getCertificate } from '../src/sa/certificates.js';
import { BACKENDS } from './helpers/backends.js';
import { createTestCa, opensslCsr, type TestCa } from './helpers/ca.js';

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

    test('an issued certificate is never deleted nor rewritten, and its revocation is final', async () => {
      const db = ca.rt.storage.db;
      const { csr } = opensslCsr(ca.dir, '/CN=企业测试/O=企业测试/C=CN');
      const issued = await ca.rt.ca.issue({ csr, profileId: 'org-identity', uniqueId: '001120438184130111', actor: 'test' });
      const serial = issued.record.serial;
      const certRow = async (): Promise<unknown> =>
        (await sql`select * from certificates where serial = ${serial}`.execute(db)).rows[0];
      const kept = await certRow();
      await assert.rejects(sql`delete from certificates where serial = ${serial}`.execute(db), /certificates are kept/);
      await assert.rejects(sql`delete from certificates`.execute(db), /certificates are kept/);
      await assert.rejects(
        sql`update certificates set der = ${Buffer.from('forged')} where serial = ${serial}`.execute(db),
        /cannot change/,
      );
      await assert.rejects(sql`update certificates set serial = 'ab' where serial = ${serial}`.execute(db), /cannot change/);
      await assert.rejects(
        sql`update certificates set order_id = 'R-OTHER' where serial = ${serial}`.execute(db),
        /cannot change/,
      );
      if (backend.postgres) await assert.rejects(sql`truncate certificates cascade`.execute(db), /certificates are kept/);
      assert.deepEqual(await certRow(), kept);
      // revocation goes through, un-revoking does not
      await ca.rt.ca.revoke(serial, 'keyCompromise', 'test');
      await assert.rejects(
        sql`update certificates set status = 'valid', revoked_at = null, revocation_reason = null where serial = ${serial}`.execute(
          db,
        ),
        /revocation is final/,
      );
      assert.equal((await getCertificate(db, serial))?.status, 'revoked');
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
