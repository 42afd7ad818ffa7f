// Fixed-window request counters in the database, so a limit holds across all instances behind the
// load balancer (an in-memory counter would let a client make N× the attempts with N instances).
import { sql } from 'kysely';
import type { Executor } from './database.js';

/** Counts one hit for `key`; returns the hits in the current window and when that window ends. */
export async function countHit(
  db: Executor,
  key: string,
  windowMs: number,
  now: number,
): Promise<{ hits: number; resetAt: number }> {
  // One statement, atomic in both dialects: a new key or an expired window starts again at 1.
  const expired = sql<boolean>`rate_limits.window_start + ${windowMs} <= ${now}`;
  const row = await db
    .insertInto('rate_limits')
    .values({ key, window_start: now, hits: 1 })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({
        hits: sql<number>`case when ${expired} then 1 else rate_limits.hits + 1 end`,
        window_start: sql<number>`case when ${expired} then ${now} else rate_limits.window_start end`,
      }),
    )
    .returning(['hits', 'window_start'])
    .executeTakeFirstOrThrow();
  return { hits: Number(row.hits), resetAt: Number(row.window_start) + windowMs };
}

/** Drops counters whose window ended before `before`. */
export async function pruneRateLimits(db: Executor, before: number): Promise<void> {
  await db.deleteFrom('rate_limits').where('window_start', '<', before).execute();
}
