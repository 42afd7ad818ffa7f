// Fixed-window request counters in the database, so a limit holds across all instances behind the
// load balancer (an in-memory counter would let a client make N× the attempts with N instances).
import { sql } from 'kysely';
import { PreparedQuery } from './compiled.js';
import type { Executor } from './database.js';

/** Counts one hit for `key`; returns the hits in the current window and when that window ends. */
export async function countHit(
  db: Executor,
  key: string,
  windowMs: number,
  now: number,
): Promise<{ hits: number; resetAt: number }> {
  const [row] = await hit.execute(db, { key, windowMs, now });
  if (!row) throw new Error(`rate limit ${key}: the counter returned no row`);
  return { hits: Number(row.hits), resetAt: Number(row.window_start) + windowMs };
}

// One statement, atomic in both dialects: a new key or an expired window starts again at 1. Every
// login and payment notification counts a hit: compiled once.
const hit = new PreparedQuery(['key', 'windowMs', 'now'], (db, p) => {
  const expired = sql<boolean>`rate_limits.window_start + ${p.windowMs} <= ${p.now}`;
  return db
    .insertInto('rate_limits')
    .values({ key: p.key, window_start: p.now, hits: 1 })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({
        hits: sql<number>`case when ${expired} then 1 else rate_limits.hits + 1 end`,
        window_start: sql<number>`case when ${expired} then ${p.now} else rate_limits.window_start end`,
      }),
    )
    .returning(['hits', 'window_start']);
});

/** Drops counters whose window ended before `before`. */
export async function pruneRateLimits(db: Executor, before: number): Promise<void> {
  await db.deleteFrom('rate_limits').where('window_start', '<', before).execute();
}
