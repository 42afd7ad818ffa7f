// Write transactions waiting together share one COMMIT (src/sa/group-commit.ts, through
// writeTransaction; SQLite here, and PostgreSQL in the last test): each runs in its own savepoint, one that fails leaves no trace and does not
// fail the others, a caller is answered only once its work is committed, and the audit chain stays
// linear however many append at once.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { appendAudit, verifyAuditChain } from '../src/sa/audit.js';
import { sql } from 'kysely';
import { openDatabase, tryInSavepoint, writeTransaction, type Storage } from '../src/sa/database.js';
import { databaseFor } from './helpers/ca.js';
import { requireTool } from './helpers/requirements.js';

let dir: string;
let storage: Storage;
let commits = 0;

before(async () => {
  // count the COMMITs run (statements are prepared once and cached, so wrap them where they are made)
  const prepare = BetterSqlite3.prototype.prepare;
  BetterSqlite3.prototype.prepare = function (this: BetterSqlite3.Database, s: string) {
    const st = prepare.call(this, s);
    if (/^commit$/i.test(s.trim())) {
      const run = st.run.bind(st) as (...a: unknown[]) => BetterSqlite3.RunResult;
      st.run = ((...a: unknown[]) => {
        commits++;
        return run(...a);
      }) as typeof st.run;
    }
    return st;
  } as typeof prepare;
  dir = mkdtempSync(path.join(tmpdir(), 'certdesk-group-'));
  storage = await openDatabase({ dataDir: dir });
});

after(async () => {
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

const audit = (action: string, target: string) =>
  writeTransaction(storage, async (tx) => {
    const [row] = await appendAudit(tx, [{ actor: 'test', action, target }]);
    return row!.seq;
  });

test('concurrent transactions share commits; each is answered with its own result, the chain stays linear', async () => {
  const c0 = commits;
  const seqs = await Promise.all(Array.from({ length: 50 }, (_, i) => audit('group.append', `t${i}`)));
  assert.equal(new Set(seqs).size, 50, 'every append got its own seq');
  assert.ok(commits - c0 < 50, `50 transactions in fewer commits (${commits - c0})`);
  const v = await verifyAuditChain(storage.db);
  assert.equal(v.ok, true);
});

test('a failing transaction is rolled back alone and gets its own error; the others commit', async () => {
  const before = await storage.db
    .selectFrom('audit_log')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  const results = await Promise.allSettled([
    audit('group.ok', 'a'),
    writeTransaction(storage, async (tx) => {
      await appendAudit(tx, [{ actor: 'test', action: 'group.doomed', target: 'b' }]);
      throw new Error('refused after writing');
    }),
    audit('group.ok', 'c'),
  ]);
  assert.equal(results[0].status, 'fulfilled');
  assert.equal(results[2].status, 'fulfilled');
  assert.equal(results[1].status, 'rejected');
  assert.match(String((results[1] as PromiseRejectedResult).reason), /refused after writing/);
  const rows = await storage.db.selectFrom('audit_log').select(['action', 'target']).where('action', 'like', 'group.%').execute();
  assert.ok(!rows.some((r) => r.action === 'group.doomed'), 'nothing of the failed transaction remains');
  const after = await storage.db
    .selectFrom('audit_log')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  assert.equal(Number(after.n) - Number(before.n), 2);
  assert.equal((await verifyAuditChain(storage.db)).ok, true);
});

test('an append undone by a rollback to a savepoint is not the head the next append chains to', async () => {
  // appendAudit keeps the head a transaction wrote, to skip reading it back; a part rolled back
  // (tryInSavepoint, as a revocation's CRL does) must not leave it pointing at a row that is gone
  const seqs = await writeTransaction(storage, async (tx) => {
    const [a] = await appendAudit(tx, [{ actor: 'test', action: 'part.kept', target: 'a' }]);
    const part = await tryInSavepoint(tx, async () => {
      await appendAudit(tx, [{ actor: 'test', action: 'part.undone', target: 'b' }]);
      throw new Error('this part fails');
    });
    assert.ok('error' in part);
    const [c] = await appendAudit(tx, [{ actor: 'test', action: 'part.kept', target: 'c' }]);
    return [a!.seq, c!.seq];
  });
  assert.equal(seqs[1], seqs[0]! + 1, 'the next seq follows the kept entry');
  const rows = await storage.db.selectFrom('audit_log').select('action').where('action', 'like', 'part.%').execute();
  assert.deepEqual(
    rows.map((r) => r.action),
    ['part.kept', 'part.kept'],
  );
  assert.equal((await verifyAuditChain(storage.db)).ok, true);
});

test('a resolved transaction is already durable: another connection sees it at once', async () => {
  const seq = await audit('group.durable', 'd');
  const other = new BetterSqlite3(path.join(dir, 'certdesk.sqlite'), { readonly: true });
  try {
    const row = other.prepare('select action from audit_log where seq = ?').get(seq) as { action: string } | undefined;
    assert.equal(row?.action, 'group.durable');
  } finally {
    other.close();
  }
});

test(
  'on PostgreSQL, where one round trip releases a member and opens the next: a failing member leaves no trace, the others commit',
  { skip: requireTool('postgres') },
  async () => {
    const database = await databaseFor(true);
    const pgDir = mkdtempSync(path.join(tmpdir(), 'certdesk-group-pg-'));
    const pgStorage = await openDatabase({ dataDir: pgDir, databaseUrl: database.url });
    try {
      const append = (target: string, fail?: 'after-writing' | 'statement') =>
        writeTransaction(pgStorage, async (tx) => {
          const [row] = await appendAudit(tx, [{ actor: 'test', action: fail ? 'pg.doomed' : 'pg.ok', target }]);
          // a failed statement aborts a PostgreSQL transaction until it is rolled back to a savepoint
          if (fail === 'statement') await sql`select 1/0`.execute(tx);
          if (fail) throw new Error(`refused ${target}`);
          return row!.seq;
        });
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => append(`m${i}`, i === 3 ? 'after-writing' : i === 7 ? 'statement' : undefined)),
      );
      assert.deepEqual(
        results.map((r) => r.status),
        results.map((_r, i) => (i === 3 || i === 7 ? 'rejected' : 'fulfilled')),
      );
      assert.match(String((results[7] as PromiseRejectedResult).reason), /division by zero/);
      const rows = await pgStorage.db.selectFrom('audit_log').select(['action', 'target']).orderBy('seq').execute();
      assert.deepEqual(
        rows.filter((r) => r.action.startsWith('pg.')).map((r) => r.target),
        ['m0', 'm1', 'm2', 'm4', 'm5', 'm6', 'm8', 'm9', 'm10', 'm11'],
      );
      assert.equal((await verifyAuditChain(pgStorage.db)).ok, true);
    } finally {
      await pgStorage.close();
      await database.drop();
      rmSync(pgDir, { recursive: true, force: true });
    }
  },
);
