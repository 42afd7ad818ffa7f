// Upgrade paths (升级证书) in the catalogue: which certificate type may become which. A path that is
// inactive or absent is "not open"; the portal must refuse it, never fall back to another.
import type { Selectable } from 'kysely';
import type { Executor } from './database.js';
import type { UpgradeOrderTable, UpgradePathTable } from './schema.js';

export type UpgradePath = Selectable<UpgradePathTable>;

/** The active upgrade paths that start at a certificate type, cheapest first. */
export async function openUpgradePaths(db: Executor, fromType: string): Promise<UpgradePath[]> {
  return db
    .selectFrom('upgrade_paths')
    .selectAll()
    .where('from_type', '=', fromType)
    .where('active', '=', 1)
    .orderBy('price_fen')
    .orderBy('to_type')
    .execute();
}

/** One path if it is open (active), else undefined. */
export async function openUpgradePath(db: Executor, fromType: string, toType: string): Promise<UpgradePath | undefined> {
  return db
    .selectFrom('upgrade_paths')
    .selectAll()
    .where('from_type', '=', fromType)
    .where('to_type', '=', toType)
    .where('active', '=', 1)
    .executeTakeFirst();
}

/** Every path, for the staff catalogue page. */
export async function allUpgradePaths(db: Executor): Promise<UpgradePath[]> {
  return db.selectFrom('upgrade_paths').selectAll().orderBy('from_type').orderBy('to_type').execute();
}

/**
 * The new certificate's notAfter: the path's term from `now`, plus the old certificate's unexpired
 * time when the path carries it over (an expired old certificate carries nothing).
 */
export function upgradedNotAfter(path: Pick<UpgradePath, 'term_years' | 'carry_over'>, now: Date, oldNotAfter: Date): Date {
  const end = new Date(now.getTime());
  end.setUTCFullYear(end.getUTCFullYear() + path.term_years);
  const remaining = path.carry_over === 1 ? Math.max(0, oldNotAfter.getTime() - now.getTime()) : 0;
  return new Date(end.getTime() + remaining);
}

export type UpgradeOrder = Selectable<UpgradeOrderTable>;

export async function insertUpgradeOrder(db: Executor, row: UpgradeOrder): Promise<void> {
  await db.insertInto('upgrade_orders').values(row).execute();
}

export async function getUpgradeOrder(db: Executor, orderId: string): Promise<UpgradeOrder | undefined> {
  return db.selectFrom('upgrade_orders').selectAll().where('order_id', '=', orderId).executeTakeFirst();
}

/** Staff: adds or replaces a path (the catalogue page). */
export async function saveUpgradePath(db: Executor, p: Omit<UpgradePath, 'updated_at'>, now = Date.now()): Promise<void> {
  await db
    .insertInto('upgrade_paths')
    .values({ ...p, updated_at: now })
    .onConflict((oc) =>
      oc.columns(['from_type', 'to_type']).doUpdateSet({
        price_fen: p.price_fen,
        term_years: p.term_years,
        new_key: p.new_key,
        carry_over: p.carry_over,
        active: p.active,
        updated_at: now,
      }),
    )
    .execute();
}
