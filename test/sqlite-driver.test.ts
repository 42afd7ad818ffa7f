// The embedded database's two connections (src/sa/sqlite-driver.ts): a write transaction that waits
// for the write lock held by another connection (another worker, the CLI) waits on a timer, not
// inside SQLite on the event loop, and reads outside transactions neither wait for it nor for an
// open transaction of this process; they see committed rows only.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { PreparedQuery } from '../src/sa/compiled.js';
import { openDatabase, writeTransaction, type Storage } from '../src/sa/database.js';

let dir: string;
let storage: Storage;
/** a connection of its own to the same file, as another process would have */
let other: BetterSqlite3.Database;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'certdesk-driver-'));
  storage = await openDatabase({ dataDir: dir });
  await sql`create table notes (n integer not null)`.execute(storage.db);
  other = new BetterSqlite3(path.join(dir, 'certdesk.sqlite'));
});
after(async () => {
  other.close();
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the table is made by the test, not in the schema
const notes = () => (storage.db as any).selectFrom('notes').select('n').orderBy('n').execute() as Promise<{ n: number }[]>;

/** `p`, or a failure naming `what` after `ms`: a read that waits for a transaction it runs inside would never end. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Watches the event loop from now on; the function returned stops and gives its longest stall, in ms. */
function watchStalls(): () => number {
  let last = performance.now();
  let longest = 0;
  const ticker = setInterval(() => {
    const t = performance.now();
    longest = Math.max(longest, t - last);
    last = t;
  }, 5);
  return () => {
    clearInterval(ticker);
    return longest;
  };
}

test('a write transaction waits for a lock another connection holds without stopping the event loop; reads go on meanwhile', async () => {
  other.exec('begin immediate');
  other.exec('insert into notes (n) values (1)');
  const heldMs = 400;
  // the event loop's longest stall while the write waits
  const stalls = watchStalls();
  const t0 = performance.now();
  const write = writeTransaction(storage, async (tx) => {
    await sql`insert into notes (n) values (2)`.execute(tx);
    return performance.now() - t0;
  });
  // a read while the write waits for the lock: answered at once, with committed rows only
  await new Promise((r) => setTimeout(r, 50));
  const r0 = performance.now();
  assert.deepEqual(await notes(), [], 'neither the other connection’s nor the waiting transaction’s row is committed');
  assert.ok(performance.now() - r0 < heldMs / 2, 'the read did not wait for the write lock');
  setTimeout(() => other.exec('commit'), heldMs - 50);
  const waitedMs = await write;
  const longestGap = stalls();
  assert.ok(waitedMs >= heldMs - 60, `the transaction ran only once the lock was free (after ${waitedMs.toFixed(0)} ms)`);
  assert.ok(longestGap < heldMs / 2, `the event loop stalled for ${longestGap.toFixed(0)} ms while the write waited`);
  assert.deepEqual(await notes(), [{ n: 1 }, { n: 2 }]);
});

test('a read outside a transaction does not wait for this process’s open transaction, and does not see its rows', async () => {
  let inside: { n: number }[] = [];
  let outside: { n: number }[] | undefined;
  await storage.db.transaction().execute(async (tx) => {
    await sql`insert into notes (n) values (3)`.execute(tx);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
    inside = await (tx as any).selectFrom('notes').select('n').orderBy('n').execute();
    // the transaction stays open until this read (on the other connection) has answered
    outside = await within(notes(), 2000, 'the read waited for the transaction');
  });
  assert.deepEqual(inside, [{ n: 1 }, { n: 2 }, { n: 3 }], 'inside, the transaction sees its own row');
  assert.deepEqual(outside, [{ n: 1 }, { n: 2 }], 'outside, only committed rows');
  assert.deepEqual(await notes(), [{ n: 1 }, { n: 2 }, { n: 3 }], 'after COMMIT, every read sees it');
});

test('a PreparedQuery read is a plain read too: it goes to the reader', async () => {
  const atLeast = new PreparedQuery(['n'], (db, p: { n: never }) =>
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
    (db as any).selectFrom('notes').select('n').where('n', '>=', p.n).orderBy('n'),
  );
  let outside: unknown[] = [];
  await storage.db.transaction().execute(async (tx) => {
    await sql`insert into notes (n) values (5)`.execute(tx);
    // on the writer it would wait for this very transaction
    outside = await within(atLeast.execute(storage.db, { n: 3 }), 2000, 'the read waited for the transaction');
    assert.deepEqual(await atLeast.execute(tx, { n: 3 }), [{ n: 3 }, { n: 5 }], 'inside: on the writer');
  });
  assert.deepEqual(outside, [{ n: 3 }], 'outside: committed rows only, without waiting for the transaction');
});

test('a write outside a transaction also waits for the lock on a timer', async () => {
  other.exec('begin immediate');
  const stalls = watchStalls();
  const t0 = performance.now();
  // autocommit, no BEGIN of ours; the other connection's ROLLBACK runs on this same event loop, so a
  // wait inside SQLite would never see it
  const write = sql`insert into notes (n) values (6)`.execute(storage.db).then(() => performance.now() - t0);
  setTimeout(() => other.exec('rollback'), 300);
  const waitedMs = await write;
  const longestGap = stalls();
  assert.ok(waitedMs >= 250, `the write ran only once the lock was free (after ${waitedMs.toFixed(0)} ms)`);
  assert.ok(longestGap < 150, `the event loop stalled for ${longestGap.toFixed(0)} ms while the write waited`);
  assert.deepEqual((await notes()).at(-1), { n: 6 });
});
