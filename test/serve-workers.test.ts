// `certdesk serve --workers 2` (the built CLI): two server processes on one port answer OCSP with
// the status of the moment (a CLI revocation shows on every new connection, whichever worker takes
// it), a worker that dies is replaced, and SIGTERM to the primary stops them all.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { toPem } from '../src/pki/pem.js';
import { createTestCa, opensslAsync, opensslCsr, type TestCa } from './helpers/ca.js';
import { cliAsync } from './helpers/cli.js';
import {
  alive,
  BUILT_CLI,
  descendants,
  eventually,
  freePort,
  processRefs,
  run,
  stillRunning,
  type Running,
} from './helpers/processes.js';

describe('certdesk serve --workers 2', () => {
  let ca: TestCa;
  let server: Running;
  let base: string;
  let files: { root: string; chain: string };

  before(async () => {
    const port = await freePort();
    ca = await createTestCa({ port });
    files = ca.files();
    base = `http://127.0.0.1:${port}`;
    server = run(process.execPath, [BUILT_CLI, 'serve', '--workers', '2'], { env: { ...ca.env, LOG_LEVEL: 'info' } });
    await server.waitFor(/certdesk is serving with workers/, 'the primary');
    await eventually(() => (server.out().match(/certdesk worker listening/g) ?? []).length >= 2, 60_000);
  });
  after(async () => {
    await server?.stop();
    await ca?.cleanup();
  });

  const workerPids = (): number[] => descendants(server.proc.pid!).filter(alive);

  test('both workers answer OCSP; a CLI revocation is seen at once on every new connection', async () => {
    assert.equal((server.out().match(/certdesk worker listening/g) ?? []).length, 2, server.out());
    assert.equal(workerPids().length, 2, 'two worker processes under the primary');
    const { csr } = opensslCsr(ca.dir, '/CN=多进程/O=测试/C=CN');
    const issued = await ca.rt.ca.issue({ csr, profileId: 'org-identity', actor: 'test' });
    const file = path.join(ca.dir, 'workers.pem');
    writeFileSync(file, toPem('CERTIFICATE', issued.der));
    const check = (): Promise<{ out: string }> =>
      opensslAsync(['ocsp', '-issuer', files.chain, '-cert', file, '-url', `${base}/ocsp`, '-CAfile', files.root]);
    const good = await check();
    assert.match(good.out, /Response verify OK/);
    assert.match(good.out, /: good/);

    const r = await cliAsync(['ca', 'revoke', '--serial', issued.record.serial, '--reason', 'keyCompromise'], ca.env);
    assert.equal(r.status, 0, r.stderr);
    // a fresh connection per check: the kernel spreads them over both workers
    for (let i = 0; i < 8; i++) assert.match((await check()).out, /: revoked/);
    assert.equal((await fetch(`${base}/healthz`)).status, 200, 'non-OCSP requests reach Fastify in the workers');
  });

  test('a worker that dies is replaced, and the port keeps serving', async () => {
    const [victim] = workerPids();
    process.kill(victim!, 'SIGKILL');
    assert.ok(
      await eventually(
        () => /starting a new one/.test(server.out()) && workerPids().length === 2 && !workerPids().includes(victim!),
      ),
      server.out(),
    );
    assert.ok(await eventually(async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200));
  });

  test('SIGTERM to the primary stops every worker', async () => {
    const pids = processRefs(workerPids());
    assert.equal(pids.length, 2);
    await server.stop();
    assert.ok(await eventually(() => pids.every((p) => !stillRunning(p))), 'no worker outlives the primary');
  });
});
