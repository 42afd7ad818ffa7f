// "Subject contains" is one filter on both dialects and in both places that offer it (`certdesk ca
// list --subject`, the staff certificate search): a `%` or `_` typed matches itself, not any text,
// and case is ignored, on SQLite (no default LIKE escape, ASCII case ignored) as on PostgreSQL
// (backslash escape, case minded).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { searchCertificates } from '../src/sa/backoffice.js';
import { listCertificates } from '../src/sa/certificates.js';
import { openDatabase, type Storage } from '../src/sa/database.js';
import { BACKENDS } from './helpers/backends.js';
import { databaseFor } from './helpers/ca.js';

const SUBJECTS: Record<string, string> = {
  '01': 'CN=50% 折扣,O=Shop',
  '02': 'CN=500 units,O=Shop',
  '03': 'CN=a_b,O=Lab',
  '04': 'CN=aXb,O=Lab',
  '05': 'CN=Zhang San,O=上海测试',
  '06': 'CN=back\\slash,O=Lab',
  '07': 'CN=backXslash,O=Lab',
};

async function withCertificates(postgres: boolean, fn: (s: Storage) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'certdesk-text-match-'));
  const pg = await databaseFor(postgres);
  const storage = await openDatabase({ dataDir: dir, databaseUrl: pg.url });
  try {
    const now = Date.now();
    await sql`insert into cas (id, kind, name, cert_der, key_ref, key_type, not_before, not_after, active, created_at)
      values ('ca1', 'issuing', 'CA', ${Buffer.from([1])}, '{}', 'ec-p256', ${now}, ${now + 1}, 1, ${now})`.execute(storage.db);
    for (const [serial, subject] of Object.entries(SUBJECTS))
      await sql`insert into certificates (serial, ca_id, profile, subject, not_before, not_after, status, spki_sha256, der, issued_at)
        values (${serial}, 'ca1', 'org-identity', ${subject}, ${now}, ${now + 1}, 'valid', ${'h' + serial}, ${Buffer.from([2])}, ${now})`.execute(
        storage.db,
      );
    await fn(storage);
  } finally {
    await storage.close();
    await pg.drop?.();
    rmSync(dir, { recursive: true, force: true });
  }
}

const CASES: [typed: string, serials: string[]][] = [
  ['50%', ['01']],
  ['a_b', ['03']],
  ['zhang', ['05']],
  ['ZHANG SAN', ['05']],
  ['上海', ['05']],
  ['back\\slash', ['06']],
  ['50', ['01', '02']],
  ['o=lab', ['03', '04', '06', '07']],
];

for (const backend of BACKENDS) {
  describe(`subject contains (${backend.name})`, { skip: backend.skip }, () => {
    test('wildcards typed match themselves and case is ignored, in ca list and the staff search alike', async () => {
      await withCertificates(backend.postgres, async (s) => {
        for (const [typed, serials] of CASES) {
          const listed = (await listCertificates(s.db, { subject: typed })).map((c) => c.serial).sort();
          assert.deepEqual(listed, serials, `ca list --subject ${JSON.stringify(typed)}`);
          const found = await searchCertificates(s.db, { subject: typed, limit: 50, offset: 0 });
          assert.deepEqual(found.rows.map((c) => c.serial).sort(), serials, `staff search ${JSON.stringify(typed)}`);
          assert.equal(found.total, serials.length);
        }
      });
    });
  });
}
