// PreparedQuery (src/sa/compiled.ts): hot queries built and compiled once per dialect, run with fresh
// values. It must give what the Kysely builder gives, keep the builder's own constants, refuse a
// builder that changes a parameter on its way into the SQL, and transitionOrder (built on it) must
// still be a conditional update that happens once and sets only the columns it is given.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { PreparedQuery } from '../src/sa/compiled.js';
import { openDatabase, writeTransaction, type Storage } from '../src/sa/database.js';
import { getOrder, transitionOrder } from '../src/sa/orders.js';
import { BACKENDS } from './helpers/backends.js';
import { databaseFor } from './helpers/ca.js';

async function withStorage(postgres: boolean, fn: (s: Storage) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'certdesk-prepared-'));
  const pg = await databaseFor(postgres);
  const storage = await openDatabase({ dataDir: dir, databaseUrl: pg.url });
  try {
    await fn(storage);
  } finally {
    await storage.close();
    await pg.drop?.();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function seedOrders(s: Storage): Promise<void> {
  const now = Date.now();
  await sql`insert into cas (id, kind, name, cert_der, key_ref, key_type, not_before, not_after, active, created_at)
    values ('ca1', 'issuing', 'CA', ${Buffer.from([1])}, '{}', 'ec-p256', ${now}, ${now + 1}, 1, ${now})`.execute(s.db);
  await sql`insert into certificates (serial, ca_id, profile, subject, not_before, not_after, status, spki_sha256, der, issued_at)
    values ('0a', 'ca1', 'org-identity', 'CN=x', ${now}, ${now + 1}, 'valid', 'h', ${Buffer.from([2])}, ${now})`.execute(s.db);
  for (const [id, state] of [
    ['R1', 'awaiting_payment'],
    ['R2', 'paid'],
    ['R3', 'issued'],
  ] as const)
    await sql`insert into orders (id, kind, certificate_serial, type_code, type_name, type_name_en, organization, term_years,
        amount_fen, payment_method, recipient, phone, address, postcode, reference, state, created_at, updated_at, expires_at)
      values (${id}, 'renewal', '0a', 'org', '单位', 'Org', 'O', 1, 100, 'online', 'r', 'p', 'a', '200000', ${'REF' + id},
        ${state}, ${now}, ${now}, ${now + 1})`.execute(s.db);
}

for (const backend of BACKENDS) {
  describe(`PreparedQuery (${backend.name})`, { skip: backend.skip }, () => {
    test('gives the builder’s rows for each call’s values and keeps the builder’s constants', async () => {
      await withStorage(backend.postgres, async (s) => {
        await seedOrders(s);
        const q = new PreparedQuery(['serial'], (db, p) =>
          db
            .selectFrom('orders')
            .select(['id', 'state'])
            .where('certificate_serial', '=', p.serial)
            .where('state', 'in', ['paid', 'issued'])
            .orderBy('id'),
        );
        const direct = await s.db
          .selectFrom('orders')
          .select(['id', 'state'])
          .where('certificate_serial', '=', '0a')
          .where('state', 'in', ['paid', 'issued'])
          .orderBy('id')
          .execute();
        assert.deepEqual(await q.execute(s.db, { serial: '0a' }), direct);
        assert.deepEqual(
          direct.map((r) => r.id),
          ['R2', 'R3'],
        );
        assert.deepEqual(await q.execute(s.db, { serial: '0b' }), [], 'another value, another answer');
        // inside a transaction too (the same compiled SQL, the transaction's connection)
        const inTx = await writeTransaction(s, (tx) => q.first(tx, { serial: '0a' }));
        assert.deepEqual(inTx, { id: 'R2', state: 'paid' });
      });
    });

    test('a builder that changes a parameter is refused, naming it', async () => {
      await withStorage(backend.postgres, async (s) => {
        const q = new PreparedQuery(['id'], (db, p) =>
          db
            .selectFrom('orders')
            .selectAll()
            .where('id', '=', String(p.id).toUpperCase() as never),
        );
        await assert.rejects(q.execute(s.db, { id: 'r1' }), /parameter id did not reach the SQL as given/);
      });
    });

    test('transitionOrder: once from the given states, only the columns it is given', async () => {
      await withStorage(backend.postgres, async (s) => {
        await seedOrders(s);
        await sql`update orders set issued_serial = '0a' where id = 'R1'`.execute(s.db);
        const before = (await getOrder(s.db, 'R1'))!;
        assert.equal(before.issued_serial, '0a');
        assert.equal(
          await transitionOrder(s.db, 'R1', ['awaiting_payment'], 'paid', { paid_at: 1234, issued_serial: undefined }),
          true,
        );
        assert.equal(await transitionOrder(s.db, 'R1', ['awaiting_payment'], 'paid', { paid_at: 9999 }), false, 'only once');
        const after = (await getOrder(s.db, 'R1'))!;
        assert.equal(after.state, 'paid');
        assert.equal(Number(after.paid_at), 1234, 'the second, refused transition changed nothing');
        assert.equal(after.issued_serial, before.issued_serial, 'an undefined value leaves its column alone');
        assert.ok(Number(after.updated_at) >= Number(before.updated_at));
        // the same call site shape with another order, and another from-list on a state it does not name
        assert.equal(await transitionOrder(s.db, 'R2', ['awaiting_payment'], 'cancelled'), false);
        assert.equal(await transitionOrder(s.db, 'R2', ['paid', 'issuing'], 'issuing'), true);
        assert.equal((await getOrder(s.db, 'R2'))!.state, 'issuing');
        assert.equal((await getOrder(s.db, 'R3'))!.state, 'issued', 'other orders untouched');
      });
    });
  });
}
