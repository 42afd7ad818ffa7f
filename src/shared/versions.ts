// Release versions MAJOR.MINOR.PATCH (the key assistant's): the portal compares the running
// assistant's with the oldest it works with (AGENT_MIN_VERSION).
export function parseVersion(v: string): [number, number, number] | null {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

/** True when `version` is older than `minimum`; a version that cannot be read counts as older. */
export function isOlderVersion(version: string | undefined, minimum: string): boolean {
  const a = version === undefined ? null : parseVersion(version);
  const b = parseVersion(minimum);
  if (!b) return false;
  if (!a) return true;
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}
