// Checking that the ports a command will listen on are free before it creates anything (the demo
// CA, the staff admin, the demo key): a taken port is a one-line error naming the port and how to
// choose another, not an EADDRINUSE after the admin's password has been printed.
import { createServer } from 'node:net';
import { UsageError } from './errors.js';

export interface PlannedPort {
  port: number;
  host: string;
  /** what listens there, e.g. "the server" */
  what: string;
  /** how to pick another, e.g. "set PORT (PORT=8081 npm run demo)" */
  change: string;
}

/** Listens on `port` and closes again: undefined when that worked, else why not. */
export function probe(port: number, host: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e));
    s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(undefined)));
  });
}

/** Throws a UsageError for the first planned port that cannot be listened on (port 0 is always free). */
export async function ensurePortsFree(ports: PlannedPort[]): Promise<void> {
  for (const p of ports) {
    if (p.port === 0) continue;
    const e = await probe(p.port, p.host);
    if (!e) continue;
    const why =
      e.code === 'EADDRINUSE'
        ? 'is already in use (another certdesk, or another program)'
        : e.code === 'EACCES'
          ? 'needs privileges this user does not have'
          : `cannot be used (${e.code ?? e.message})`;
    throw new UsageError(`port ${p.port} on ${p.host} for ${p.what} ${why}; nothing was created. To use another: ${p.change}`);
  }
}
