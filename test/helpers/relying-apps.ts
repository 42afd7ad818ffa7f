// Relying applications and enablements written straight into the database, for tests of what the
// CA tells applications (webhooks): the staff API and 应用开通 have tests of their own.
import { randomUUID } from 'node:crypto';
import type { Executor } from '../../src/sa/database.js';

const YEAR = 365 * 86_400_000;

/** An active app accepting every certificate type, with a webhook URL and secret. */
export async function insertHookApp(db: Executor, id: string, webhookUrl: string, secret: string): Promise<void> {
  const codes = (await db.selectFrom('certificate_types').select('code').execute()).map((t) => t.code);
  const now = Date.now();
  await db
    .insertInto('relying_apps')
    .values({
      id,
      name: `应用 ${id}`,
      name_en: `App ${id}`,
      description: '',
      accepted_types: JSON.stringify(codes),
      fee_per_year_fen: 0,
      credential_id: `cred_${id}`,
      credential_hash: 'x',
      webhook_url: webhookUrl,
      webhook_secret: secret,
      active: 1,
      created_at: now,
      updated_at: now,
    })
    .execute();
}

/** An enablement of `appId` in force for a year for the holder (as a paid 应用开通 order leaves it). */
export async function enableFor(db: Executor, appId: string, holderId: number): Promise<void> {
  const now = Date.now();
  await db
    .insertInto('app_enablements')
    .values({
      id: randomUUID(),
      app_id: appId,
      holder_id: holderId,
      order_id: null,
      starts_at: now - 1000,
      ends_at: now + YEAR,
      state: 'active',
      created_at: now,
      ended_at: null,
    })
    .execute();
}
