// How CLI commands fail: one line on stderr saying what is wrong, a non-zero exit code.
import { CaError } from '../ca/errors.js';
import { ConfigError } from '../config/config.js';
import { UsageError } from '../shared/usage-error.js';

export { UsageError };

export function reportAndExit(e: unknown): never {
  if (e instanceof UsageError) {
    process.stderr.write(`certdesk: ${e.message}\n`);
    process.exit(2);
  }
  if (e instanceof CaError) {
    process.stderr.write(`certdesk: ${e.message}${e.field ? ` [${e.field}]` : ''}\n`);
    process.exit(1);
  }
  if (e instanceof ConfigError) {
    process.stderr.write(`certdesk: configuration: ${e.message}\n`);
    process.exit(1);
  }
  const err = e as Error;
  process.stderr.write(`certdesk: ${err?.message ?? String(e)}\n`);
  if (process.env.CERTDESK_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
  process.exit(1);
}

/** Wraps a command action so any failure is reported the same way. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      reportAndExit(e);
    }
  };
}
