// scripts/run-tests.sh itself: what a test file leaves running is stopped when the run ends.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT } from './helpers/cli.js';

/** running and not a zombie (a stopped child whose parent is gone may wait to be reaped by init) */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('scripts/run-tests.sh', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'certdesk-runner-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('stops a process a test file left running, and says which', () => {
    const pidFile = path.join(dir, 'leftover.pid');
    // a run of its own: without the outer runner's NODE_TEST_CONTEXT, which makes `node --test` a child of it
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const r = spawnSync('sh', ['scripts/run-tests.sh', 'test/fixtures/leaves-a-child.fixture.ts'], {
      cwd: ROOT,
      env: { ...env, LEFTOVER_PID_FILE: pidFile },
      encoding: 'utf8',
      timeout: 120_000,
    });
    const pid = Number(readFileSync(pidFile, 'utf8'));
    try {
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stderr, /the tests left 1 process\(es\) running; stopping them:/);
      assert.match(r.stderr, new RegExp(`\\b${pid} sleep 300\\b`));
      assert.equal(alive(pid), false, `the leftover child ${pid} is still running`);
    } finally {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
});
