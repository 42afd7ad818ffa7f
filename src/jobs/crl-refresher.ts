// Scheduled CRL publication: every CRL issuer gets a fresh CRL when its newest one is older than the
// refresh interval. The check runs once a minute across all instances (job_runs), and checking the
// stored CRL first keeps a CLI or a late instance from signing another.
import type { Runtime } from '../runtime.js';
import { latestCrl } from '../sa/crls.js';
import { runPeriodically } from './periodic.js';

export function startCrlRefresher(rt: Runtime, onPublished: () => void, log: (msg: string, err?: unknown) => void): () => void {
  const intervalMs = rt.config.crlRefreshSeconds * 1000;
  return runPeriodically(
    Math.min(intervalMs, rt.config.jobIntervalSeconds * 1000),
    async () => {
      for (const ca of rt.ca.crlIssuers()) {
        const crl = await latestCrl(rt.storage.db, ca.record.id);
        if (!crl || Date.now() - crl.this_update >= intervalMs * 0.9) {
          await rt.ca.generateCrl(ca.record.id, 'system:crl-refresher');
          onPublished();
        }
      }
    },
    (e) => log('CRL refresh failed', e),
    { atStart: true, once: { storage: rt.storage, job: 'crl-refresh', instance: rt.instanceId } },
  );
}
