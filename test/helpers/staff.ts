// Staff console helpers for tests: accounts with known passwords, TOTP codes that are never reused
// (each login claims its 30-second step), and a cookie-keeping client for /api/staff/.
import { ApiClient } from './http-client.js';
import type { Runtime } from '../../src/runtime.js';
import { StaffAccounts } from '../../src/staff/accounts.js';
import { hotp, base32Decode, stepAt } from '../../src/staff/totp.js';
import type { StaffRole } from '../../src/sa/schema.js';

export interface TestStaff {
  username: string;
  password: string;
  secret: string;
  /** a code for a step not used yet (current, then the next ones within the ±1 window) */
  nextCode(): string;
}

let counter = 0;

export async function createStaff(rt: Runtime, roles: StaffRole[], name?: string): Promise<TestStaff> {
  const username = name ?? `${roles[0]}${++counter}${Math.floor(Math.random() * 1e4)}`;
  const password = `pw-${Math.random().toString(36).slice(2)}-Long-Enough`;
  const created = await new StaffAccounts(rt).create({ username, roles, password }, 'test');
  return knownStaff(username, password, created.totpSecret);
}

/** The test's handle on an account whose password and TOTP secret it knows (e.g. from the enrolment). */
export function knownStaff(username: string, password: string, secret: string): TestStaff {
  let lastStep = -1;
  return {
    username,
    password,
    secret,
    nextCode() {
      const step = Math.max(stepAt(Date.now()), lastStep + 1);
      if (step > stepAt(Date.now()) + 1) throw new Error('test used more than two TOTP codes within 30 seconds for one account');
      lastStep = step;
      return hotp(base32Decode(secret), step);
    },
  };
}

export class StaffClient extends ApiClient {
  /** Password, then TOTP; returns the final response. */
  async login(s: TestStaff): Promise<{ status: number; body: Record<string, unknown> }> {
    const r1 = await this.call<{ csrfToken: string; next: string }>('POST', '/api/staff/login', {
      username: s.username,
      password: s.password,
    });
    if (r1.status !== 200) return r1 as unknown as { status: number; body: Record<string, unknown> };
    this.csrf = r1.body.csrfToken;
    const r2 = await this.call('POST', '/api/staff/login/totp', { code: s.nextCode() });
    if (r2.status === 200) this.csrf = String(r2.body.csrfToken);
    return r2;
  }
}

/** A new account with `roles`, logged in (password and TOTP) on a client of its own. */
export async function loggedInStaff(rt: Runtime, base: string, origin: string, roles: StaffRole[]): Promise<StaffClient> {
  const client = new StaffClient(base, origin);
  const r = await client.login(await createStaff(rt, roles));
  if (r.status !== 200) throw new Error(`staff login failed: ${r.status} ${JSON.stringify(r.body)}`);
  return client;
}
