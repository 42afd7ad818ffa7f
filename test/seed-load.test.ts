// The load seeder (bench/seed-load.ts): killed with SIGKILL in the middle and started again, it
// ends with exactly the rows asked for, none twice; the seeded certificates are real ones that
// `openssl verify` accepts and a running server answers for over OCSP (good, and revoked for a
// seeded revocation); it refuses a database that already holds a CA's data.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { toPem } from '../src/pki/pem.js';
import { normaliseSerial } from '../src/sa/certificates.js';
import { startServe, stopServe, type Served } from '../bench/lib/server.js';

const ROOT = path.join(import.meta.dirname, '..');
const N = 2000;

function seeder(dir: string, extra: string[] = []) {
  return spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/seed-load.ts', '--certificates', String(N), '--data-dir', dir, '--batch', '100', ...extra],
    { cwd: ROOT, env: { ...process.env, DATABASE_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

function finished(p: ReturnType<typeof spawn>): Promise<{ code: number | null; signal: string | null; out: string }> {
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => p.once('exit', (code, signal) => resolve({ code, signal, out })));
}

/** Rows committed so far, from the progress counter the seeder commits with each batch. */
function progress(file: string): number {
  try {
    const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare("select value from settings where key = 'load_seed'").get() as { value: string } | undefined;
      return row ? (JSON.parse(row.value) as { done: number }).done : 0;
    } finally {
      db.close();
    }
  } catch {
    return 0; // not created yet
  }
}

const openssl = (args: string[]) => spawnSync('openssl', args, { encoding: 'utf8' });

describe('seed:load (SQLite)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'certdesk-seed-'));
  const file = path.join(dir, 'certdesk.sqlite');
  let served: Served | undefined;
  after(async () => {
    await stopServe(served);
    rmSync(dir, { recursive: true, force: true });
  });

  test('killed mid-way and rerun: exactly N rows, none twice, real certificates, OCSP good and revoked', async () => {
    const first = seeder(dir);
    const firstDone = finished(first);
    // SIGKILL once some batches are committed and before the last
    for (;;) {
      const d = progress(file);
      if (d >= 300) break;
      if (first.exitCode !== null) assert.fail(`the seeder ended before it was killed: ${(await firstDone).out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    first.kill('SIGKILL');
    const killed = await firstDone;
    assert.equal(killed.signal, 'SIGKILL');
    const at = progress(file);
    assert.ok(at > 0 && at < N, `killed at ${at} rows, mid-way`);

    const second = await finished(seeder(dir));
    assert.equal(second.code, 0, second.out);
    assert.match(second.out, new RegExp(`${at} certificates already there`));

    const db = new BetterSqlite3(file, { readonly: true });
    let good: { serial: string; der: Buffer };
    let revoked: { serial: string; der: Buffer; revocation_reason: number };
    try {
      const c = db.prepare('select count(*) as n, count(distinct serial) as d from certificates').get() as {
        n: number;
        d: number;
      };
      assert.deepEqual(c, { n: N, d: N });
      const h = db.prepare('select count(*) as n from holders').get() as { n: number };
      assert.equal(h.n, N / 4);
      // every holder has its handful: four certificates each, the newest issued on a renewal order
      const perHolder = db.prepare('select count(*) as n from certificates group by holder_id').all() as { n: number }[];
      assert.ok(perHolder.every((r) => r.n === 4));
      const o = db.prepare('select count(*) as n from orders').get() as { n: number };
      assert.equal(o.n, N / 4);
      const serials = db.prepare('select serial from certificates').pluck().all() as string[];
      assert.deepEqual(
        serials.filter((x) => x !== normaliseSerial(x)),
        [],
        'serials are in the stored form (lowercase hex octets, no leading zero octet)',
      );
      good = db
        .prepare("select serial, der from certificates where status = 'valid' and not_after > ? order by issued_at desc limit 1")
        .get(Date.now()) as typeof good;
      revoked = db
        .prepare("select serial, der, revocation_reason from certificates where status = 'revoked' limit 1")
        .get() as typeof revoked;
      assert.ok(good && revoked, 'there are valid and revoked seeded certificates');
      const cas = db.prepare("select kind, cert_der from cas where kind in ('root', 'issuing')").all() as {
        kind: string;
        cert_der: Buffer;
      }[];
      for (const ca of cas) writeFileSync(path.join(dir, `${ca.kind}.pem`), toPem('CERTIFICATE', ca.cert_der));
    } finally {
      db.close();
    }
    const pem = (name: string, der: Buffer): string => {
      const f = path.join(dir, name);
      writeFileSync(f, toPem('CERTIFICATE', der));
      return f;
    };
    const goodFile = pem('good.pem', good.der);
    const revokedFile = pem('revoked.pem', revoked.der);
    const root = path.join(dir, 'root.pem');
    const issuing = path.join(dir, 'issuing.pem');
    const v = openssl(['verify', '-CAfile', root, '-untrusted', issuing, goodFile]);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    const serialOut = openssl(['x509', '-in', goodFile, '-noout', '-serial']).stdout.trim();
    assert.equal(serialOut.replace(/^serial=/, '').toLowerCase(), good.serial, 'the DER carries the row serial');

    served = await startServe({ ...process.env, DATA_DIR: dir, DATABASE_URL: '' }, 1);
    const url = `http://127.0.0.1:${served.port}/ocsp`;
    const ask = (cert: string) =>
      openssl(['ocsp', '-issuer', issuing, '-cert', cert, '-url', url, '-CAfile', root, '-verify_other', issuing]);
    const g = ask(goodFile);
    assert.match(g.stdout + g.stderr, /Response verify OK/);
    assert.match(g.stdout, /good\.pem: good/);
    const r = ask(revokedFile);
    assert.match(r.stdout + r.stderr, /Response verify OK/);
    assert.match(r.stdout, /revoked\.pem: revoked/);
  });

  test('refuses a database that already has certificates it did not seed, and a resume with other options', async () => {
    // the database above: seeded, so a run with other options must not start a second layout
    const other = await finished(seeder(dir, ['--holders', '100']));
    assert.equal(other.code, 2);
    assert.match(other.out, /was seeded with --certificates 2000 --holders 500/);
    // a database with a CA's own data and no seeding plan
    const real = mkdtempSync(path.join(tmpdir(), 'certdesk-seed-real-'));
    try {
      const init = spawnSync(process.execPath, ['bin/certdesk.js', 'ca', 'init'], {
        cwd: ROOT,
        env: { ...process.env, DATA_DIR: real, DATABASE_URL: '' },
        encoding: 'utf8',
      });
      assert.equal(init.status, 0, init.stderr);
      const db = new BetterSqlite3(path.join(real, 'certdesk.sqlite'));
      db.prepare(
        "insert into holders (kind, name, unique_id, created_at) values ('org', '真实单位', '91310000MA1FL0000X', 0)",
      ).run();
      db.close();
      const refused = await finished(seeder(real));
      assert.equal(refused.code, 2, refused.out);
      assert.match(refused.out, /refusing to seed load data into a database that has 1 holders/);
    } finally {
      rmSync(real, { recursive: true, force: true });
    }
  });
});
