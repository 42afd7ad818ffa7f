// The operator's view: `certdesk serve` on an empty DATA_DIR, the ops endpoints, the CLI's help and
// error messages, and `certdesk audit verify` catching a tampered row.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { openssl, opensslAsync, opensslCsr } from './helpers/ca.js';
import { CERTDESK, cli, cliAsync, ROOT } from './helpers/cli.js';
import { freePort } from './helpers/processes.js';

async function waitFor(url: string, ms = 30_000): Promise<Response> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fetch(url);
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

describe('certdesk serve on an empty DATA_DIR', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let server: ChildProcess;
  let base: string;
  let logs = '';
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'certdesk-serve-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = { ...process.env, DATA_DIR: dir, PORT: String(port), PUBLIC_URL: base };
    delete env.DATABASE_URL;
    delete env.CA_KEY_PASSPHRASE;
    server = spawn(process.execPath, [CERTDESK, 'serve'], { env, cwd: ROOT });
    server.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
    server.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
    await waitFor(`${base}/healthz`);
  });
  after(() => {
    server?.kill('SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('creates the demo hierarchies (ECDSA and SM2) with a generated passphrase kept in DATA_DIR (mode 0600), keys encrypted', () => {
    const pass = path.join(dir, 'ca-key-passphrase');
    assert.equal(statSync(pass).mode & 0o777, 0o600);
    const list = cli(['ca', 'roots'], env);
    assert.equal(list.status, 0, list.stderr);
    assert.equal(list.stdout.match(/BEGIN CERTIFICATE/g)?.length, 2, 'an ECDSA and an SM2 root');
    const keyFiles = readFileSync(path.join(dir, 'certdesk.sqlite')).includes(Buffer.from('PRIVATE KEY'));
    assert.equal(keyFiles, false, 'no key material in the database');
    const keysDir = path.join(dir, 'keys');
    const files = listDir(keysDir);
    assert.equal(files.length, 6, 'root, issuing and responder keys of both hierarchies');
    for (const f of files) assert.match(readFileSync(path.join(keysDir, f), 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);
  });

  test('healthz, readyz, metrics, openapi.json answer; logs are JSON lines', async () => {
    assert.deepEqual(await (await fetch(`${base}/healthz`)).json(), { status: 'ok' });
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 200);
    const body = (await ready.json()) as { status: string; checks: Record<string, string> };
    assert.equal(body.status, 'ready');
    assert.equal(body.checks.database, 'ok');
    assert.equal(Object.keys(body.checks).filter((k) => k.startsWith('key:')).length, 6, 'every key of both hierarchies signs');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /certdesk_http_request_duration_seconds_bucket/);
    assert.match(metrics, /process_cpu_user_seconds_total/);
    const statements = (m: string): number => Number(/^certdesk_db_statements_total (\d+)$/m.exec(m)?.[1]);
    assert.ok(statements(metrics) > 0, 'the statements of the start and the checks so far are counted');
    await fetch(`${base}/readyz`);
    assert.ok(statements(await (await fetch(`${base}/metrics`)).text()) > statements(metrics), 'the readiness check counts');
    const api = (await (await fetch(`${base}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    assert.match(api.openapi, /^3\./);
    for (const p of ['/healthz', '/readyz', '/ocsp', '/pki/crl/{id}.crl', '/pki/ca/{id}.cer'])
      assert.ok(p in api.paths, `${p} documented`);
    const lines = logs.split('\n').filter((l) => l.startsWith('{'));
    assert.ok(lines.length > 0);
    for (const l of lines) JSON.parse(l);
  });

  test('a certificate issued by the CLI is good over OCSP from the running server, then revoked at once', async () => {
    const { csrFile } = opensslCsr(dir, '/CN=演示/O=演示/C=CN');
    const issued = await cliAsync(
      ['ca', 'issue', '--csr', csrFile, '--profile', 'org-identity', '--subject', '{"CN":"企业测试","O":"企业测试","C":"CN"}'],
      env,
    );
    assert.equal(issued.status, 0, issued.stderr);
    const certFile = path.join(dir, 'c.pem');
    writeFileSync(certFile, issued.stdout);
    const root = path.join(dir, 'root.pem');
    const chain = path.join(dir, 'chain.pem');
    writeFileSync(root, (await cliAsync(['ca', 'roots'], env)).stdout);
    writeFileSync(chain, (await cliAsync(['ca', 'chain'], env)).stdout);
    const ocspArgs = ['ocsp', '-issuer', chain, '-cert', certFile, '-url', `${base}/ocsp`, '-CAfile', root];
    assert.match((await opensslAsync(ocspArgs)).out, /: good/);
    const serial = /serial=([0-9A-F]+)/.exec(openssl(['x509', '-in', certFile, '-noout', '-serial']).out)![1]!;
    assert.equal((await cliAsync(['ca', 'revoke', '--serial', serial, '--reason', 'keyCompromise'], env)).status, 0);
    assert.match((await opensslAsync(ocspArgs)).out, /: revoked/);
  });

  test('while another process holds the database’s write lock, the server goes on answering, and its own write goes through once the lock is free', async () => {
    // another process (a CLI, another worker) in a long write transaction
    const holdMs = 2000;
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const d = new (require('better-sqlite3'))(${JSON.stringify(path.join(dir, 'certdesk.sqlite'))});
         d.exec('begin immediate'); console.log('held');
         setTimeout(() => { d.exec('commit'); console.log('released'); }, ${holdMs});`,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
    const t0 = Date.now();
    // a write: a login challenge records its rate-limit hit and the challenge
    const write = fetch(`${base}/api/portal/login/challenge`, { method: 'POST', headers: { origin: base } }).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as { challenge?: string },
      ms: Date.now() - t0,
    }));
    await new Promise((r) => setTimeout(r, 50));
    // meanwhile: readiness (a database read and a CA signature) keeps answering. Before, SQLite's busy
    // handler slept on the event loop at the write's BEGIN, and the whole server stopped for holdMs.
    const probes: number[] = [];
    while (Date.now() - t0 < holdMs - 400) {
      const p0 = Date.now();
      const r = await fetch(`${base}/readyz`);
      assert.equal(r.status, 200, await r.text());
      probes.push(Date.now() - p0);
      await new Promise((r) => setTimeout(r, 50));
    }
    const w = await write;
    assert.ok(probes.length >= 5, `only ${probes.length} readiness answers in ${holdMs - 400} ms`);
    assert.ok(Math.max(...probes) < holdMs / 2, `a readiness check took ${Math.max(...probes)} ms while the lock was held`);
    assert.equal(w.status, 200, JSON.stringify(w.body));
    assert.ok(w.body.challenge, 'the challenge was made');
    assert.ok(w.ms >= holdMs - 100, `the write was answered after ${w.ms} ms, before the lock was free`);
    await exited;
  });
});

function listDir(d: string): string[] {
  try {
    return readdirSync(d);
  } catch {
    return [];
  }
}

describe('the CLI', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'certdesk-cli-'));
    env = { ...process.env, DATA_DIR: dir };
    delete env.DATABASE_URL;
    delete env.CA_KEY_PASSPHRASE;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('every subcommand has --help', () => {
    for (const args of [
      [],
      ['serve'],
      ['ca'],
      ['ca', 'init'],
      ['ca', 'issue'],
      ['ca', 'revoke'],
      ['ca', 'roots'],
      ['ca', 'chain'],
      ['ca', 'list'],
      ['audit'],
      ['audit', 'verify'],
      ['kmc'],
      ['kmc', 'init'],
      ['kmc', 'status'],
      ['kmc', 'recover'],
    ]) {
      const r = cli([...args, '--help'], env);
      assert.equal(r.status, 0, `${args.join(' ')} --help: ${r.stderr}`);
      assert.match(r.stdout, /Usage: certdesk/);
    }
    assert.match(
      cli(['ca', 'issue', '--help'], env).stdout,
      /--csr <file>[\s\S]*--profile <id>[\s\S]*--subject <json>[\s\S]*--days <n>/,
    );
  });

  test('bad input gets a one-line error naming what is wrong', () => {
    assert.equal(cli(['ca', 'init', '--key-type', 'dsa'], env).status, 2);
    assert.match(cli(['ca', 'init', '--key-type', 'dsa'], env).stderr, /--key-type must be one of ec-p256/);
    assert.equal(cli(['ca', 'init'], env).status, 0);
    const missing = cli(['ca', 'issue', '--profile', 'org-identity'], env);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /required option '--csr <file>'/);
    const noFile = cli(['ca', 'issue', '--csr', path.join(dir, 'nope.csr'), '--profile', 'org-identity'], env);
    assert.match(noFile.stderr, /--csr: cannot read .*nope\.csr: ENOENT/);
    const { csrFile } = opensslCsr(dir, '/CN=a/O=b');
    assert.match(
      cli(['ca', 'issue', '--csr', csrFile, '--profile', 'org-identity', '--subject', '{oops'], env).stderr,
      /--subject is not valid JSON/,
    );
    assert.match(
      cli(['ca', 'issue', '--csr', csrFile, '--profile', 'org-identity', '--subject', '{"XX":"y"}'], env).stderr,
      /unknown subject attribute "XX"/,
    );
    assert.match(
      cli(['ca', 'issue', '--csr', csrFile, '--profile', 'org-identity', '--days', '0'], env).stderr,
      /--days must be a whole number/,
    );
    assert.match(
      cli(['ca', 'issue', '--csr', csrFile, '--profile', 'org-identity', '--days', '9999'], env).stderr,
      /exceeds profile org-identity's maximum/,
    );
    assert.match(
      cli(['ca', 'revoke', '--serial', 'ab', '--reason', 'bogus'], env).stderr,
      /unknown or unsupported revocation reason "bogus"/,
    );
    assert.match(cli(['ca', 'list'], { ...env, PORT: 'eighty' }).stderr, /PORT must be a whole number/);
    assert.match(cli(['ca', 'list'], { ...env, DATABASE_URL: 'mysql://x' }).stderr, /DATABASE_URL must start with postgres:\/\//);
    assert.match(
      cli(['ca', 'revoke', '--serial', 'ab', '--reason', 'keyCompromise'], { ...env, CA_KEY_PASSPHRASE: 'wrong' }).stderr,
      /wrong CA key passphrase/,
    );
  });

  test('audit verify holds, then names the first row edited directly in the database', () => {
    const ok = cli(['audit', 'verify'], env);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /audit chain intact: \d+ entries/);
    const db = new BetterSqlite3(path.join(dir, 'certdesk.sqlite'));
    try {
      assert.throws(() => db.prepare("update audit_log set actor = 'mallory' where seq = 2").run(), /append-only/);
      // someone with file access drops the guard and edits a row
      db.exec('drop trigger audit_log_no_update');
      db.prepare("update audit_log set actor = 'mallory' where seq = 2").run();
    } finally {
      db.close();
    }
    const bad = cli(['audit', 'verify'], env);
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /BROKEN at entry 2: entry 2 was altered/);
  });
});
