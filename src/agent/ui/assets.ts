// The assistant's own pages (UKey 管理 and the approval window): plain HTML, CSS and JS files next to
// this module. They are read once at start. In a compiled install (dist/) the files are taken from
// the source tree, which ships with the package; in the packaged binary they are its SEA assets (ui/…).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { getAsset, isSea } from 'node:sea';
import { fileURLToPath } from 'node:url';

export const ASSET_TYPES: Record<string, string> = {
  'ukey.html': 'text/html; charset=utf-8',
  'approve.html': 'text/html; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'common.js': 'text/javascript; charset=utf-8',
  'ukey.js': 'text/javascript; charset=utf-8',
  'approve.js': 'text/javascript; charset=utf-8',
  'icon.svg': 'image/svg+xml',
};

function assetDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [here, path.resolve(here, '../../../src/agent/ui'), path.resolve(here, '../../../../src/agent/ui')];
  const hit = candidates.find((d) => existsSync(path.join(d, 'ukey.html')));
  if (!hit) throw new Error(`the key assistant's page files (ukey.html …) were not found near ${here}`);
  return hit;
}

export function loadAssets(): Map<string, { type: string; body: Buffer }> {
  const out = new Map<string, { type: string; body: Buffer }>();
  if (isSea()) {
    for (const [name, type] of Object.entries(ASSET_TYPES)) out.set(name, { type, body: Buffer.from(getAsset(`ui/${name}`)) });
    return out;
  }
  const dir = assetDir();
  for (const [name, type] of Object.entries(ASSET_TYPES)) out.set(name, { type, body: readFileSync(path.join(dir, name)) });
  return out;
}
