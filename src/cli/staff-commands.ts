// `certdesk staff …`: staff console accounts from the shell — the first admin, and the fixes an
// admin may need when nobody can log in (unlock, new password, new TOTP enrolment).
import type { Command } from 'commander';
import { loadConfig } from '../config/config.js';
import { openRuntime, type Runtime } from '../runtime.js';
import { StaffAccounts, staffView } from '../staff/accounts.js';
import { StaffError } from '../staff/errors.js';
import { ROLES } from '../staff/roles.js';
import { action, UsageError } from './errors.js';
import { cliActor, promptHidden } from './util.js';

async function withAccounts(fn: (a: StaffAccounts, rt: Runtime) => Promise<void>): Promise<void> {
  const rt = await openRuntime(loadConfig());
  try {
    await fn(new StaffAccounts(rt), rt);
  } catch (e) {
    if (e instanceof StaffError) throw new UsageError(e.message);
    throw e;
  } finally {
    await rt.close();
  }
}

async function newPassword(): Promise<string> {
  const fromEnv = process.env.CERTDESK_STAFF_PASSWORD;
  if (fromEnv) return fromEnv;
  const hint = 'set CERTDESK_STAFF_PASSWORD, or run the command in a terminal to be asked for the password';
  const first = await promptHidden('password (at least 12 characters): ', hint);
  const second = await promptHidden('the same password again: ', hint);
  if (first !== second) throw new UsageError('the two passwords differ');
  return first;
}

const collect = (v: string, prev: string[]): string[] => [
  ...prev,
  ...v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

export function registerStaffCommands(program: Command): void {
  const staff = program.command('staff').description(`staff console accounts (roles: ${ROLES.join(', ')})`);

  staff
    .command('add')
    .description(
      'create a staff account; the password is asked for (or read from CERTDESK_STAFF_PASSWORD); prints the TOTP enrolment secret',
    )
    .argument('<user>', 'user name (lowercase letters, digits, . _ -)')
    .requiredOption(
      '--role <role>',
      `role, repeatable or comma-separated: ${ROLES.join(', ')} (kmc: key recovery, never together with admin)`,
      collect,
      [],
    )
    .option('--name <display>', 'display name')
    .action(
      action(async (user: string, o: { role: string[]; name?: string }) => {
        const bad = o.role.filter((r) => !(ROLES as readonly string[]).includes(r));
        if (bad.length || o.role.length === 0)
          throw new UsageError(`--role must be one of ${ROLES.join(', ')}; got ${bad.join(', ') || 'none'}`);
        const password = await newPassword();
        await withAccounts(async (accounts, rt) => {
          const c = await accounts.create(
            { username: user, roles: o.role, password, ...(o.name ? { displayName: o.name } : {}) },
            cliActor(),
          );
          process.stdout.write(
            `staff account ${c.account.username} created (roles: ${o.role.join(', ')})\n` +
              `TOTP secret: ${c.totpSecret}\n` +
              `otpauth URI: ${c.otpauthUri}\n` +
              `Add the secret to an authenticator app (or scan the QR code shown at the first login), then log in at ${rt.config.publicUrl}/staff.html\n`,
          );
        });
      }),
    );

  staff
    .command('list')
    .description('staff accounts with roles and state')
    .action(
      action(async () => {
        await withAccounts(async (accounts) => {
          for (const a of await accounts.list()) {
            const v = staffView(a);
            process.stdout.write(
              `${v.username.padEnd(20)} ${v.roles.join(',').padEnd(32)} ${v.disabled ? 'disabled' : v.locked ? `locked until ${v.lockedUntil}` : 'active'}${v.totpEnrolled ? '' : '  (TOTP not enrolled yet)'}\n`,
            );
          }
        });
      }),
    );

  staff
    .command('unlock')
    .description('unlock an account locked after failed logins')
    .argument('<user>')
    .action(
      action(async (user: string) => {
        await withAccounts(async (accounts) => {
          await accounts.unlock((await accounts.byUsername(user)).id, cliActor());
          process.stdout.write(`${user} unlocked\n`);
        });
      }),
    );

  staff
    .command('reset-password')
    .description("set a new password (asked for, or CERTDESK_STAFF_PASSWORD); ends the account's sessions")
    .argument('<user>')
    .action(
      action(async (user: string) => {
        const password = await newPassword();
        await withAccounts(async (accounts) => {
          const a = await accounts.byUsername(user);
          await accounts.setPassword(a.id, password, cliActor());
          process.stdout.write(`${user}: password changed\n`);
        });
      }),
    );

  staff
    .command('reset-totp')
    .description('a new TOTP secret (the old authenticator entry stops working); prints it')
    .argument('<user>')
    .action(
      action(async (user: string) => {
        await withAccounts(async (accounts) => {
          const r = await accounts.resetTotp((await accounts.byUsername(user)).id, cliActor());
          process.stdout.write(`TOTP secret: ${r.totpSecret}\notpauth URI: ${r.otpauthUri}\n`);
        });
      }),
    );
}
