// A scratch directory for SM2 tests that hand files to the openssl CLI.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openssl } from './ca.js';

export interface Scratch {
  dir: string;
  /** writes a file and returns its path */
  write(name: string, data: Buffer | string): string;
  read(name: string): Buffer;
  /** runs openssl in the directory's terms (pass paths from write()); fails the test on a non-zero exit */
  ok(args: string[]): string;
  cleanup(): void;
}

export function scratch(prefix: string): Scratch {
  const dir = mkdtempSync(path.join(tmpdir(), `certdesk-${prefix}-`));
  return {
    dir,
    write(name, data) {
      const f = path.join(dir, name);
      writeFileSync(f, data);
      return f;
    },
    read: (name) => readFileSync(path.join(dir, name)),
    ok(args) {
      const r = openssl(args);
      assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.out}`);
      return r.out;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The private scalar from `openssl pkey -text -noout` ("priv:" hex lines). */
export function opensslPrivHex(text: string): string {
  const m = /priv:\s*([0-9a-f:\s]+?)\s*pub:/i.exec(text);
  assert.ok(m, `no priv: in ${text}`);
  return m[1]!.replace(/[:\s]/g, '').replace(/^00(?=[0-9a-f]{64}$)/i, '');
}
