#!/usr/bin/env node
// Entry point of the `certdesk` command: runs the compiled CLI (npm install builds it via `prepare`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(compiled))) {
  console.error(
    'certdesk is not built yet: run `npm run build` (npm install does it) in ' + fileURLToPath(new URL('..', import.meta.url)),
  );
  process.exit(1);
}
await import(compiled.href);
