// @fastify/rate-limit's store on the database (src/sa/rate-limits.ts): per-route, per-client
// counters every instance behind the load balancer shares. Fixed windows, as the built-in store.
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import { groupedWrite, type Storage } from '../sa/database.js';
import { countHit, pruneRateLimits } from '../sa/rate-limits.js';

/** How often one instance drops counters whose window is long over. */
const PRUNE_EVERY_MS = 10 * 60_000;

export function databaseRateLimitStore(storage: Storage): FastifyRateLimitStoreCtor {
  let lastPrune = Date.now();
  class DatabaseRateLimitStore implements FastifyRateLimitStore {
    constructor(
      _options?: unknown,
      private readonly prefix = '',
    ) {}

    incr(
      key: string,
      callback: (error: Error | null, result?: { current: number; ttl: number }) => void,
      timeWindow?: number,
    ): void {
      const windowMs = timeWindow ?? 60_000;
      const now = Date.now();
      groupedWrite(storage, (db) => countHit(db, `${this.prefix}${key}`, windowMs, now)).then(
        ({ hits, resetAt }) => callback(null, { current: hits, ttl: Math.max(0, resetAt - now) }),
        (e: unknown) => callback(e as Error),
      );
      if (now - lastPrune > PRUNE_EVERY_MS) {
        lastPrune = now;
        // windows here are minutes; anything a day old is over
        void pruneRateLimits(storage.db, now - 86_400_000).catch(() => {});
      }
    }

    child(routeOptions: { routeInfo?: { method?: string; url?: string }; path?: string }): FastifyRateLimitStore {
      const route = routeOptions.routeInfo ? `${routeOptions.routeInfo.method} ${routeOptions.routeInfo.url}` : routeOptions.path;
      return new DatabaseRateLimitStore(undefined, `${this.prefix}${route ?? ''}|`);
    }
  }
  return DatabaseRateLimitStore;
}
