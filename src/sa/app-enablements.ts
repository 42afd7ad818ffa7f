// Relying applications (应用开通) and the holders' enablements of them. An enablement belongs to the
// holder (holders.id, i.e. the 唯一识别号), never to a certificate serial, so it survives renewal,
// upgrade and change of details.
import type { Selectable } from 'kysely';
import type { Executor } from './database.js';
import type { AppEnablementTable, RelyingAppTable } from './schema.js';

export type RelyingApp = Selectable<RelyingAppTable>;
export type AppEnablement = Selectable<AppEnablementTable>;

export async function activeRelyingApps(db: Executor): Promise<RelyingApp[]> {
  return db.selectFrom('relying_apps').selectAll().where('active', '=', 1).orderBy('name').execute();
}

export async function getRelyingApp(db: Executor, id: string): Promise<RelyingApp | undefined> {
  return db.selectFrom('relying_apps').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function relyingAppByCredential(db: Executor, credentialId: string): Promise<RelyingApp | undefined> {
  return db.selectFrom('relying_apps').selectAll().where('credential_id', '=', credentialId).executeTakeFirst();
}

/** The holder's enablements (every state), newest end first. */
export async function enablementsOf(db: Executor, holderId: number, appId?: string): Promise<AppEnablement[]> {
  let q = db.selectFrom('app_enablements').selectAll().where('holder_id', '=', holderId);
  if (appId) q = q.where('app_id', '=', appId);
  return q.orderBy('ends_at', 'desc').execute();
}

export async function enablementByOrder(db: Executor, orderId: string): Promise<AppEnablement | undefined> {
  return db.selectFrom('app_enablements').selectAll().where('order_id', '=', orderId).executeTakeFirst();
}

export async function insertEnablement(db: Executor, row: AppEnablement): Promise<void> {
  await db.insertInto('app_enablements').values(row).execute();
}

/** Ends every active enablement of the holder for the app; returns how many. */
export async function endEnablements(db: Executor, holderId: number, appId: string, at: number): Promise<number> {
  const r = await db
    .updateTable('app_enablements')
    .set({ state: 'ended', ended_at: at })
    .where('holder_id', '=', holderId)
    .where('app_id', '=', appId)
    .where('state', '=', 'active')
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}
