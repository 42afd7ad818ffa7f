// Staff accounts and staff sessions (separate from the holders' portal_sessions). Counters such as
// failed attempts and the last accepted TOTP step change with conditional UPDATEs, so two
// concurrent logins cannot both use one code or both escape the lockout count.
import type { Insertable, Selectable } from 'kysely';
import type { Executor } from './database.js';
import type { StaffAccountTable, StaffSessionTable } from './schema.js';

export type StaffAccount = Selectable<StaffAccountTable>;
export type StaffSession = Selectable<StaffSessionTable>;

export async function insertStaffAccount(db: Executor, a: Insertable<StaffAccountTable>): Promise<StaffAccount> {
  await db.insertInto('staff_accounts').values(a).execute();
  return (await getStaffByUsername(db, a.username))!;
}

export async function getStaffByUsername(db: Executor, username: string): Promise<StaffAccount | undefined> {
  return db.selectFrom('staff_accounts').selectAll().where('username', '=', username).executeTakeFirst();
}

export async function getStaff(db: Executor, id: number): Promise<StaffAccount | undefined> {
  return db.selectFrom('staff_accounts').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listStaff(db: Executor): Promise<StaffAccount[]> {
  return db.selectFrom('staff_accounts').selectAll().orderBy('username').execute();
}

export async function countStaff(db: Executor): Promise<number> {
  const r = await db
    .selectFrom('staff_accounts')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function updateStaff(db: Executor, id: number, set: Partial<Omit<StaffAccount, 'id'>>): Promise<void> {
  await db.updateTable('staff_accounts').set(set).where('id', '=', id).execute();
}

/** Counts a failed attempt; locks the account for `lockMs` when the count reaches `threshold`. Returns the new count. */
export async function recordFailedLogin(
  db: Executor,
  id: number,
  threshold: number,
  lockMs: number,
  now: number,
): Promise<{ attempts: number; locked: boolean }> {
  await db
    .updateTable('staff_accounts')
    .set((eb) => ({ failed_attempts: eb('failed_attempts', '+', 1) }))
    .where('id', '=', id)
    .execute();
  const a = await getStaff(db, id);
  const attempts = a?.failed_attempts ?? 0;
  if (attempts >= threshold) {
    await db
      .updateTable('staff_accounts')
      .set({ locked_until: now + lockMs, failed_attempts: 0 })
      .where('id', '=', id)
      .execute();
    return { attempts, locked: true };
  }
  return { attempts, locked: false };
}

/** Accepts a TOTP step once: true only if `step` is newer than the last accepted one. */
export async function claimTotpStep(db: Executor, id: number, step: number): Promise<boolean> {
  const r = await db
    .updateTable('staff_accounts')
    .set({ totp_last_step: step })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)]))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function insertStaffSession(db: Executor, s: StaffSession): Promise<void> {
  await db.insertInto('staff_sessions').values(s).execute();
}

export async function getStaffSession(db: Executor, id: string): Promise<StaffSession | undefined> {
  return db.selectFrom('staff_sessions').selectAll().where('id', '=', id).where('ended_at', 'is', null).executeTakeFirst();
}

export async function updateStaffSession(db: Executor, id: string, set: Partial<Omit<StaffSession, 'id'>>): Promise<void> {
  await db.updateTable('staff_sessions').set(set).where('id', '=', id).execute();
}

/**
 * The TOTP step: the pending (password-only) session ends and a new full session with a new id
 * takes its place, so a cookie seen before the second factor never opens the console. False when
 * the pending session was upgraded or ended meanwhile (nothing changed).
 */
export async function upgradeStaffSession(db: Executor, pendingId: string, full: StaffSession): Promise<boolean> {
  const r = await db
    .updateTable('staff_sessions')
    .set({ ended_at: full.created_at })
    .where('id', '=', pendingId)
    .where('mfa_passed', '=', 0)
    .where('ended_at', 'is', null)
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) !== 1) return false;
  await db.insertInto('staff_sessions').values(full).execute();
  return true;
}

export async function endStaffSession(db: Executor, id: string, now: number): Promise<void> {
  await db.updateTable('staff_sessions').set({ ended_at: now }).where('id', '=', id).where('ended_at', 'is', null).execute();
}

/** Ends every open session of an account (disabled, password reset, roles changed). */
export async function endStaffSessionsOf(db: Executor, staffId: number, now: number): Promise<void> {
  await db
    .updateTable('staff_sessions')
    .set({ ended_at: now })
    .where('staff_id', '=', staffId)
    .where('ended_at', 'is', null)
    .execute();
}
