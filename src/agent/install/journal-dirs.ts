// Where renewal journals live: one place per key, whichever command started the assistant
// (`certdesk demo`, `certdesk agent`), so a restart finds an interrupted renewal. A soft token's
// journals sit next to its file; a PKCS#11 key's in the user's state directory, under its token id.
// `--journal-dir` puts every key's journals in one directory instead.
import { readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { TokenKind } from '../tokens/driver.js';

export interface JournalDirs {
  /** the directory a new renewal of this key is journaled in */
  forToken(token: { id: string; kind: TokenKind; source: string }): string;
  /** every directory that may already hold journals, searched by order id */
  all(): string[];
}

/** data/demo/soft-token.json → data/demo/soft-token.journal */
export function softTokenJournalDir(file: string): string {
  const abs = path.resolve(file);
  const ext = path.extname(abs);
  return (ext ? abs.slice(0, -ext.length) : abs) + '.journal';
}

/** $XDG_STATE_HOME/certdesk-agent, else ~/.local/state/certdesk-agent (the XDG base directory default). */
export function userJournalRoot(env: NodeJS.ProcessEnv = process.env): string {
  const state = env.XDG_STATE_HOME;
  return path.join(state && path.isAbsolute(state) ? state : path.join(homedir(), '.local', 'state'), 'certdesk-agent');
}

/** One directory for every key (`--journal-dir`). */
export const singleJournalDir = (dir: string): JournalDirs => {
  const abs = path.resolve(dir);
  return { forToken: () => abs, all: () => [abs] };
};

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => path.join(dir, e.name));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/**
 * The default: per key. `legacy` directories (where earlier versions kept journals) are searched
 * too, so a renewal interrupted before an upgrade is still found and finished where it is.
 */
export function defaultJournalDirs(opts: { softTokens: string[]; env?: NodeJS.ProcessEnv; legacy?: string[] }): JournalDirs {
  const root = userJournalRoot(opts.env);
  const soft = opts.softTokens.map(softTokenJournalDir);
  const legacy = (opts.legacy ?? []).map((d) => path.resolve(d));
  return {
    forToken: (t) => (t.kind === 'soft' ? softTokenJournalDir(t.source) : path.join(root, t.id.replace(/[^A-Za-z0-9._-]/g, '_'))),
    all: () => [...new Set([...soft, ...subdirs(root), ...legacy])],
  };
}
