// `certdesk serve --workers N`: N server processes on one port (node:cluster), so OCSP and the API
// use every core. The primary prepares DATA_DIR once (demo CA, key passphrase, demo staff), forks
// the workers and restarts one that dies; it serves nothing itself. The scheduled jobs (CRL refresh,
// responder rotation, order expiry, audit checkpoints) run in worker 0 only, so they run once.
// Connections are accepted by the workers themselves on the shared socket (SCHED_NONE): with the
// primary's round-robin every connection would cost a hand-off over IPC.
import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config/config.js';
import { openRuntime } from '../runtime.js';
import { seedDemoStaff } from '../staff/demo.js';
import { closeOnSignals } from '../shared/shutdown.js';

/** the environment variable telling a worker its index */
const INDEX_VAR = 'CERTDESK_WORKER_INDEX';
/** a worker that dies within this long of its start without ever listening stops the server (a setup error) */
const RESTART_AFTER_MS = 5_000;

const line = (msg: string, extra: Record<string, unknown> = {}): void =>
  void process.stderr.write(JSON.stringify({ level: 30, time: Date.now(), msg, ...extra }) + '\n');

/** In a worker: its index; undefined in the primary or a server started without workers. */
export function workerIndex(): number | undefined {
  return cluster.isWorker ? Number(process.env[INDEX_VAR]) : undefined;
}

/** The primary: prepares DATA_DIR, runs `config.workers` workers until SIGTERM/SIGINT. */
export async function runPrimary(config: Config): Promise<void> {
  const rt = await openRuntime(config, { createDemoCa: true });
  await seedDemoStaff(rt);
  await rt.close();

  cluster.schedulingPolicy = cluster.SCHED_NONE;
  let stopping = false;
  const workers = new Map<number, Worker>();
  let resolveStopped: () => void = () => {};
  const stopped = new Promise<void>((r) => (resolveStopped = r));

  const fork = (index: number): void => {
    const started = Date.now();
    let listening = false;
    const w = cluster.fork({ [INDEX_VAR]: String(index) });
    workers.set(index, w);
    w.on('listening', () => {
      listening = true;
      line('certdesk worker listening', { worker: index, pid: w.process.pid });
    });
    w.on('exit', (code, signal) => {
      workers.delete(index);
      if (stopping) {
        if (workers.size === 0) resolveStopped();
        return;
      }
      if (!listening && Date.now() - started < RESTART_AFTER_MS) {
        process.stderr.write(`certdesk: worker ${index} exited (${code ?? signal}) before it could serve; stopping\n`);
        process.exitCode = 1;
        void stop();
        return;
      }
      line('certdesk worker exited; starting a new one', { worker: index, code, signal });
      fork(index);
    });
  };

  const stop = async (): Promise<void> => {
    if (stopping) return stopped;
    stopping = true;
    if (workers.size === 0) resolveStopped();
    for (const w of workers.values()) w.process.kill('SIGTERM');
    return stopped;
  };

  for (let i = 0; i < config.workers; i++) fork(i);
  line('certdesk is serving with workers', { workers: config.workers, url: config.publicUrl, primary: process.pid });
  closeOnSignals(stop);
  await stopped;
  if (process.exitCode) process.exit(process.exitCode);
}
