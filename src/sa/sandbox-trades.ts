// The sandbox gateway's ledger. It stands for the payment platform's own database, so nothing in the
// RA reads it: the RA learns of payments only through signed notifications and queries.
import type { Selectable } from 'kysely';
import type { Executor } from './database.js';
import type { SandboxTradeTable } from './schema.js';

export type SandboxTrade = Selectable<SandboxTradeTable>;

export async function findTrade(db: Executor, merchantId: string, outTradeNo: string): Promise<SandboxTrade | undefined> {
  return db
    .selectFrom('sandbox_trades')
    .selectAll()
    .where('merchant_id', '=', merchantId)
    .where('out_trade_no', '=', outTradeNo)
    .executeTakeFirst();
}

export async function getTrade(db: Executor, tradeNo: string): Promise<SandboxTrade | undefined> {
  return db.selectFrom('sandbox_trades').selectAll().where('trade_no', '=', tradeNo).executeTakeFirst();
}

export async function insertTrade(db: Executor, t: SandboxTrade): Promise<void> {
  await db
    .insertInto('sandbox_trades')
    .values(t)
    .onConflict((oc) => oc.columns(['merchant_id', 'out_trade_no']).doNothing())
    .execute();
}

/** pending → paid, once. */
export async function markTradePaid(db: Executor, tradeNo: string, bank: string, now: number): Promise<boolean> {
  const r = await db
    .updateTable('sandbox_trades')
    .set({ status: 'paid', bank, paid_at: now, next_notify_at: now })
    .where('trade_no', '=', tradeNo)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function tradesToNotify(db: Executor, now: number): Promise<SandboxTrade[]> {
  return db
    .selectFrom('sandbox_trades')
    .selectAll()
    .where('status', '=', 'paid')
    .where('notified_at', 'is', null)
    .where('next_notify_at', '<=', now)
    .limit(50)
    .execute();
}

/**
 * Takes the due notification of `trade` for this process: true for exactly one of the instances that
 * saw it due (its next attempt moves to `leaseUntil` meanwhile, so a process that dies mid-send
 * leaves it to another instance after the lease).
 */
export async function claimNotification(db: Executor, trade: SandboxTrade, leaseUntil: number): Promise<boolean> {
  const r = await db
    .updateTable('sandbox_trades')
    .set({ next_notify_at: leaseUntil })
    .where('trade_no', '=', trade.trade_no)
    .where('notified_at', 'is', null)
    .where('next_notify_at', '=', trade.next_notify_at)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function recordNotifyAttempt(
  db: Executor,
  tradeNo: string,
  acked: boolean,
  nextAt: number | null,
  now: number,
): Promise<void> {
  await db
    .updateTable('sandbox_trades')
    .set((eb) => ({
      notify_attempts: eb('notify_attempts', '+', 1),
      next_notify_at: acked ? null : nextAt,
      notified_at: acked ? now : null,
    }))
    .where('trade_no', '=', tradeNo)
    .execute();
}
