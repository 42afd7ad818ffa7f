// The certdesk server as `bench:ocsp` runs it: a child process (so it has its own event loop, as in
// production) with the runtime of DATA_DIR and logging off, listening on 127.0.0.1 on a free port.
// Prints `LISTENING <port>` once ready; exits on SIGTERM or when stdin closes.
import { buildServer } from '../../src/api/server.js';
import { loadConfig } from '../../src/config/config.js';
import { openRuntime } from '../../src/runtime.js';

const config = loadConfig({ ...process.env, HOST: '127.0.0.1', PORT: '0' });
const rt = await openRuntime(config);
const { app } = await buildServer(rt, { logger: false });
await app.listen({ host: '127.0.0.1', port: 0 });
const addr = app.server.address();
if (!addr || typeof addr === 'string') throw new Error('no TCP address');
process.stdout.write(`LISTENING ${addr.port}\n`);

// BENCH_PROFILE=<file.cpuprofile>: SIGUSR2 starts the V8 CPU profiler, the next SIGUSR2 writes the profile.
if (process.env.BENCH_PROFILE) {
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  let on = false;
  process.on('SIGUSR2', () => {
    void (async () => {
      if (!on) {
        await session.post('Profiler.enable');
        await session.post('Profiler.start');
      } else {
        const { profile } = await session.post('Profiler.stop');
        writeFileSync(process.env.BENCH_PROFILE!, JSON.stringify(profile));
      }
      on = !on;
    })();
  });
}

let closing = false;
const shutdown = async (): Promise<void> => {
  if (closing) return;
  closing = true;
  await app.close();
  await rt.close();
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown());
process.stdin.on('end', () => void shutdown());
process.stdin.resume();
