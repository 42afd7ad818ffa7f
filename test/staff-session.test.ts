// The staff session is rotated when the TOTP code upgrades it, on SQLite and PostgreSQL: the cookie
// and CSRF token seen after the password alone (by a proxy log, a shared machine, a fixation attack)
// never open the console; the ones the TOTP step sets do.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BACKENDS } from './helpers/backends.js';
import { serveTestCa, type ServedCa } from './helpers/holder.js';
import { createStaff, StaffClient } from './helpers/staff.js';

for (const backend of BACKENDS) {
  describe(`staff session rotation (${backend.name})`, { skip: backend.skip }, () => {
    let served: ServedCa;
    before(async () => {
      served = await serveTestCa({ postgres: backend.postgres });
    });
    after(async () => served?.close());

    test('the pre-TOTP cookie stops working at the upgrade; the new cookie and CSRF token work', async () => {
      const staff = await createStaff(served.ca.rt, ['operator']);
      const c = new StaffClient(served.base, served.origin);
      const step1 = await c.call<{ csrfToken: string; next: string }>('POST', '/api/staff/login', {
        username: staff.username,
        password: staff.password,
      });
      assert.equal(step1.status, 200, JSON.stringify(step1.body));
      const pending = { cookie: c.cookie, csrf: step1.body.csrfToken };
      assert.match(pending.cookie, /^certdesk_staff=/);
      c.csrf = pending.csrf;
      const step2 = await c.call<{ csrfToken: string }>('POST', '/api/staff/login/totp', { code: staff.nextCode() });
      assert.equal(step2.status, 200, JSON.stringify(step2.body));

      const old = new StaffClient(served.base, served.origin);
      old.cookie = pending.cookie;
      old.csrf = pending.csrf;
      const refused = await old.call<{ error: string }>('GET', '/api/staff/session');
      assert.deepEqual([refused.status, refused.body.error], [401, 'no_session']);
      const again = await old.call<{ error: string }>('POST', '/api/staff/login/totp', { code: staff.nextCode() });
      assert.deepEqual(
        [again.status, again.body.error],
        [401, 'no_pending_login'],
        'the pending session cannot be upgraded twice',
      );

      assert.match(String(step2.headers.get('set-cookie')), /^certdesk_staff=[^;]+;.*HttpOnly/i);
      assert.notEqual(c.cookie, pending.cookie, 'a new cookie');
      assert.notEqual(step2.body.csrfToken, pending.csrf, 'a new CSRF token');

      c.csrf = step2.body.csrfToken;
      assert.equal((await c.call('GET', '/api/staff/session')).status, 200);
      // a state change with the new cookie and the old CSRF token is refused; with the new one it works
      const stale = new StaffClient(served.base, served.origin);
      stale.cookie = c.cookie;
      stale.csrf = pending.csrf;
      assert.equal((await stale.call('POST', '/api/staff/logout')).status, 403);
      assert.equal((await c.call('POST', '/api/staff/logout')).status, 204);
      assert.equal((await c.call('GET', '/api/staff/session')).status, 401);
    });
  });
}
