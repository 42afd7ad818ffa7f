// First start of the demo: when there is no staff account yet, create an admin with a generated
// password and TOTP secret, print how to log in once, and keep it in DATA_DIR/demo-staff.txt (0600).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Runtime } from '../runtime.js';
import { StaffAccounts } from './accounts.js';

export const DEMO_USERNAME = 'admin';

export async function seedDemoStaff(rt: Runtime, out: (text: string) => void = (t) => process.stdout.write(t)): Promise<boolean> {
  const accounts = new StaffAccounts(rt);
  if ((await accounts.count()) > 0) return false;
  const created = await accounts.create(
    { username: DEMO_USERNAME, displayName: 'Demo administrator', roles: ['admin', 'operator', 'auditor', 'reviewer'] },
    'system:first-start',
  );
  const url = `${rt.config.publicUrl}/staff.html`;
  const text = [
    'certdesk staff console — demo administrator (created on first start; shown once)',
    `  console:     ${url}`,
    `  user name:   ${created.account.username}`,
    `  password:    ${created.password}`,
    `  TOTP secret: ${created.totpSecret}   (add it to an authenticator app, or scan the QR code shown at the first login)`,
    `  otpauth URI: ${created.otpauthUri}`,
    `  roles:       admin, operator, auditor, reviewer`,
    '',
  ].join('\n');
  const file = path.join(rt.config.dataDir, 'demo-staff.txt');
  writeFileSync(file, text, { mode: 0o600 });
  out(`${text}  (kept in ${file}, mode 0600)\n`);
  return true;
}
