// Option parsers shared by `certdesk agent` / `certdesk token` and the packaged `certdesk-agent`.
import { oidProblem } from '../../pki/oids.js';
import { UsageError } from '../../shared/usage-error.js';

export const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function portOption(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new UsageError(`--port must be 0–65535, got ${JSON.stringify(v)}`);
  return Number(v);
}

export function msOption(flag: string): (v: string) => number {
  return (v) => {
    if (!/^\d+$/.test(v) || Number(v) < 0 || Number(v) > 600_000) throw new UsageError(`${flag} must be 0–600000 milliseconds`);
    return Number(v);
  };
}

/** --unique-id-oid: the CA's own 唯一识别号 extension (UNIQUE_ID_OID), refused as the server would refuse it. */
export function uniqueIdOidOption(v: string): string {
  const problem = oidProblem(v);
  if (problem) throw new UsageError(`--unique-id-oid: ${JSON.stringify(v)} ${problem}`);
  return v;
}
