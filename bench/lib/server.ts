// Running the built CLI from a benchmark: `bin/certdesk.js` on a dist/ rebuilt when stale, and
// `certdesk serve --workers N` started on a free port and waited for until every worker answers.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../test/helpers/processes.js';
import { BenchError } from './common.js';

/** One way to find a port, shared with the tests (below the ephemeral range: see there). */
export { freePort };

/** bin/certdesk.js, the CLI as installed, on a dist/ rebuilt first when older than src/ (as scripts/run-tests.sh does). */
export function builtCli(): string {
  const root = path.join(import.meta.dirname, '..', '..');
  const main = path.join(root, 'dist', 'cli', 'main.js');
  const newer = spawnSync('find', ['src', '-type', 'f', '-newer', main], { cwd: root, encoding: 'utf8' });
  if (newer.status !== 0 || newer.stdout.trim() !== '') {
    console.log('dist/ is missing or older than src/: npm run build');
    const b = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
    if (b.status !== 0) throw new BenchError('npm run build failed');
  }
  return path.join(root, 'bin', 'certdesk.js');
}

export interface Served {
  port: number;
  proc: ChildProcess;
}

/** `certdesk serve --workers <workers>` with `env` (DATA_DIR, DATABASE_URL, …), ready when every worker has said so. */
export async function startServe(env: NodeJS.ProcessEnv, workers: number): Promise<Served> {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    // BENCH_SERVER_NODE_FLAGS: e.g. --cpu-prof, to profile the server a bench drives
    [
      ...(process.env.BENCH_SERVER_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
      builtCli(),
      'serve',
      '--workers',
      String(workers),
    ],
    {
      env: { ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<never>((_, reject) =>
    proc.once('exit', (code) => reject(new BenchError(`certdesk serve exited with code ${code}: ${err.slice(-800)}`))),
  );
  // ready when every worker answers: probe until `workers` workers have said they listen
  const ready = (async () => {
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (Date.now() > deadline) throw new BenchError(`certdesk serve did not start: ${err.slice(-800)}`);
      const up = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (up && (workers === 1 || (err.match(/certdesk worker listening/g) ?? []).length >= workers)) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  await Promise.race([ready, exited]);
  exited.catch(() => {});
  return { port, proc };
}

export async function stopServe(s: { proc: ChildProcess } | undefined): Promise<void> {
  if (!s || s.proc.exitCode !== null || s.proc.signalCode !== null) return;
  const exited = new Promise((resolve) => s.proc.once('exit', resolve));
  s.proc.kill('SIGTERM');
  const t = setTimeout(() => s.proc.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(t);
}
