// The key assistant ships to holders' PCs (npm run package:agent): its import graph must stay on
// src/agent/ and what it may use — src/pki/, src/pkcs11/, src/shared/ — never the CA, RA, SA, API,
// staff console, KMC, payments or jobs.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import * as esbuild from 'esbuild';
import { REPO } from './helpers/agent.js';

const ALLOWED = ['src/agent/', 'src/pki/', 'src/pkcs11/', 'src/shared/'];

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

/** Every file of src/ that `entryPoints` reach, transitively (packages from node_modules left out). */
export async function reachedSources(entryPoints: string[]): Promise<Map<string, string>> {
  const r = await esbuild.build({
    entryPoints,
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    metafile: true,
    logLevel: 'silent',
    outdir: path.join(REPO, '.tmp/agent-imports'),
    absWorkingDir: REPO,
  });
  const importedBy = new Map<string, string>();
  for (const [file, input] of Object.entries(r.metafile.inputs))
    for (const imp of input.imports) if (!imp.external && !importedBy.has(imp.path)) importedBy.set(imp.path, file);
  return new Map(Object.keys(r.metafile.inputs).map((f) => [f, importedBy.get(f) ?? '(entry)']));
}

describe('the key assistant’s import graph', () => {
  it('reaches only src/agent, src/pki, src/pkcs11 and src/shared', async () => {
    const entries = tsFiles(path.join(REPO, 'src/agent'));
    assert.ok(
      entries.some((f) => f.endsWith(path.join('cli', 'main.ts'))),
      'the packaged entry point is among them',
    );
    const reached = await reachedSources(entries);
    const outside = [...reached].filter(([f]) => f.startsWith('src/') && !ALLOWED.some((a) => f.startsWith(a)));
    assert.deepEqual(
      outside.map(([f, by]) => `${f} (imported by ${by})`),
      [],
      'src/agent must not import CA, RA, SA, API, staff, KMC, payments or jobs code',
    );
    assert.ok(reached.has('src/pki/certificate.ts'), 'the walk follows imports (it sees src/pki)');
  });
});
