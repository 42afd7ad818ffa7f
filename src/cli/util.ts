// Small helpers shared by CLI commands.
import { userInfo } from 'node:os';
import { loadConfig, type Config } from '../config/config.js';
import { openDatabase, type Storage } from '../sa/database.js';
import { UsageError } from './errors.js';

export function positiveInt(flag: string): (v: string) => number {
  return (v: string) => {
    if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`${flag} must be a whole number ≥ 1, got ${JSON.stringify(v)}`);
    return Number(v);
  };
}

/** Who ran the command, for the audit log. */
export function cliActor(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep 'unknown'
  }
  return `cli:${user}`;
}

/** Opens the database named by the environment for one command, and closes it afterwards. */
export async function withStorage<T>(fn: (storage: Storage, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const storage = await openDatabase({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  try {
    return await fn(storage, config);
  } finally {
    await storage.close();
  }
}

/**
 * Reads a secret from the terminal without echoing it. Without a terminal (CI, pipes) it refuses and
 * names `hint`, the environment variable or option to use instead.
 */
export async function promptHidden(question: string, hint: string): Promise<string> {
  if (!process.stdin.isTTY) throw new UsageError(`${question.replace(/:\s*$/, '')}: no terminal to ask on; ${hint}`);
  const { createInterface } = await import('node:readline');
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    // Echo the question once, then nothing of what is typed.
    const out = rl as unknown as { _writeToOutput: (s: string) => void };
    let asked = false;
    out._writeToOutput = (s: string) => {
      if (!asked) {
        process.stderr.write(s);
        asked = true;
      }
    };
    rl.question(question, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
  });
}
