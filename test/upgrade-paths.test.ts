// Upgrade paths (migration 0015): the seeded path is open, an inactive or absent one is not, the
// table refuses nonsense, and the new notAfter carries the old certificate's remaining time over
// only when the path says so.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from '../src/sa/database.js';
import { openUpgradePath, openUpgradePaths, upgradedNotAfter } from '../src/sa/upgrade-paths.js';
import { BACKENDS } from './helpers/backends.js';
import { databaseFor } from './helpers/ca.js';

for (const backend of BACKENDS) {
  describe(`upgrade paths (${backend.name})`, { skip: backend.skip }, () => {
    test('the seeded ECDSA/RSA → SM2 dual path is open; inactive and unknown paths are not; bad rows refused', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'certdesk-0015-'));
      const pg = await databaseFor(backend.postgres);
      const storage = await openDatabase({ dataDir: dir, databaseUrl: pg.url });
      try {
        const db = storage.db;
        const open = await openUpgradePaths(db, 'org-identity');
        assert.deepEqual(
          open.map((p) => [p.to_type, p.new_key, p.carry_over]),
          [['org-identity-sm2', 1, 1]],
        );
        assert.ok(await openUpgradePath(db, 'org-identity', 'org-identity-sm2'));
        assert.equal(await openUpgradePath(db, 'personal-identity', 'org-identity-sm2'), undefined);

        await db.updateTable('upgrade_paths').set({ active: 0 }).where('from_type', '=', 'org-identity').execute();
        assert.equal(await openUpgradePath(db, 'org-identity', 'org-identity-sm2'), undefined);
        assert.deepEqual(await openUpgradePaths(db, 'org-identity'), []);

        const now = Date.now();
        const bad = [
          sql`insert into upgrade_paths (from_type, to_type, price_fen, term_years, new_key, carry_over, active, updated_at)
            values ('org-identity', 'org-identity', 1, 1, 1, 1, 1, ${now})`,
          sql`insert into upgrade_paths (from_type, to_type, price_fen, term_years, new_key, carry_over, active, updated_at)
            values ('personal-identity', 'org-identity', -1, 1, 1, 1, 1, ${now})`,
          sql`insert into upgrade_paths (from_type, to_type, price_fen, term_years, new_key, carry_over, active, updated_at)
            values ('personal-identity', 'no-such-type', 1, 1, 1, 1, 1, ${now})`,
        ];
        for (const stmt of bad) await assert.rejects(stmt.execute(db));
      } finally {
        await storage.close();
        await pg.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

test('upgradedNotAfter adds the remaining validity only when the path carries it over', () => {
  const now = new Date('2026-06-01T00:00:00Z');
  const oldEnd = new Date('2026-09-01T00:00:00Z');
  const remaining = oldEnd.getTime() - now.getTime();
  const oneYear = new Date('2027-06-01T00:00:00Z').getTime();
  assert.equal(upgradedNotAfter({ term_years: 1, carry_over: 1 }, now, oldEnd).getTime(), oneYear + remaining);
  assert.equal(upgradedNotAfter({ term_years: 1, carry_over: 0 }, now, oldEnd).getTime(), oneYear);
  // an expired old certificate carries nothing over
  assert.equal(upgradedNotAfter({ term_years: 1, carry_over: 1 }, now, new Date('2026-01-01T00:00:00Z')).getTime(), oneYear);
});
