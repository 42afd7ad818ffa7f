// Staff account administration through the API an admin's console calls, on SQLite and PostgreSQL:
// create (the password shown once, TOTP enrolled at first login), bad input named by field, role
// changes and disabling (which end the account's sessions), no self-lockout, lock after failed
// logins and unlock, password and TOTP resets — each in the audit log under the admin's name.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestCa } from './helpers/ca.js';
import { BACKENDS } from './helpers/backends.js';
import { serveTestCa, type ServedCa } from './helpers/holder.js';
import { createStaff, knownStaff, StaffClient, type TestStaff } from './helpers/staff.js';

type Account = { id: number; username: string; roles: string[]; totpEnrolled: boolean; locked: boolean; disabled: boolean };
type Session = { staff: Account; permissions: string[] };

for (const backend of BACKENDS) {
  describe(`staff account administration API (${backend.name})`, { skip: backend.skip }, () => {
    let served: ServedCa;
    let ca: TestCa;
    let base: string;
    let origin: string;
    let admin: TestStaff;
    let ad: StaffClient;

    before(async () => {
      served = await serveTestCa({ postgres: backend.postgres });
      ({ ca, base, origin } = served);
      admin = await createStaff(ca.rt, ['admin']);
      ad = new StaffClient(base, origin);
      assert.equal((await ad.login(admin)).status, 200);
    });
    after(async () => served?.close());

    const client = (): StaffClient => new StaffClient(base, origin);
    const accountOf = async (username: string): Promise<Account> => {
      const list = await ad.call<{ items: Account[] }>('GET', '/api/staff/accounts');
      assert.equal(list.status, 200);
      const a = list.body.items.find((x) => x.username === username);
      assert.ok(a, `${username} listed`);
      return a;
    };
    const loggedIn = async (s: TestStaff): Promise<StaffClient> => {
      const c = client();
      assert.equal((await c.login(s)).status, 200);
      return c;
    };
    /** The admin's audit entries about `username`, oldest first. */
    const auditOf = async (username: string): Promise<{ actor: string; action: string; details: string }[]> =>
      ca.rt.storage.db
        .selectFrom('audit_log')
        .select(['actor', 'action', 'details'])
        .where('target', '=', `staff:${username}`)
        .where('actor', '=', `staff:${admin.username}`)
        .orderBy('seq')
        .execute();
    /** Password, then the enrolment of a TOTP secret the server shows at this first login. */
    const enrolAndLogin = async (username: string, password: string): Promise<{ c: StaffClient; staff: TestStaff }> => {
      const c = client();
      const r1 = await c.call<{ next: string; csrfToken: string; enrol?: { otpauthUri: string } }>('POST', '/api/staff/login', {
        username,
        password,
      });
      assert.equal(r1.status, 200, JSON.stringify(r1.body));
      assert.equal(r1.body.next, 'enrol', 'TOTP is enrolled at the first login');
      const secret = new URL(r1.body.enrol!.otpauthUri).searchParams.get('secret')!;
      const staff = knownStaff(username, password, secret);
      c.csrf = r1.body.csrfToken;
      const r2 = await c.call<{ csrfToken: string }>('POST', '/api/staff/login/totp', { code: staff.nextCode() });
      assert.equal(r2.status, 200, JSON.stringify(r2.body));
      c.csrf = r2.body.csrfToken;
      return { c, staff };
    };

    test('create: password shown once, TOTP enrolled at first login; bad input named by field; admins only', async () => {
      const r = await ad.call<{ account: Account; password: string }>('POST', '/api/staff/accounts', {
        username: 'Wang.Operator',
        displayName: '王操作员',
        roles: ['operator'],
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.account.username, 'wang.operator', 'user names are lower case');
      assert.deepEqual(r.body.account.roles, ['operator']);
      assert.equal(r.body.account.totpEnrolled, false);
      assert.ok(r.body.password.length >= 16, 'a generated password');
      assert.equal((await accountOf('wang.operator')).totpEnrolled, false);
      assert.doesNotMatch(JSON.stringify((await ad.call('GET', '/api/staff/accounts')).body), new RegExp(r.body.password));

      const { c } = await enrolAndLogin('wang.operator', r.body.password);
      const s = await c.call<Session>('GET', '/api/staff/session');
      assert.deepEqual(s.body.staff.roles, ['operator']);
      assert.ok(s.body.permissions.includes('payments.confirm'));
      assert.equal((await accountOf('wang.operator')).totpEnrolled, true);

      for (const [body, status, field, error] of [
        [{ username: 'x', roles: ['operator'] }, 400, 'username', 'invalid'],
        [{ username: '王五', roles: ['operator'] }, 400, 'username', 'invalid'],
        [{ username: 'zhao.liu', roles: ['root'] }, 400, 'roles', 'invalid'],
        [{ username: 'zhao.liu', roles: [] }, 400, 'roles', 'invalid'],
        [{ username: 'zhao.liu', roles: 'operator' }, 400, 'roles', 'invalid'],
        [{ username: 'wang.operator', roles: ['auditor'] }, 409, 'username', 'exists'],
      ] as const) {
        const bad = await ad.call<{ error: string; field: string }>('POST', '/api/staff/accounts', body);
        assert.deepEqual(
          { status: bad.status, field: bad.body.field, error: bad.body.error },
          { status, field, error },
          JSON.stringify(body),
        );
      }
      // an operator may not manage accounts
      assert.equal((await c.call('POST', '/api/staff/accounts', { username: 'sneaky', roles: ['admin'] })).status, 403);
      assert.equal((await c.call('GET', '/api/staff/accounts')).status, 403);
      const created = (await ca.rt.storage.db.selectFrom('staff_accounts').select('username').execute()).map((a) => a.username);
      assert.ok(!created.includes('zhao.liu') && !created.includes('sneaky'), 'nothing created by a refused request');
      assert.deepEqual(
        (await auditOf('wang.operator')).map((e) => e.action),
        ['staff.created'],
      );
    });

    test('a role change ends the account’s sessions; the next login has the new role', async () => {
      const li = await createStaff(ca.rt, ['operator']);
      const c = await loggedIn(li);
      const { id } = await accountOf(li.username);
      const r = await ad.call<{ account: Account }>('PATCH', `/api/staff/accounts/${id}`, { roles: ['auditor'] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.account.roles, ['auditor']);
      assert.equal((await c.call('GET', '/api/staff/session')).status, 401, 'the old session (operator rights) ended');
      const again = await loggedIn(li);
      const s = await again.call<Session>('GET', '/api/staff/session');
      assert.deepEqual(s.body.staff.roles, ['auditor']);
      assert.ok(!s.body.permissions.includes('payments.confirm'));
      assert.equal((await again.call('GET', '/api/staff/audit')).status, 200);
      const bad = await ad.call<{ field: string }>('PATCH', `/api/staff/accounts/${id}`, { roles: ['superuser'] });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.field, 'roles');
      assert.deepEqual((await accountOf(li.username)).roles, ['auditor'], 'a refused change changes nothing');
      const [e] = await auditOf(li.username);
      assert.equal(e!.action, 'staff.updated');
      assert.deepEqual(JSON.parse(e!.details), {
        before: { roles: 'operator', disabled: false },
        after: { roles: 'auditor', disabled: false },
      });
    });

    test('disable ends the sessions and refuses the login like a wrong password; enable lets it in again', async () => {
      const zhou = await createStaff(ca.rt, ['operator']);
      const c = await loggedIn(zhou);
      const { id } = await accountOf(zhou.username);
      assert.equal((await ad.call('PATCH', `/api/staff/accounts/${id}`, { disabled: true })).status, 200);
      assert.equal((await accountOf(zhou.username)).disabled, true);
      assert.equal((await c.call('GET', '/api/staff/session')).status, 401);
      const refused = await client().call<{ error: string }>('POST', '/api/staff/login', {
        username: zhou.username,
        password: zhou.password,
      });
      const wrong = await client().call<{ error: string }>('POST', '/api/staff/login', {
        username: zhou.username,
        password: 'not-the-password-at-all',
      });
      assert.equal(refused.status, 401);
      assert.deepEqual(refused.body, wrong.body, 'a disabled account answers like a wrong password');
      assert.equal((await ad.call('PATCH', `/api/staff/accounts/${id}`, { disabled: false })).status, 200);
      await loggedIn(zhou);
    });

    test('an admin cannot disable their own account or drop their own admin role', async () => {
      const { id } = await accountOf(admin.username);
      for (const change of [{ disabled: true }, { roles: ['operator'] }]) {
        const r = await ad.call<{ error: string }>('PATCH', `/api/staff/accounts/${id}`, change);
        assert.equal(r.status, 409, JSON.stringify(change));
        assert.equal(r.body.error, 'self_lockout');
      }
      const me = await accountOf(admin.username);
      assert.deepEqual([me.roles, me.disabled], [['admin'], false]);
      assert.equal((await ad.call('GET', '/api/staff/session')).status, 200, 'still logged in');
    });

    test('locked after failed logins, even with the right password; unlock lets it in', async () => {
      const sun = await createStaff(ca.rt, ['auditor']);
      for (let i = 0; i < ca.config.staffLockoutThreshold; i++) {
        const r = await client().call('POST', '/api/staff/login', { username: sun.username, password: 'wrong-password-123' });
        assert.equal(r.status, 401);
      }
      const locked = await client().call<{ error: string }>('POST', '/api/staff/login', {
        username: sun.username,
        password: sun.password,
      });
      assert.equal(locked.status, 423);
      assert.equal(locked.body.error, 'locked');
      const { id, locked: shown } = await accountOf(sun.username);
      assert.equal(shown, true);
      assert.equal((await ad.call('POST', `/api/staff/accounts/${id}/unlock`)).status, 204);
      assert.equal((await accountOf(sun.username)).locked, false);
      await loggedIn(sun);
      assert.deepEqual(
        (await auditOf(sun.username)).map((e) => e.action),
        ['staff.unlocked'],
      );
    });

    test('reset password: a new one shown once, the old one refused, sessions ended', async () => {
      const wu = await createStaff(ca.rt, ['operator']);
      const c = await loggedIn(wu);
      const { id } = await accountOf(wu.username);
      const r = await ad.call<{ password: string }>('POST', `/api/staff/accounts/${id}/reset-password`);
      assert.equal(r.status, 200);
      assert.ok(r.body.password.length >= 16 && r.body.password !== wu.password);
      assert.equal((await c.call('GET', '/api/staff/session')).status, 401);
      const old = await client().call('POST', '/api/staff/login', { username: wu.username, password: wu.password });
      assert.equal(old.status, 401);
      await loggedIn({ ...wu, password: r.body.password }); // same authenticator: its codes go on from the last one used
      assert.deepEqual(
        (await auditOf(wu.username)).map((e) => e.action),
        ['staff.password_reset'],
      );
    });

    test('reset TOTP: sessions ended, the next login enrols a new secret, codes of the old one are refused', async () => {
      const zheng = await createStaff(ca.rt, ['operator']);
      const c = await loggedIn(zheng);
      const { id } = await accountOf(zheng.username);
      assert.equal((await ad.call('POST', `/api/staff/accounts/${id}/reset-totp`)).status, 204);
      assert.equal((await c.call('GET', '/api/staff/session')).status, 401);
      assert.equal((await accountOf(zheng.username)).totpEnrolled, false);
      // the old authenticator no longer works
      const withOld = client();
      const r1 = await withOld.call<{ next: string; csrfToken: string }>('POST', '/api/staff/login', {
        username: zheng.username,
        password: zheng.password,
      });
      assert.equal(r1.body.next, 'enrol');
      withOld.csrf = r1.body.csrfToken;
      assert.equal((await withOld.call('POST', '/api/staff/login/totp', { code: zheng.nextCode() })).status, 401);
      const { staff } = await enrolAndLogin(zheng.username, zheng.password);
      assert.notEqual(staff.secret, zheng.secret);
      assert.deepEqual(
        (await auditOf(zheng.username)).map((e) => e.action),
        ['staff.totp_reset'],
      );
    });

    test('unknown accounts are 404 for every change', async () => {
      for (const [method, p, body] of [
        ['PATCH', '/api/staff/accounts/999999', { roles: ['auditor'] }],
        ['POST', '/api/staff/accounts/999999/reset-password', undefined],
        ['POST', '/api/staff/accounts/999999/reset-totp', undefined],
        ['POST', '/api/staff/accounts/999999/unlock', undefined],
      ] as const) {
        assert.equal((await ad.call(method, p, body)).status, 404, `${method} ${p}`);
      }
    });
  });
}
