// Kysely's SQLite driver prepares every query afresh; better-sqlite3's prepare costs more than most of
// our queries take to run (~40 µs each, thousands per second under load). This hands the driver a
// database whose prepare() reuses statements by SQL text. Kysely only calls all()/run() (synchronous,
// under its one-connection mutex, so a cached statement is never in use twice at once) and iterate()
// for streams, which gets a statement of its own because an open iterator keeps its statement busy.
import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/** Distinct SQL texts kept; `IN (?, ?, …)` lists make one text per length, so the cache is bounded. */
const MAX_STATEMENTS = 512;

export function cachingStatements(db: BetterSqlite3.Database, max = MAX_STATEMENTS): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      const hit = cache.get(sql);
      if (hit) {
        // most recently used last, so the oldest is evicted first
        cache.delete(sql);
        cache.set(sql, hit);
        return hit;
      }
      const stmt = db.prepare(sql);
      const reusable: SqliteStatement = {
        reader: stmt.reader,
        all: (parameters) => stmt.all(parameters as unknown[]),
        run: (parameters) => stmt.run(parameters as unknown[]),
        iterate: (parameters) => db.prepare(sql).iterate(parameters as unknown[]),
      };
      cache.set(sql, reusable);
      if (cache.size > max) cache.delete(cache.keys().next().value!);
      return reusable;
    },
  };
}
