// Scheduled jobs across instances: each period of a job is claimed by inserting its row; the
// primary key lets exactly one instance (or CLI) win, so a job runs once per period however many
// `certdesk serve` processes share the database. Old rows are pruned as new ones are claimed.
import type { Selectable } from 'kysely';
import { isUniqueViolation, type Executor } from './database.js';
import type { JobRunTable } from './schema.js';

export type JobRun = Selectable<JobRunTable>;

/** Periods of history kept per job (a day of one-minute periods, more for longer ones). */
const KEEP_PERIODS = 1440;

/** True when this caller won `period` of `job` and must run it now. */
export async function claimJobRun(db: Executor, job: string, period: number, instance: string, now: number): Promise<boolean> {
  try {
    const r = await db
      .insertInto('job_runs')
      .values({ job, period, instance, started_at: now, finished_at: null, error: null })
      .onConflict((oc) => oc.columns(['job', 'period']).doNothing())
      .executeTakeFirst();
    if (Number(r.numInsertedOrUpdatedRows ?? 0) !== 1) return false;
  } catch (e) {
    if (isUniqueViolation(e)) return false;
    throw e;
  }
  await db
    .deleteFrom('job_runs')
    .where('job', '=', job)
    .where('period', '<', period - KEEP_PERIODS)
    .execute();
  return true;
}

export async function finishJobRun(db: Executor, job: string, period: number, now: number, error?: string): Promise<void> {
  await db
    .updateTable('job_runs')
    .set({ finished_at: now, error: error ?? null })
    .where('job', '=', job)
    .where('period', '=', period)
    .execute();
}

export async function listJobRuns(db: Executor, job?: string): Promise<JobRun[]> {
  let q = db.selectFrom('job_runs').selectAll();
  if (job) q = q.where('job', '=', job);
  return q.orderBy('job').orderBy('period').execute();
}
