// Staff accounts and logins: user name + password (argon2id), then a TOTP code (RFC 6238; the
// first code confirms enrolment), a lockout after repeated failures, and sessions kept apart from
// the holders'. Every login, failure, lockout and account change goes to the audit log.
import { createHash, randomBytes } from 'node:crypto';
import type { Runtime } from '../runtime.js';
import { appendAudit } from '../sa/audit.js';
import { writeTransaction } from '../sa/database.js';
import type { StaffRole } from '../sa/schema.js';
import {
  claimTotpStep,
  countStaff,
  endStaffSession,
  endStaffSessionsOf,
  getStaff,
  getStaffByUsername,
  getStaffSession,
  insertStaffAccount,
  insertStaffSession,
  listStaff,
  recordFailedLogin,
  updateStaff,
  updateStaffSession,
  upgradeStaffSession,
  type StaffAccount,
  type StaffSession,
} from '../sa/staff.js';
import { invalid, notFound, StaffError } from './errors.js';
import { checkPasswordPolicy, dummyHash, hashPassword, verifyPassword } from './password.js';
import { EXCLUSIVE_ROLES, isRole, parseRoles, permissionsOf, ROLES, type Permission } from './roles.js';
import { matchTotp, newTotpSecret, otpauthUri } from './totp.js';

/** A session between the password and the TOTP code lasts this long. */
const PENDING_MS = 5 * 60_000;
export const TOTP_ISSUER = 'certdesk';

export interface StaffContext {
  session: StaffSession;
  account: StaffAccount;
  roles: StaffRole[];
  permissions: Set<Permission>;
  /** for the audit log: staff:<username> */
  actor: string;
}

export interface NewAccount {
  username: string;
  displayName?: string;
  roles: string[];
  /** omitted: a random one is generated and returned once */
  password?: string;
}

export interface CreatedAccount {
  account: StaffAccount;
  password: string;
  totpSecret: string;
  otpauthUri: string;
}

/** A new random session token and the row that stores its SHA-256 (never the token itself). */
function newSession(staffId: number, mfaPassed: 0 | 1, ip: string | null, now: number): { token: string; session: StaffSession } {
  const token = randomBytes(32).toString('base64url');
  return {
    token,
    session: {
      id: tokenHash(token),
      staff_id: staffId,
      csrf_token: randomBytes(24).toString('base64url'),
      mfa_passed: mfaPassed,
      ip,
      created_at: now,
      last_seen_at: now,
      ended_at: null,
    },
  };
}

const USERNAME = /^[a-z][a-z0-9._-]{1,31}$/;
export const tokenHash = (token: string): string => createHash('sha256').update(token).digest('hex');
export const actorOf = (a: Pick<StaffAccount, 'username'>): string => `staff:${a.username}`;

/** A readable random password: 4 groups of 5 from an unambiguous alphabet (~100 bits). */
export function generatePassword(): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = randomBytes(20);
  const chars = [...bytes].map((b) => alphabet[b % alphabet.length]);
  return [0, 5, 10, 15].map((i) => chars.slice(i, i + 5).join('')).join('-');
}

export function checkRoles(roles: string[]): StaffRole[] {
  const bad = roles.filter((r) => !isRole(r));
  if (bad.length || roles.length === 0)
    throw invalid(
      {
        en: `roles must be one or more of ${ROLES.join(', ')}; got ${JSON.stringify(roles)}`,
        zh: `角色须为 ${ROLES.join('、')} 中的一个或多个，而不是 ${JSON.stringify(roles)}`,
      },
      'roles',
    );
  for (const [a, b] of EXCLUSIVE_ROLES)
    if (roles.includes(a) && roles.includes(b))
      throw invalid(
        {
          en: `one account cannot hold both the ${a} and the ${b} role (separation of duties): use two accounts`,
          zh: `同一账号不能同时拥有 ${a} 与 ${b} 角色（职责分离）：请使用两个账号`,
        },
        'roles',
      );
  return [...new Set(roles as StaffRole[])];
}

export function staffView(a: StaffAccount, now = Date.now()) {
  return {
    id: a.id,
    username: a.username,
    displayName: a.display_name,
    roles: parseRoles(a.roles),
    totpEnrolled: a.totp_confirmed_at !== null,
    locked: a.locked_until !== null && a.locked_until > now,
    lockedUntil: a.locked_until && a.locked_until > now ? new Date(a.locked_until).toISOString() : null,
    disabled: a.disabled_at !== null,
    lastLoginAt: a.last_login_at ? new Date(a.last_login_at).toISOString() : null,
    createdAt: new Date(a.created_at).toISOString(),
    createdBy: a.created_by,
  };
}

export class StaffAccounts {
  constructor(readonly rt: Runtime) {}

  private get storage() {
    return this.rt.storage;
  }

  count(): Promise<number> {
    return countStaff(this.storage.db);
  }

  async create(input: NewAccount, actor: string): Promise<CreatedAccount> {
    const username = input.username.trim().toLowerCase();
    if (!USERNAME.test(username))
      throw invalid(
        {
          en: 'the user name must be 2–32 characters: lowercase letters, digits, . _ -, starting with a letter',
          zh: '用户名须为 2–32 个字符：小写字母、数字、. _ -，以字母开头',
        },
        'username',
      );
    const roles = checkRoles(input.roles);
    const password = input.password ?? generatePassword();
    checkPasswordPolicy(password, username);
    const passwordHash = await hashPassword(password);
    const totpSecret = newTotpSecret();
    const now = Date.now();
    const account = await writeTransaction(this.storage, async (tx) => {
      if (await getStaffByUsername(tx, username))
        throw new StaffError(
          409,
          'exists',
          { en: `a staff account ${username} exists already`, zh: `工作人员账号 ${username} 已存在` },
          'username',
        );
      const a = await insertStaffAccount(tx, {
        username,
        display_name: (input.displayName ?? username).trim().slice(0, 64) || username,
        roles: roles.join(','),
        password_hash: passwordHash,
        totp_secret: totpSecret,
        totp_confirmed_at: null,
        totp_last_step: null,
        failed_attempts: 0,
        locked_until: null,
        disabled_at: null,
        password_changed_at: now,
        last_login_at: null,
        created_at: now,
        created_by: actor,
      });
      await appendAudit(tx, [{ actor, action: 'staff.created', target: `staff:${username}`, details: { roles } }]);
      return a;
    });
    return {
      account,
      password,
      totpSecret,
      otpauthUri: otpauthUri({ issuer: TOTP_ISSUER, account: username, secret: totpSecret }),
    };
  }

  list(): Promise<StaffAccount[]> {
    return listStaff(this.storage.db);
  }

  async get(id: number): Promise<StaffAccount> {
    const a = await getStaff(this.storage.db, id);
    if (!a) throw noAccount(id);
    return a;
  }

  async byUsername(username: string): Promise<StaffAccount> {
    const a = await getStaffByUsername(this.storage.db, username.trim().toLowerCase());
    if (!a) throw noAccount(username);
    return a;
  }

  /**
   * Step 1: user name and password. Returns a pending session token (cookie) that only the TOTP
   * step accepts. Every refusal says the same thing, so it does not reveal which part was wrong.
   */
  async loginPassword(
    username: string,
    password: string,
    ip: string | null,
  ): Promise<{ token: string; session: StaffSession; account: StaffAccount }> {
    const now = Date.now();
    const account = await getStaffByUsername(this.storage.db, username.trim().toLowerCase());
    const stored = account?.password_hash ?? (await dummyHash());
    const ok = await verifyPassword(stored, password);
    if (!account) {
      await this.audit('staff.login_failed', `staff:${username.trim().toLowerCase().slice(0, 40)}`, {
        reason: 'unknown_user',
        ip,
      });
      throw wrongCredentials();
    }
    this.refuseIfUnusable(account, now);
    if (!ok) {
      await this.fail(account, 'password', ip);
      throw wrongCredentials();
    }
    const { token, session } = newSession(account.id, 0, ip, now);
    await insertStaffSession(this.storage.db, session);
    return { token, session, account };
  }

  /** The pending session's account, and the enrolment URI when its TOTP is not enrolled yet. */
  async pending(token: string | undefined): Promise<{ session: StaffSession; account: StaffAccount }> {
    const session = token ? await getStaffSession(this.storage.db, tokenHash(token)) : undefined;
    if (!session || session.mfa_passed || Date.now() - session.created_at > PENDING_MS) {
      throw new StaffError(401, 'no_pending_login', {
        en: 'enter your user name and password first (the code step expires after 5 minutes)',
        zh: '请先输入用户名和密码（动态口令步骤 5 分钟后失效）',
      });
    }
    const account = await getStaff(this.storage.db, session.staff_id);
    if (!account) throw new StaffError(401, 'no_pending_login', { en: 'the account is gone', zh: '该账号已不存在' });
    return { session, account };
  }

  enrolmentUri(account: StaffAccount): string {
    return otpauthUri({ issuer: TOTP_ISSUER, account: account.username, secret: account.totp_secret });
  }

  /**
   * Step 2: the TOTP code. A code is accepted once (its 30-second step is claimed). The session is
   * rotated: the returned token (and CSRF token) replace the pending ones, which stop working.
   */
  async loginTotp(token: string | undefined, code: string, ip: string | null): Promise<{ token: string; context: StaffContext }> {
    const { session, account } = await this.pending(token);
    const now = Date.now();
    this.refuseIfUnusable(account, now);
    const step = matchTotp(account.totp_secret, String(code ?? ''), now);
    if (step === undefined || !(await claimTotpStep(this.storage.db, account.id, step))) {
      await this.fail(account, step === undefined ? 'totp' : 'totp_reused', ip);
      throw new StaffError(
        401,
        'wrong_code',
        {
          en: 'the code is wrong or was used already: wait for the next code of your authenticator app',
          zh: '动态口令错误或已被使用：请等待身份验证器显示下一个动态口令',
        },
        'code',
      );
    }
    const enrolling = account.totp_confirmed_at === null;
    const full = newSession(account.id, 1, ip, now);
    await writeTransaction(this.storage, async (tx) => {
      if (!(await upgradeStaffSession(tx, session.id, full.session)))
        throw new StaffError(401, 'no_pending_login', {
          en: 'this login was completed or ended meanwhile; log in again',
          zh: '该登录已在别处完成或已结束，请重新登录',
        });
      await updateStaff(tx, account.id, {
        failed_attempts: 0,
        last_login_at: now,
        ...(enrolling ? { totp_confirmed_at: now } : {}),
      });
      const entries = [{ actor: actorOf(account), action: 'staff.login', target: actorOf(account), details: { ip } }];
      if (enrolling)
        entries.unshift({ actor: actorOf(account), action: 'staff.totp_enrolled', target: actorOf(account), details: { ip } });
      await appendAudit(tx, entries);
    });
    const fresh = (await getStaff(this.storage.db, account.id))!;
    return { token: full.token, context: this.context(full.session, fresh) };
  }

  /** Loads a full session: idle timeout, disabled/locked accounts end it. */
  async session(token: string | undefined): Promise<StaffContext> {
    const session = token ? await getStaffSession(this.storage.db, tokenHash(token)) : undefined;
    const now = Date.now();
    if (!session || !session.mfa_passed)
      throw new StaffError(401, 'no_session', { en: 'not logged in to the staff console', zh: '尚未登录工作台' });
    const idle = this.rt.config.staffIdleMinutes;
    if (now - session.last_seen_at > idle * 60_000) {
      await endStaffSession(this.storage.db, session.id, now);
      throw new StaffError(401, 'session_expired', {
        en: `logged out after ${idle} minutes without activity; please log in again`,
        zh: `已 ${idle} 分钟无操作，已自动退出，请重新登录`,
      });
    }
    const account = await getStaff(this.storage.db, session.staff_id);
    if (!account || account.disabled_at !== null) {
      await endStaffSession(this.storage.db, session.id, now);
      throw new StaffError(401, 'no_session', { en: 'this staff account is disabled', zh: '该工作人员账号已停用' });
    }
    if (now - session.last_seen_at > 30_000) await updateStaffSession(this.storage.db, session.id, { last_seen_at: now });
    return this.context(session, account);
  }

  context(session: StaffSession, account: StaffAccount): StaffContext {
    const roles = parseRoles(account.roles);
    return { session, account, roles, permissions: permissionsOf(roles), actor: actorOf(account) };
  }

  async logout(token: string | undefined, ctx?: StaffContext): Promise<void> {
    if (!token) return;
    await endStaffSession(this.storage.db, tokenHash(token), Date.now());
    if (ctx) await this.audit('staff.logout', ctx.actor, {}, ctx.actor);
  }

  async changeOwnPassword(ctx: StaffContext, current: string, next: string): Promise<void> {
    if (!(await verifyPassword(ctx.account.password_hash, current)))
      throw new StaffError(403, 'wrong_password', { en: 'the current password is wrong', zh: '当前密码不正确' }, 'current');
    checkPasswordPolicy(next, ctx.account.username);
    const hash = await hashPassword(next);
    await writeTransaction(this.storage, async (tx) => {
      await updateStaff(tx, ctx.account.id, { password_hash: hash, password_changed_at: Date.now() });
      await appendAudit(tx, [{ actor: ctx.actor, action: 'staff.password_changed', target: ctx.actor }]);
    });
  }

  /** Admin changes: roles, display name, disabled. Ends the account's sessions when access shrinks. */
  async update(
    id: number,
    change: { roles?: string[]; displayName?: string; disabled?: boolean },
    actor: string,
  ): Promise<StaffAccount> {
    const now = Date.now();
    return writeTransaction(this.storage, async (tx) => {
      const a = await getStaff(tx, id);
      if (!a) throw noAccount(id);
      const set: Partial<StaffAccount> = {};
      if (change.roles) set.roles = checkRoles(change.roles).join(',');
      if (change.displayName !== undefined) set.display_name = change.displayName.trim().slice(0, 64) || a.username;
      if (change.disabled !== undefined) set.disabled_at = change.disabled ? (a.disabled_at ?? now) : null;
      if (actor === actorOf(a) && (change.disabled || (set.roles && !set.roles.split(',').includes('admin')))) {
        throw new StaffError(409, 'self_lockout', {
          en: 'you cannot disable your own account or remove your own admin role',
          zh: '不能停用自己的账号，也不能取消自己的管理员（admin）角色',
        });
      }
      await updateStaff(tx, id, set);
      if (set.roles !== undefined || change.disabled) await endStaffSessionsOf(tx, id, now);
      await appendAudit(tx, [
        {
          actor,
          action: 'staff.updated',
          target: actorOf(a),
          details: {
            before: { roles: a.roles, disabled: a.disabled_at !== null },
            after: { roles: set.roles ?? a.roles, disabled: (set.disabled_at ?? a.disabled_at) !== null },
          },
        },
      ]);
      return (await getStaff(tx, id))!;
    });
  }

  /** Admin: a new random password (shown once); the account's sessions end. */
  async resetPassword(id: number, actor: string): Promise<string> {
    const password = generatePassword();
    await this.setPassword(id, password, actor);
    return password;
  }

  /** Sets a password chosen by an admin (CLI); the account's sessions end. */
  async setPassword(id: number, password: string, actor: string): Promise<void> {
    const a = await this.get(id);
    checkPasswordPolicy(password, a.username);
    const hash = await hashPassword(password);
    await writeTransaction(this.storage, async (tx) => {
      await updateStaff(tx, id, { password_hash: hash, password_changed_at: Date.now(), failed_attempts: 0, locked_until: null });
      await endStaffSessionsOf(tx, id, Date.now());
      await appendAudit(tx, [{ actor, action: 'staff.password_reset', target: actorOf(a) }]);
    });
  }

  /** Admin: a new TOTP secret, to be enrolled (QR code) at the next login. */
  async resetTotp(id: number, actor: string): Promise<{ totpSecret: string; otpauthUri: string }> {
    const secret = newTotpSecret();
    let username = '';
    await writeTransaction(this.storage, async (tx) => {
      const a = await getStaff(tx, id);
      if (!a) throw noAccount(id);
      username = a.username;
      await updateStaff(tx, id, { totp_secret: secret, totp_confirmed_at: null, totp_last_step: null });
      await endStaffSessionsOf(tx, id, Date.now());
      await appendAudit(tx, [{ actor, action: 'staff.totp_reset', target: actorOf(a) }]);
    });
    return { totpSecret: secret, otpauthUri: otpauthUri({ issuer: TOTP_ISSUER, account: username, secret }) };
  }

  async unlock(id: number, actor: string): Promise<void> {
    await writeTransaction(this.storage, async (tx) => {
      const a = await getStaff(tx, id);
      if (!a) throw noAccount(id);
      await updateStaff(tx, id, { failed_attempts: 0, locked_until: null });
      await appendAudit(tx, [{ actor, action: 'staff.unlocked', target: actorOf(a) }]);
    });
  }

  private refuseIfUnusable(account: StaffAccount, now: number): void {
    if (account.disabled_at !== null) throw wrongCredentials();
    if (account.locked_until !== null && account.locked_until > now) {
      const minutes = Math.ceil((account.locked_until - now) / 60_000);
      throw new StaffError(423, 'locked', {
        en: `too many failed logins: this account is locked for ${minutes} more minute(s), or until an admin unlocks it`,
        zh: `登录失败次数过多：该账号已锁定，${minutes} 分钟后或由管理员解锁后方可登录`,
      });
    }
  }

  private async fail(account: StaffAccount, reason: string, ip: string | null): Promise<void> {
    const { threshold, lockMs } = {
      threshold: this.rt.config.staffLockoutThreshold,
      lockMs: this.rt.config.staffLockoutMinutes * 60_000,
    };
    await writeTransaction(this.storage, async (tx) => {
      const r = await recordFailedLogin(tx, account.id, threshold, lockMs, Date.now());
      const entries = [
        {
          actor: actorOf(account),
          action: 'staff.login_failed',
          target: actorOf(account),
          details: { reason, ip, attempts: r.attempts },
        },
      ];
      if (r.locked)
        entries.push({
          actor: 'system:lockout',
          action: 'staff.locked',
          target: actorOf(account),
          details: { reason, ip, attempts: r.attempts },
        });
      await appendAudit(tx, entries);
    });
  }

  private async audit(
    action: string,
    target: string,
    details: Record<string, unknown>,
    actor = 'system:staff-login',
  ): Promise<void> {
    await writeTransaction(this.storage, (tx) => appendAudit(tx, [{ actor, action, target, details }]));
  }
}

const wrongCredentials = (): StaffError =>
  new StaffError(401, 'wrong_credentials', { en: 'wrong user name or password', zh: '用户名或密码错误' });
const noAccount = (who: string | number): StaffError =>
  notFound({ en: `no staff account ${who}`, zh: `工作人员账号 ${who} 不存在` });
