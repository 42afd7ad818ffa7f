// The staff console from the shell: `certdesk staff add` (password from CERTDESK_STAFF_PASSWORD,
// TOTP secret printed), the demo admin seeded on first start, and `certdesk audit verify` naming a
// staff-console row edited or deleted directly in the database.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { StaffAccounts } from '../src/staff/accounts.js';
import { seedDemoStaff } from '../src/staff/demo.js';
import { matchTotp, totpAt } from '../src/staff/totp.js';
import { verifyPassword } from '../src/staff/password.js';
import { createTestCa, type TestCa } from './helpers/ca.js';
import { cliAsync } from './helpers/cli.js';

describe('staff accounts from the CLI; audit verify', () => {
  let ca: TestCa;
  before(async () => {
    ca = await createTestCa();
  });
  after(async () => {
    await ca?.cleanup();
  });

  test('staff add creates the first admin with the password from the environment and prints the TOTP secret', async () => {
    const r = await cliAsync(['staff', 'add', 'chief', '--role', 'admin', '--name', '王主任'], {
      ...ca.env,
      CERTDESK_STAFF_PASSWORD: 'a-long-enough-password',
    });
    assert.equal(r.status, 0, r.stderr);
    const secret = /TOTP secret: ([A-Z2-7]+)/.exec(r.stdout)?.[1];
    assert.ok(secret, r.stdout);
    assert.match(r.stdout, /otpauth:\/\/totp\/certdesk%3Achief\?secret=/);
    const a = await new StaffAccounts(ca.rt).byUsername('chief');
    assert.equal(a.roles, 'admin');
    assert.equal(a.display_name, '王主任');
    assert.match(a.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.ok(await verifyPassword(a.password_hash, 'a-long-enough-password'));
    assert.ok(matchTotp(secret, totpAt(secret, Date.now())) !== undefined);

    const list = await cliAsync(['staff', 'list'], ca.env);
    assert.match(list.stdout, /chief\s+admin\s+active\s+\(TOTP not enrolled yet\)/);
    // refusals: no password source, a short password, an unknown role, a duplicate
    const env = { ...ca.env };
    delete env.CERTDESK_STAFF_PASSWORD;
    const noPw = await cliAsync(['staff', 'add', 'second', '--role', 'operator'], env);
    assert.equal(noPw.status, 2);
    assert.match(noPw.stderr, /CERTDESK_STAFF_PASSWORD/);
    const short = await cliAsync(['staff', 'add', 'second', '--role', 'operator'], { ...env, CERTDESK_STAFF_PASSWORD: 'short' });
    assert.equal(short.status, 2);
    assert.match(short.stderr, /at least 12 characters/);
    const role = await cliAsync(['staff', 'add', 'second', '--role', 'boss'], {
      ...env,
      CERTDESK_STAFF_PASSWORD: 'a-long-enough-password',
    });
    assert.equal(role.status, 2);
    const dup = await cliAsync(['staff', 'add', 'chief', '--role', 'operator'], {
      ...env,
      CERTDESK_STAFF_PASSWORD: 'another-long-password',
    });
    assert.equal(dup.status, 2);
    assert.match(dup.stderr, /exists already/);
  });

  test('the demo admin is seeded once, printed, and kept in DATA_DIR/demo-staff.txt (0600)', async () => {
    const fresh = await createTestCa();
    try {
      let printed = '';
      assert.equal(await seedDemoStaff(fresh.rt, (t) => (printed += t)), true);
      const file = path.join(fresh.dir, 'demo-staff.txt');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const text = readFileSync(file, 'utf8');
      const password = /password: +(\S+)/.exec(text)![1]!;
      assert.match(printed, /user name: +admin/);
      assert.ok(printed.includes(password));
      const a = await new StaffAccounts(fresh.rt).byUsername('admin');
      assert.ok(await verifyPassword(a.password_hash, password));
      assert.equal(a.roles, 'admin,operator,auditor,reviewer');
      assert.equal(await seedDemoStaff(fresh.rt, () => undefined), false);
    } finally {
      await fresh.cleanup();
    }
  });

  test('audit verify exits 0, then names the staff-console row edited, then the one deleted', async () => {
    await new StaffAccounts(ca.rt).create(
      { username: 'tamper.target', roles: ['operator'], password: 'a-long-enough-password' },
      'test',
    );
    const ok = await cliAsync(['audit', 'verify'], ca.env);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /audit chain intact/);
    const db = new BetterSqlite3(path.join(ca.dir, 'certdesk.sqlite'));
    let seq: number;
    let original: string;
    try {
      ({ seq, details: original } = db
        .prepare("select seq, details from audit_log where action = 'staff.created' and target = 'staff:tamper.target'")
        .get() as { seq: number; details: string });
      db.exec('drop trigger audit_log_no_update');
      db.prepare('update audit_log set details = \'{"roles":["admin"]}\' where seq = ?').run(seq);
    } finally {
      db.close();
    }
    const edited = await cliAsync(['audit', 'verify'], ca.env);
    assert.equal(edited.status, 1);
    assert.match(edited.stdout, new RegExp(`BROKEN at entry ${seq}: entry ${seq} was altered`));

    // put the edited row back (the chain holds again), then delete it: a hole in the middle of the log
    const db2 = new BetterSqlite3(path.join(ca.dir, 'certdesk.sqlite'));
    try {
      db2.prepare('update audit_log set details = ? where seq = ?').run(original, seq);
    } finally {
      db2.close();
    }
    assert.equal((await cliAsync(['audit', 'verify'], ca.env)).status, 0, 'restored: intact again');
    await new StaffAccounts(ca.rt).create(
      { username: 'after.target', roles: ['operator'], password: 'a-long-enough-password' },
      'test',
    );
    const db3 = new BetterSqlite3(path.join(ca.dir, 'certdesk.sqlite'));
    try {
      const last = (db3.prepare('select max(seq) as n from audit_log').get() as { n: number }).n;
      assert.ok(last > seq, 'the deleted row is not the newest');
      db3.exec('drop trigger audit_log_no_delete');
      db3.prepare('delete from audit_log where seq = ?').run(seq);
    } finally {
      db3.close();
    }
    const deleted = await cliAsync(['audit', 'verify'], ca.env);
    assert.equal(deleted.status, 1);
    assert.match(deleted.stdout, new RegExp(`BROKEN at entry ${seq}: entry ${seq} is missing \\(next present is ${seq + 1}\\)`));
  });

  test('a log cut off at its end passes the chain check alone, and fails against an earlier checkpoint', async () => {
    // a fresh CA: the previous test broke this one's chain on purpose
    const fresh = await createTestCa();
    try {
      await new StaffAccounts(fresh.rt).create(
        { username: 'tail.one', roles: ['operator'], password: 'a-long-enough-password' },
        'test',
      );
      const ok = await cliAsync(['audit', 'verify'], fresh.env);
      assert.equal(ok.status, 0, ok.stderr);
      const checkpoint = /head (\d+:[0-9a-f]{64})/.exec(ok.stdout)?.[1];
      assert.ok(checkpoint, ok.stdout);
      const seq = Number(checkpoint.split(':')[0]);
      assert.equal((await cliAsync(['audit', 'verify', '--checkpoint', checkpoint], fresh.env)).status, 0);

      // someone with database access deletes the newest entry
      const db = new BetterSqlite3(path.join(fresh.dir, 'certdesk.sqlite'));
      try {
        db.exec('drop trigger audit_log_no_delete');
        db.prepare('delete from audit_log where seq = ?').run(seq);
      } finally {
        db.close();
      }
      const alone = await cliAsync(['audit', 'verify'], fresh.env);
      assert.equal(alone.status, 0, 'the chain by itself cannot show a cut-off end');
      const anchored = await cliAsync(['audit', 'verify', '--checkpoint', checkpoint], fresh.env);
      assert.equal(anchored.status, 1);
      assert.match(
        anchored.stdout,
        new RegExp(`BROKEN at entry ${seq}: the log ends at entry ${seq - 1}, but checkpoint ${seq}`),
      );
      const bad = await cliAsync(['audit', 'verify', '--checkpoint', 'nope'], fresh.env);
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /--checkpoint must be SEQ:HASH/);
    } finally {
      await fresh.cleanup();
    }
  });
});
