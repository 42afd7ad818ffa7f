// Order housekeeping: expire unpaid orders, and actively query the gateway about recent online
// orders whose notification may be late or lost. Once per interval across all instances.
import type { Runtime } from '../runtime.js';
import { runPeriodically } from './periodic.js';

export function startOrderJobs(rt: Runtime, log: (msg: string, err?: unknown) => void, intervalMs = 60_000): () => void {
  return runPeriodically(
    intervalMs,
    async () => {
      await rt.renewals.expireOrders();
      await rt.renewals.reconcileRecent(48 * 3600_000);
      // seals approved and paid (the payment may have come after the approval) are made here too
      await rt.seals.makeDue();
      // 应用开通 orders paid while nobody looked
      await rt.apps.activateDue();
    },
    (e) => log('order jobs failed', e),
    { once: { storage: rt.storage, job: 'order-housekeeping', instance: rt.instanceId } },
  );
}
