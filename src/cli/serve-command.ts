// `certdesk serve`: the HTTP server (API, PKI endpoints, portal) plus scheduled jobs.
import type { Command } from 'commander';
import { buildServer } from '../api/server.js';
import { webAppBuilt, webAppMissingMessage } from '../api/web-app.js';
import { loadConfig, type Config } from '../config/config.js';
import { startCrlRefresher } from '../jobs/crl-refresher.js';
import { startAuditCheckpoints } from '../jobs/audit-checkpoint.js';
import { startResponderRotation } from '../jobs/responder-rotation.js';
import { startOrderJobs } from '../jobs/order-jobs.js';
import { startNotifyJob } from '../jobs/notify.js';
import { jobRuns } from '../jobs/periodic.js';
import { openRuntime, type Runtime } from '../runtime.js';
import { exclusively } from '../sa/database.js';
import { seedDemoStaff } from '../staff/demo.js';
import { action } from './errors.js';
import { ensurePortsFree } from './ports.js';
import { closeOnSignals } from '../shared/shutdown.js';
import { runPrimary, workerIndex } from './serve-workers.js';

export interface RunningServer {
  rt: Runtime;
  /** stops jobs, the server and the runtime */
  close(): Promise<void>;
  log: (msg: string, extra?: Record<string, unknown>) => void;
}

/**
 * Opens the runtime (creating the demo CA on an empty DATA_DIR), listens, starts the jobs — unless
 * `jobs` is false (the workers of `serve --workers N` but one).
 */
export async function startServer(config: Config, opts: { jobs?: boolean } = {}): Promise<RunningServer> {
  const rt = await openRuntime(config, {
    createDemoCa: true,
    log: (msg, err) =>
      process.stderr.write(
        JSON.stringify({ level: err ? 50 : 30, time: Date.now(), msg, err: err ? String(err) : undefined }) + '\n',
      ),
  });
  // first start: a demo admin for the staff console, printed once (by one instance of several)
  await exclusively(rt.storage, () => seedDemoStaff(rt));
  // a changed PKI_URL is recorded, and the shard CRLs re-signed to name it, before anyone is served
  await rt.ca.recordPkiUrl();
  const { app, metrics } = await buildServer(rt);
  const jobMs = config.jobIntervalSeconds * 1000;
  const onJobRun = (job: string, period: number): void => app.log.debug({ job, period }, 'job run');
  jobRuns.on('run', onJobRun);
  const stops: (() => void)[] = [
    () => jobRuns.off('run', onJobRun),
    // every process: its reload picks up responders rotated elsewhere; the rotation runs once across them
    startResponderRotation(rt, (msg, err) => (err ? app.log.error({ err }, msg) : app.log.info(msg)), jobMs),
  ];
  if (opts.jobs !== false) {
    stops.push(
      startCrlRefresher(
        rt,
        () => metrics.crlsPublished.inc(),
        (msg, err) => app.log.error({ err }, msg),
      ),
      startOrderJobs(rt, (msg, err) => app.log.error({ err }, msg), jobMs),
      startNotifyJob(rt, (msg, err) => app.log.error({ err }, msg), jobMs),
      startAuditCheckpoints(rt, (msg, extra, err) =>
        err ? app.log.error({ err, ...extra }, msg) : app.log.info(extra ?? {}, msg),
      ),
    );
  }
  await app.listen({ port: config.port, host: config.host });
  // a plain line, not a JSON log entry: the first thing someone who skipped the web build must read
  if (!webAppBuilt(rt)) process.stderr.write(`certdesk: ${webAppMissingMessage(rt)}\n`);
  app.log.info({ url: config.publicUrl, dataDir: config.dataDir, database: rt.storage.location }, 'certdesk is serving');
  return {
    rt,
    log: (msg, extra) => app.log.info(extra ?? {}, msg),
    async close() {
      for (const stop of stops) stop();
      await app.close();
      await rt.close();
    },
  };
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('start the HTTP server; with an empty DATA_DIR it first creates the demo CA hierarchy')
    .option('--port <n>', 'listen port (overrides PORT)')
    .option('--host <addr>', 'listen address (overrides HOST)')
    .option('--workers <n>', 'server processes on the one port, e.g. one per core (overrides WORKERS; default 1)')
    .action(
      action(async (o: { port?: string; host?: string; workers?: string }) => {
        const env = {
          ...process.env,
          ...(o.port ? { PORT: o.port } : {}),
          ...(o.host ? { HOST: o.host } : {}),
          ...(o.workers ? { WORKERS: o.workers } : {}),
        };
        const config = loadConfig(env);
        const index = workerIndex();
        if (index !== undefined) {
          // a worker of `serve --workers N`: the primary checked the port; worker 0 runs the jobs
          const server = await startServer(config, { jobs: index === 0 });
          closeOnSignals(() => server.close());
          return;
        }
        await ensurePortsFree([
          { port: config.port, host: config.host, what: 'the server', change: 'set PORT (or pass --port), e.g. PORT=8081' },
        ]);
        if (config.workers > 1) return runPrimary(config);
        const server = await startServer(config);
        closeOnSignals(() => server.close());
      }),
    );
}
