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
  await challengeInsert.run(db, c);
}

// every login runs these: compiled once
const challengeInsert = new PreparedQuery(['nonce', 'origin', 'textSha256', 'expiresAt'], (db, p) =>
  db
    .insertInto('login_challenges')
    .values({ nonce: p.nonce, origin: p.origin, text_sha256: p.textSha256, expires_at: p.expiresAt, used_at: null }),
);
const challengeConsume = new PreparedQuery(['nonce', 'origin', 'textSha256', 'now'], (db, p) =>
  db
    .updateTable('login_challenges')
    .set({ used_at: p.now })
    .where('nonce', '=', p.nonce)
    .where('origin', '=', p.origin)
    .where('text_sha256', '=', p.textSha256)
    .where('used_at', 'is', null)
    .where('expires_at', '>=', p.now),
);
const sessionInsert = new PreparedQuery(
  ['id', 'holder_id', 'certificate_serial', 'csrf_token', 'renewal_only', 'created_at', 'last_seen_at', 'ended_at'],
  (db, p) =>
    db.insertInto('portal_sessions').values({
      id: p.id,
      holder_id: p.holder_id,
      certificate_serial: p.certificate_serial,
      csrf_token: p.csrf_token,
      renewal_only: p.renewal_only,
      created_at: p.created_at,
      last_seen_at: p.last_seen_at,
      ended_at: p.ended_at,
    }),
);

/**
 * Marks a challenge used; true only for the first use of an unexpired challenge presented from the
 * origin it was issued to, with exactly the text issued (same SHA-256: no field changed).
 */
export async function consumeChallenge(
  db: Executor,
  c: { nonce: string; origin: string; textSha256: string; now: number },
): Promise<boolean> {
  const r = await challengeConsume.run(db, c);
  return Number(r.numAffectedRows) === 1;
}

export async function purgeChallenges(db: Executor, before: number): Promise<void> {
  await db.deleteFrom('login_challenges').where('expires_at', '<', before).execute();
}

export async function insertSession(db: Executor, s: PortalSession): Promise<void> {
  await sessionInsert.run(db, s);
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

/**
 * Ends every live portal session logged in with `serial` (a revocation by staff or the CA: whoever
 * holds a lost or compromised key loses the session too).
 */
export async function endSessionsOfCertificate(db: Executor, serial: string, now: number): Promise<void> {
  await db
    .updateTable('portal_sessions')
    .set({ ended_at: now })
    .where('certificate_serial', '=', serial)
    .where('ended_at', 'is', null)
    .execute();
}

export async function endSession(db: Executor, id: string, now: number): Promise<void> {
  await db.updateTable('portal_sessions').set({ ended_at: now }).where('id', '=', id).where('ended_at', 'is', null).execute();
}
