// The one timer every job runs on: a tick at a fixed interval (and optionally at once), never two
// ticks of the same job at a time, errors handed to the job's logger, and no hold on process exit.
// With `once`, a tick runs only if this process claims the current period of the job in the
// database (sa/job-runs.ts): however many instances share the database, the job runs once a period.
import { EventEmitter } from 'node:events';
import type { Storage } from '../sa/database.js';
import { claimJobRun, finishJobRun } from '../sa/job-runs.js';

export interface OncePerPeriod {
  storage: Storage;
  /** the job's name in job_runs */
  job: string;
  /** this process (Runtime.instanceId) */
  instance: string;
}

/** 'run' (job, period, instance) when this process won a period and starts the job: `certdesk serve` logs it at debug. */
export const jobRuns = new EventEmitter();

/** Runs `tick` every `intervalMs`; returns the function that stops it. */
export function runPeriodically(
  intervalMs: number,
  tick: () => Promise<void>,
  onError: (err: unknown) => void,
  opts: { atStart?: boolean; once?: OncePerPeriod } = {},
): () => void {
  let running = false;
  const run = async (): Promise<void> => {
    if (running) return;
    running = true;
    const once = opts.once;
    let period: number | undefined;
    try {
      if (once) {
        const now = Date.now();
        const p = Math.floor(now / intervalMs);
        if (!(await claimJobRun(once.storage.db, once.job, p, once.instance, now))) return; // another instance has it
        period = p;
      }
      if (once) jobRuns.emit('run', once.job, period!, once.instance);
      await tick();
      if (once && period !== undefined) await finishJobRun(once.storage.db, once.job, period, Date.now());
    } catch (e) {
      onError(e);
      if (once && period !== undefined)
        await finishJobRun(once.storage.db, once.job, period, Date.now(), String((e as Error)?.message ?? e)).catch(onError);
    } finally {
      running = false;
    }
  };
  if (opts.atStart) void run();
  const timer = setInterval(() => void run(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
