// The SQLite writer connection goes to its waiters in turn (src/sa/connection-queue.ts): no two users
// at once, nobody cuts in, and a long line drains.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { ConnectionQueue } from '../src/sa/connection-queue.js';
import { openDatabase, type Storage } from '../src/sa/database.js';

test('the queue hands over in arrival order, and a late arrival waits behind those already waiting', async () => {
  const q = new ConnectionQueue();
  const got: string[] = [];
  await q.acquire();
  const a = q.acquire().then(() => got.push('a'));
  const b = q.acquire().then(() => got.push('b'));
  q.release(); // to a
  // arrives after the release but before a has run: must not take the connection ahead of b
  const c = q.acquire().then(() => got.push('c'));
  await a;
  assert.deepEqual(got, ['a']);
  q.release(); // to b
  await b;
  q.release(); // to c
  await c;
  assert.deepEqual(got, ['a', 'b', 'c']);
  q.release();
  // free again: the next acquire does not wait
  let immediate = false;
  const d = q.acquire().then(() => (immediate = true));
  await d;
  assert.equal(immediate, true);
});

let dir: string;
let storage: Storage;
before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'certdesk-queue-'));
  storage = await openDatabase({ dataDir: dir });
  await sql`create table counter (n integer not null)`.execute(storage.db);
  await sql`insert into counter (n) values (0)`.execute(storage.db);
});
after(async () => {
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

test('through Kysely: 200 transactions that yield between read and write, amid reads, run one at a time and in order', async () => {
  const started: number[] = [];
  const txs = Array.from({ length: 200 }, (_, i) =>
    storage.db.transaction().execute(async (tx) => {
      started.push(i);
      const { rows } = await sql<{ n: number }>`select n from counter`.execute(tx);
      await new Promise((r) => setImmediate(r)); // others run meanwhile; none may use the connection
      await sql`update counter set n = ${rows[0]!.n + 1}`.execute(tx);
    }),
  );
  const reads = Array.from({ length: 200 }, () => sql<{ n: number }>`select n from counter`.execute(storage.db));
  await Promise.all([...txs, ...reads]);
  const { rows } = await sql<{ n: number }>`select n from counter`.execute(storage.db);
  assert.equal(rows[0]!.n, 200, 'no lost update: no two transactions held the connection at once');
  assert.deepEqual(
    started,
    Array.from({ length: 200 }, (_, i) => i),
    'first come, first served',
  );
});
