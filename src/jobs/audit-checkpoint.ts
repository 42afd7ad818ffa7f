// Writes the audit log's head (SEQ:HASH) to the server log at start and every hour. The log lives
// outside the database, so a later `certdesk audit verify --checkpoint SEQ:HASH` shows whether
// entries were cut off the end of the chain since — something the chain cannot show by itself.
// One instance writes it per interval (job_runs), whichever claims the period.
import type { Runtime } from '../runtime.js';
import { auditHead, formatCheckpoint } from '../sa/audit.js';
import { runPeriodically } from './periodic.js';

export function startAuditCheckpoints(
  rt: Runtime,
  log: (msg: string, extra?: Record<string, unknown>, err?: unknown) => void,
  intervalMs = 3600_000,
): () => void {
  let last: string | undefined;
  return runPeriodically(
    intervalMs,
    async () => {
      const head = await auditHead(rt.storage.db);
      const checkpoint = head ? formatCheckpoint(head) : undefined;
      if (checkpoint && checkpoint !== last) log('audit checkpoint', { checkpoint });
      last = checkpoint;
    },
    (e) => log('audit checkpoint failed', {}, e),
    { atStart: true, once: { storage: rt.storage, job: 'audit-checkpoint', instance: rt.instanceId } },
  );
}
