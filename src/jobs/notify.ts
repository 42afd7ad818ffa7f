// The outbox delivery and expiry reminders, once a minute across all instances (job_runs).
import type { Runtime } from '../runtime.js';
import { runNotify } from '../notify/notifier.js';
import { runPeriodically } from './periodic.js';

export function startNotifyJob(rt: Runtime, log: (msg: string, err?: unknown) => void, intervalMs = 60_000): () => void {
  return runPeriodically(
    intervalMs,
    async () => {
      await runNotify(rt);
    },
    (e) => log('notify job failed', e),
    { atStart: true, once: { storage: rt.storage, job: 'notify', instance: rt.instanceId } },
  );
}
