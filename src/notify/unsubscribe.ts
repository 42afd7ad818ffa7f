// The unsubscribe link in every mail: a token naming the holder, HMAC-signed with a key kept in
// settings (made on first use), so the GET that records the opt-out needs no login and cannot be
// forged for another holder.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Executor } from '../sa/database.js';
import { getSetting } from '../sa/catalogue.js';

const KEY_SETTING = 'notify_unsubscribe_key';

async function key(db: Executor): Promise<Buffer> {
  let k = await getSetting<string | null>(db, KEY_SETTING, null);
  if (!k) {
    await db
      .insertInto('settings')
      .values({ key: KEY_SETTING, value: JSON.stringify(randomBytes(32).toString('hex')) })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    k = await getSetting<string>(db, KEY_SETTING, '');
  }
  return Buffer.from(k, 'hex');
}

const mac = (k: Buffer, holderId: number): Buffer => createHmac('sha256', k).update(`unsubscribe:${holderId}`).digest();

export async function unsubscribeToken(db: Executor, holderId: number): Promise<string> {
  return `${holderId}.${mac(await key(db), holderId).toString('base64url')}`;
}

/** The holder the token names, or undefined when it is not a token this CA made. */
export async function checkUnsubscribeToken(db: Executor, token: string): Promise<number | undefined> {
  const m = /^(\d{1,15})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return undefined;
  const id = Number(m[1]);
  const given = Buffer.from(m[2]!, 'base64url');
  return timingSafeEqual(given, mac(await key(db), id)) ? id : undefined;
}

export async function optOut(db: Executor, holderId: number): Promise<void> {
  await db
    .updateTable('holders')
    .set({ reminders_opt_out_at: Date.now() })
    .where('id', '=', holderId)
    .where('reminders_opt_out_at', 'is', null)
    .execute();
}
