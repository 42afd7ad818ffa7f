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
