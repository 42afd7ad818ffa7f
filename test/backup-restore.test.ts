// scripts/backup.sh and scripts/restore.sh: a backup of a CA with issued and revoked certificates,
// restored into a fresh database and an empty DATA_DIR, holds every certificate byte for byte, an
// audit chain that verifies and still contains the head recorded at backup time, and CA keys that
// sign (the restored copy issues). A damaged backup, or a target that is not empty, is refused.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { openDatabase } from '../src/sa/database.js';
import { BACKENDS } from './helpers/backends.js';
import { createTestCa, opensslCsr, type TestCa } from './helpers/ca.js';
import { cli, ROOT } from './helpers/cli.js';

const script = (name: string, arg: string, env: NodeJS.ProcessEnv) =>
  spawnSync('bash', [path.join(ROOT, 'scripts', name), arg], { env, encoding: 'utf8', timeout: 120_000 });

for (const backend of BACKENDS) {
  describe(`backup and restore (${backend.name})`, { skip: backend.skip }, () => {
    let ca: TestCa;
    let work: string;
    let fresh: { env: NodeJS.ProcessEnv; drop(): Promise<void> };
    const serials: string[] = [];

    before(async () => {
      ca = await createTestCa({ postgres: backend.postgres });
      for (let i = 0; i < 5; i++) {
        const { csr } = opensslCsr(ca.dir, `/CN=备份${i}/O=备份测试/C=CN`);
        serials.push((await ca.rt.ca.issue({ csr, profileId: 'org-identity', actor: 'test' })).record.serial);
      }
      await ca.rt.ca.revoke(serials[0]!, 'keyCompromise', 'test');
      work = mkdtempSync(path.join(tmpdir(), 'certdesk-backup-'));
      const dataDir = path.join(work, 'restored-data');
      const env: NodeJS.ProcessEnv = { ...ca.env, DATA_DIR: dataDir };
      let drop = async (): Promise<void> => {};
      if (backend.postgres) {
        const name = `certdesk_restore_${process.pid}_${Date.now()}`;
        const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
        await admin.connect();
        await admin.query(`create database ${name}`);
        await admin.end();
        const u = new URL(process.env.TEST_DATABASE_URL!);
        u.pathname = `/${name}`;
        env.DATABASE_URL = u.toString();
        drop = async () => {
          const c = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
          await c.connect();
          await c.query(`drop database if exists ${name} with (force)`);
          await c.end();
        };
      }
      fresh = { env, drop };
    });
    after(async () => {
      await ca?.cleanup();
      await fresh?.drop();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    test('the restored copy has every certificate, a verifying audit chain with the backed-up head, and working keys', async () => {
      const dest = path.join(work, 'backup');
      const b = script('backup.sh', dest, ca.env);
      assert.equal(b.status, 0, b.stdout + b.stderr);
      const head = /audit head (\d+:[0-9a-f]{64}), (\d+) certificates/.exec(b.stdout);
      assert.ok(head, b.stdout);
      assert.equal(Number(head[2]), serials.length);

      const r = script('restore.sh', dest, fresh.env);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /audit chain intact: \d+ entries, 1 checkpoint\(s\) found; head /);

      const original = await ca.rt.storage.db.selectFrom('certificates').selectAll().orderBy('serial').execute();
      const restored = await openDatabase({ dataDir: fresh.env.DATA_DIR!, databaseUrl: fresh.env.DATABASE_URL, migrate: false });
      try {
        const rows = await restored.db.selectFrom('certificates').selectAll().orderBy('serial').execute();
        assert.deepEqual(
          rows.map((c) => [c.serial, c.status, c.revocation_reason, Buffer.from(c.der).toString('base64')]),
          original.map((c) => [c.serial, c.status, c.revocation_reason, Buffer.from(c.der).toString('base64')]),
          'every certificate, byte for byte, with its status',
        );
      } finally {
        await restored.close();
      }
      // the CA keys came back with the data directory: the restored installation issues
      const { csrFile } = opensslCsr(work, '/CN=恢复后签发/O=备份测试/C=CN');
      const issued = cli(['ca', 'issue', '--csr', csrFile, '--profile', 'org-identity'], fresh.env);
      assert.equal(issued.status, 0, issued.stderr);
      assert.match(issued.stdout, /BEGIN CERTIFICATE/);
    });

    test('a damaged backup and a target that is not empty are refused', () => {
      const dest = path.join(work, 'backup');
      const again = script('restore.sh', dest, fresh.env);
      assert.notEqual(again.status, 0);
      assert.match(again.stderr, /not empty|exists; restore into an empty DATA_DIR/);

      appendFileSync(path.join(dest, 'data-dir.tar.gz'), 'x');
      const damaged = script('restore.sh', dest, { ...fresh.env, DATA_DIR: path.join(work, 'other') });
      assert.notEqual(damaged.status, 0);
      assert.match(damaged.stderr, /damaged/);
    });
  });
}
