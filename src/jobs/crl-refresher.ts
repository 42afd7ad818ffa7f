// Scheduled CRL publication: every CRL scope still in use gets a fresh CRL when its newest one is
// older than the refresh interval. The check runs once a minute across all instances (job_runs), and
// checking the stored CRL first keeps a CLI or a late instance from signing another.
import type { Runtime } from '../runtime.js';
import { crlScopesDue } from '../ca/crl-scopes.js';
import { runPeriodically } from './periodic.js';

export function startCrlRefresher(rt: Runtime, onPublished: () => void, log: (msg: string, err?: unknown) => void): () => void {
  return runPeriodically(
    Math.min(rt.config.crlRefreshSeconds * 1000, rt.config.jobIntervalSeconds * 1000),
    async () => {
      for (const ca of rt.ca.crlIssuers()) {
        // one shard at a time, each its own short transaction: issuance waits for one shard, not all
        for (const shard of await crlScopesDue(rt.storage.db, rt.config, ca.record, Date.now())) {
          await rt.ca.generateCrl(ca.record.id, 'system:crl-refresher', shard);
          onPublished();
        }
      }
    },
    (e) => log('CRL refresh failed', e),
    { atStart: true, once: { storage: rt.storage, job: 'crl-refresh', instance: rt.instanceId } },
  );
}
