// Holder sessions and one-time login challenges, in the database so any instance can serve them.
import type { Selectable } from 'kysely';
import { PreparedQuery } from './compiled.js';
import type { Executor } from './database.js';
import type { PortalSessionTable } from './schema.js';

export type PortalSession = Selectable<PortalSessionTable>;

/** Records an issued challenge: its nonce, the origin it is for and the SHA-256 of its exact text. */
export async function insertChallenge(
  db: Executor,
  c: { nonce: string; origin: string; textSha256: string; expiresAt: number },
): Promise<void> {
  await db
    .insertInto('login_challenges')
    .values({ nonce: c.nonce, origin: c.origin, text_sha256: c.textSha256, expires_at: c.expiresAt, used_at: null })
    .execute();
}

/**
 * Marks a challenge used; true only for the first use of an unexpired challenge presented from the
 * origin it was issued to, with exactly the text issued (same SHA-256: no field changed).
 */
export async function consumeChallenge(
  db: Executor,
  c: { nonce: string; origin: string; textSha256: string; now: number },
): Promise<boolean> {
  const r = await db
    .updateTable('login_challenges')
    .set({ used_at: c.now })
    .where('nonce', '=', c.nonce)
    .where('origin', '=', c.origin)
    .where('text_sha256', '=', c.textSha256)
    .where('used_at', 'is', null)
    .where('expires_at', '>=', c.now)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function purgeChallenges(db: Executor, before: number): Promise<void> {
  await db.deleteFrom('login_challenges').where('expires_at', '<', before).execute();
}

export async function insertSession(db: Executor, s: PortalSession): Promise<void> {
  await db.insertInto('portal_sessions').values(s).execute();
}

const liveSession = new PreparedQuery(['id'], (db, p) =>
  db.selectFrom('portal_sessions').selectAll().where('id', '=', p.id).where('ended_at', 'is', null),
);

export async function getSession(db: Executor, id: string): Promise<PortalSession | undefined> {
  return liveSession.first(db, { id });
}

export async function touchSession(db: Executor, id: string, now: number): Promise<void> {
  await db.updateTable('portal_sessions').set({ last_seen_at: now }).where('id', '=', id).execute();
}

export async function endSession(db: Executor, id: string, now: number): Promise<void> {
  await db.updateTable('portal_sessions').set({ ended_at: now }).where('id', '=', id).where('ended_at', 'is', null).execute();
}
