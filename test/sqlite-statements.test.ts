// The statement cache under Kysely's SQLite driver (src/sa/sqlite-statements.ts): a query text is
// prepared once and reused with fresh parameters, streams get their own statement (an open iterator
// keeps its statement busy), the cache stays bounded, and a schema change between uses is seen.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { cachingStatements } from '../src/sa/sqlite-statements.js';

interface T {
  t: { id: number; name: string };
}

function open(max?: number): { raw: BetterSqlite3.Database; db: Kysely<T>; prepared: () => number } {
  const raw = new BetterSqlite3(':memory:');
  let n = 0;
  const prepare = raw.prepare.bind(raw);
  raw.prepare = ((s: string) => {
    n++;
    return prepare(s);
  }) as typeof raw.prepare;
  const db = new Kysely<T>({ dialect: new SqliteDialect({ database: cachingStatements(raw, max) }) });
  return { raw, db, prepared: () => n };
}

test('a query text is prepared once and runs with each call’s parameters', async () => {
  const { db, prepared } = open();
  await sql`create table t (id integer primary key, name text not null)`.execute(db);
  for (let i = 1; i <= 5; i++)
    await db
      .insertInto('t')
      .values({ id: i, name: `n${i}` })
      .execute();
  const before = prepared();
  const names: string[] = [];
  for (let i = 1; i <= 5; i++)
    names.push((await db.selectFrom('t').select('name').where('id', '=', i).executeTakeFirstOrThrow()).name);
  assert.deepEqual(names, ['n1', 'n2', 'n3', 'n4', 'n5']);
  assert.equal(prepared() - before, 1, 'five runs of one query text prepare it once');
  const upd = await db.updateTable('t').set({ name: 'x' }).where('id', '>', 3).executeTakeFirst();
  assert.equal(upd.numUpdatedRows, 2n);
  await db.destroy();
});

test('a stream and a query of the same text inside it both work', () => {
  const raw = new BetterSqlite3(':memory:');
  raw.exec('create table t (id integer primary key); insert into t values (1), (2), (3)');
  const db = cachingStatements(raw);
  const text = 'select id from t order by id';
  db.prepare(text).all([]); // cached
  const seen: unknown[] = [];
  for (const row of db.prepare(text).iterate([])) {
    seen.push((row as { id: number }).id);
    // the same text while the iterator is open: only works when the stream has a statement of its own
    assert.equal(db.prepare(text).all([]).length, 3);
  }
  assert.deepEqual(seen, [1, 2, 3]);
  db.close();
});

test('the cache is bounded and a schema change between uses is seen', async () => {
  const { db, prepared } = open(2);
  await sql`create table t (id integer primary key, name text not null)`.execute(db);
  await db.insertInto('t').values({ id: 1, name: 'a' }).execute();
  const byId = () => db.selectFrom('t').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
  assert.deepEqual(await byId(), { id: 1, name: 'a' });
  await sql`alter table t add column extra text default 'e'`.execute(db);
  assert.deepEqual(await byId(), { id: 1, name: 'a', extra: 'e' }, 'select * after ALTER TABLE has the new column');
  // three other texts push the first out of a cache of two: it is prepared again
  for (const n of [2, 3, 4])
    await db
      .selectFrom('t')
      .selectAll()
      .where(
        'id',
        'in',
        Array.from({ length: n }, (_, i) => i),
      )
      .execute();
  const before = prepared();
  await byId();
  assert.equal(prepared() - before, 1, 'the evicted text is prepared anew');
  await db.destroy();
});
