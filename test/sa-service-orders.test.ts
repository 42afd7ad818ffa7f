// Migration 0012 widens orders.kind for the holder's other services. On SQLite that rebuilds the
// orders table; the rows, their indexes and the foreign keys into it must all survive it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Migrator, sql } from 'kysely';
import { openDatabase } from '../src/sa/database.js';
import { migrationProvider } from '../src/sa/migrations.js';
import { checkDocument, decodeUpload, storeDocument } from '../src/ra/documents.js';
import { getDocument, getDocumentContent } from '../src/sa/documents.js';
import { RaError } from '../src/ra/errors.js';
import { BACKENDS } from './helpers/backends.js';
import { databaseFor } from './helpers/ca.js';

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

for (const backend of BACKENDS) {
  describe(`orders of every service kind (${backend.name})`, { skip: backend.skip }, () => {
    test('an order made before 0012 survives it; the new kinds are accepted, others refused', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'certdesk-0012-'));
      const pg = await databaseFor(backend.postgres);
      const storage = await openDatabase({ dataDir: dir, databaseUrl: pg.url, migrate: false });
      try {
        const migrator = new Migrator({ db: storage.db, provider: migrationProvider(storage.dialect) });
        const to11 = await migrator.migrateTo('0011_job_runs_rate_limits');
        assert.equal(to11.error, undefined);
        const db = storage.db;
        const now = Date.now();
        await sql`insert into cas (id, kind, name, cert_der, key_ref, key_type, not_before, not_after, active, created_at)
          values ('ca1', 'issuing', 'CA', ${Buffer.from([1])}, '{}', 'ec-p256', ${now}, ${now + 1}, 1, ${now})`.execute(db);
        await sql`insert into certificates (serial, ca_id, profile, subject, not_before, not_after, status, spki_sha256, der, issued_at)
          values ('0a', 'ca1', 'org-identity', 'CN=x', ${now}, ${now + 1}, 'valid', 'h', ${Buffer.from([2])}, ${now})`.execute(
          db,
        );
        await sql`insert into orders (id, kind, certificate_serial, type_code, type_name, type_name_en, organization, term_years,
            amount_fen, payment_method, recipient, phone, address, postcode, reference, state, created_at, updated_at, expires_at)
          values ('R1', 'renewal', '0a', 'org', '单位', 'Org', 'O', 1, 100, 'online', 'r', 'p', 'a', '200000', 'CDREF1', 'awaiting_payment',
            ${now}, ${now}, ${now + 1})`.execute(db);
        const latest = await migrator.migrateToLatest();
        assert.equal(latest.error, undefined);

        const rows = (await sql<{ id: string; kind: string }>`select id, kind from orders`.execute(db)).rows;
        assert.deepEqual(rows, [{ id: 'R1', kind: 'renewal' }]);
        const insert = (id: string, kind: string) =>
          sql`insert into orders (id, kind, certificate_serial, type_code, type_name, type_name_en, organization, term_years,
              amount_fen, payment_method, recipient, phone, address, postcode, reference, state, created_at, updated_at, expires_at)
            values (${id}, ${kind}, '0a', 'org', '单位', 'Org', 'O', 1, 100, 'online', 'r', 'p', 'a', '200000', ${'REF' + id},
              'awaiting_payment', ${now}, ${now}, ${now + 1})`.execute(db);
        for (const kind of ['upgrade', 'change', 'seal', 'app']) await insert(`X-${kind}`, kind);
        await assert.rejects(insert('X-bogus', 'bogus'), /check/i);
        // the foreign keys into orders still hold
        await assert.rejects(
          sql`insert into order_events (order_id, at, type, actor, detail) values ('nope', ${now}, 't', 'a', '{}')`.execute(db),
          /foreign key/i,
        );
        if (storage.dialect === 'sqlite') {
          const idx = (
            await sql<{
              name: string;
            }>`select name from sqlite_master where type = 'index' and tbl_name = 'orders' and sql is not null order by name`.execute(
              db,
            )
          ).rows.map((r) => r.name);
          assert.deepEqual(idx, [
            'orders_certificate',
            'orders_created',
            'orders_holder',
            'orders_issued_serial',
            'orders_method_state',
            'orders_state',
          ]);
          assert.equal((await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(db)).rows[0]?.foreign_keys, 1);
        }
      } finally {
        await storage.close();
        await pg.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test('a supporting document is checked by its content and kept with its hash', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'certdesk-docs-'));
      const pg = await databaseFor(backend.postgres);
      const storage = await openDatabase({ dataDir: dir, databaseUrl: pg.url });
      try {
        const wrong = { fileName: 'licence.pdf', content: Buffer.from('GIF89a....') };
        assert.throws(
          () => checkDocument(wrong, 'documents[0]'),
          (e: unknown) => e instanceof RaError && e.field === 'documents[0]' && /not a PDF, JPG or PNG/.test(e.message),
        );
        const big = { fileName: 'big.pdf', content: Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(5 * 1024 * 1024)]) };
        assert.throws(() => checkDocument(big, 'documents[1]'), /at most 5 MB/);
        assert.throws(() => decodeUpload({ fileName: 'a.png', contentBase64: '!!' }, 'picture'), /not base64/);
        const upload = decodeUpload({ fileName: 'scan.jpg.pdf', contentBase64: PNG.toString('base64') }, 'documents[0]');
        const rec = await storeDocument(storage.db, {
          holderId: null,
          purpose: 'change_request',
          upload,
          field: 'documents[0]',
          actor: 'holder:1',
        });
        assert.equal(rec.media_type, 'image/png', 'the content says PNG whatever the name says');
        assert.equal((await getDocument(storage.db, rec.id))?.sha256, rec.sha256);
        assert.deepEqual((await getDocumentContent(storage.db, rec.id))?.content, PNG);
        // evidence for a review: the database itself refuses to rewrite or remove it
        await assert.rejects(
          sql`update documents set content = ${Buffer.from('x')} where id = ${rec.id}`.execute(storage.db),
          /append-only/,
        );
        await assert.rejects(sql`delete from documents where id = ${rec.id}`.execute(storage.db), /append-only/);
        if (backend.name === 'postgres') await assert.rejects(sql`truncate documents cascade`.execute(storage.db), /append-only/);
        assert.deepEqual((await getDocumentContent(storage.db, rec.id))?.content, PNG);
      } finally {
        await storage.close();
        await pg.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
