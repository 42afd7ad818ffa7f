// Order housekeeping: expire unpaid orders, and actively query the gateway about recent online
// orders whose notification may be late or lost.
import type { Runtime } from '../runtime.js';

export function startOrderJobs(rt: Runtime, log: (msg: string, err?: unknown) => void, intervalMs = 60_000): () => void {
  let running = false;
  const tick = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      await rt.renewals.expireOrders();
      await rt.renewals.reconcileRecent(48 * 3600_000);
    } catch (e) {
      log('order jobs failed', e);
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
