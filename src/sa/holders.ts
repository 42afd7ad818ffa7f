// Holders: the organisation or person a certificate belongs to, keyed by 唯一识别号.
import { PreparedQuery } from './compiled.js';
import type { Executor } from './database.js';
import type { HolderKind, HolderTable } from './schema.js';
import type { Selectable } from 'kysely';

export type Holder = Selectable<HolderTable>;

export interface HolderInput {
  kind: HolderKind;
  name: string;
  uniqueId: string;
  contactName?: string | null;
  phone?: string | null;
  email?: string | null;
  address?: string | null;
  postcode?: string | null;
}

const holderByUniqueId = new PreparedQuery(['uniqueId'], (db, p) =>
  db.selectFrom('holders').selectAll().where('unique_id', '=', p.uniqueId),
);

export async function findHolderByUniqueId(db: Executor, uniqueId: string): Promise<Holder | undefined> {
  return holderByUniqueId.first(db, { uniqueId });
}

/** Several holders by 唯一识别号 in one query, by unique ID; one not found is absent. */
export async function findHoldersByUniqueIds(db: Executor, uniqueIds: string[]): Promise<Map<string, Holder>> {
  const unique = [...new Set(uniqueIds)];
  if (unique.length === 0) return new Map();
  const rows = await db.selectFrom('holders').selectAll().where('unique_id', 'in', unique).execute();
  return new Map(rows.map((h) => [h.unique_id, h]));
}

const holderById = new PreparedQuery(['id'], (db, p) => db.selectFrom('holders').selectAll().where('id', '=', p.id));

/**
 * The holder with this id; none for no id (a record without a holder). `known`: the holder as the
 * caller has just read it, returned instead of reading it again when it is this one.
 */
export async function getHolder(db: Executor, id: number | null, known?: Holder): Promise<Holder | undefined> {
  if (id === null) return undefined;
  return known?.id === id ? known : holderById.first(db, { id });
}

/** Returns the holder with this unique ID, creating it when new (the name is kept as first recorded). */
export async function ensureHolder(db: Executor, h: HolderInput): Promise<Holder> {
  const existing = await findHolderByUniqueId(db, h.uniqueId);
  if (existing) return existing;
  await db
    .insertInto('holders')
    .values({
      kind: h.kind,
      name: h.name,
      unique_id: h.uniqueId,
      contact_name: h.contactName ?? null,
      phone: h.phone ?? null,
      email: h.email ?? null,
      address: h.address ?? null,
      postcode: h.postcode ?? null,
      created_at: Date.now(),
      reminders_opt_out_at: null,
    })
    .execute();
  return (await findHolderByUniqueId(db, h.uniqueId))!;
}

/** Renames a holder from `from` to `to` (a change of 名称, 变更证书); false when its name was not `from`. */
export async function renameHolder(db: Executor, id: number, r: { from: string; to: string }): Promise<boolean> {
  const u = await db
    .updateTable('holders')
    .set({ name: r.to })
    .where('id', '=', id)
    .where('name', '=', r.from)
    .executeTakeFirst();
  return Number(u.numUpdatedRows) === 1;
}

/** Sets the holder's notification contact (from a service point); the reminder opt-out is kept as it was. */
export async function setHolderContact(db: Executor, id: number, c: { email: string; phone?: string }): Promise<void> {
  await db
    .updateTable('holders')
    .set({ email: c.email, ...(c.phone !== undefined ? { phone: c.phone } : {}) })
    .where('id', '=', id)
    .execute();
}
