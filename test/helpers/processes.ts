// Long-running commands as child processes (the built CLI, npx), their output, their process tree.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { probe } from '../../src/cli/ports.js';
import { CERTDESK, ROOT as REPO } from './cli.js';

export const BUILT_CLI = CERTDESK;

export interface Running {
  proc: ChildProcess;
  /** stdout and stderr so far */
  out(): string;
  /** resolves with the first match of `re` in the output; rejects if the process exits first */
  waitFor(re: RegExp, what: string): Promise<RegExpExecArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

export function run(command: string, args: string[], opts: { cwd?: string; env: NodeJS.ProcessEnv }): Running {
  const proc = spawn(command, args, { cwd: opts.cwd ?? REPO, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer): void => {
    out += d.toString('utf8');
    for (const l of listeners) l();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    proc,
    out: () => out,
    exited,
    waitFor(re, what) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`${what}: not seen in 60 s; output:\n${out}`)), 60_000);
        const check = (): void => {
          const m = re.exec(out);
          if (m) done(undefined, m);
        };
        function done(err?: Error, m?: RegExpExecArray): void {
          clearTimeout(timer);
          listeners.delete(check);
          if (err) reject(err);
          else resolve(m!);
        }
        listeners.add(check);
        void exited.then(({ code, signal }) => {
          if (!re.exec(out)) done(new Error(`${what}: the process exited (${code ?? signal}) first; output:\n${out}`));
        });
        check();
      });
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** The first port of the kernel's ephemeral range (read once); the IANA dynamic range's where it cannot be read or leaves no room below. */
const EPHEMERAL_START = ((): number => {
  try {
    const start = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(start) && start > 21_000) return start;
  } catch {
    // not Linux
  }
  return 49_152;
})();

/**
 * A port nobody listens on right now, below the kernel's ephemeral range. A port the kernel hands out
 * for `listen(0)` comes from that range, so between this check and the caller's own listen (seconds,
 * when a CA is made in between) any outgoing connection on the machine may take it as its local port:
 * EADDRINUSE. Below the range only another listener can.
 */
export async function freePort(): Promise<number> {
  const low = 20_000;
  const high = EPHEMERAL_START - 1;
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if ((await probe(port, '127.0.0.1')) === undefined) return port;
  }
  throw new Error(`no free port found in ${low}–${high}`);
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect({ port, host: '127.0.0.1' });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** Every live descendant of `pid` (from /proc). */
export function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // "pid (comm) state ppid …"; comm may hold spaces and parentheses
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(name), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [child, pp] of parent) {
      if (pp === p) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return out;
}

/** "state ppid … starttime …" of /proc/<pid>/stat, after "pid (comm) "; undefined once it is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Runs (not a zombie), by its stat fields. */
const runs = (f: string[] | undefined): f is string[] => f !== undefined && f[0] !== 'Z';

export function alive(pid: number): boolean {
  return runs(statFields(pid));
}

/**
 * A process as it ran when looked at: its pid and when it started (clock ticks since boot). pid_max
 * is 32,768 on these machines and a test run starts thousands of processes, so a pid can name
 * another process a few seconds later; with the start time it is not taken for the one before.
 */
export interface ProcessRef {
  pid: number;
  start: string;
}

/** Those of `pids` that run now, each with its start time. */
export function processRefs(pids: number[]): ProcessRef[] {
  return pids.flatMap((pid) => {
    const f = statFields(pid);
    return runs(f) ? [{ pid, start: f[19]! }] : [];
  });
}

/** Whether that very process still runs (not a zombie). */
export function stillRunning(p: ProcessRef): boolean {
  const f = statFields(p.pid);
  return runs(f) && f[19] === p.start;
}

/** Waits (up to `ms`) until `cond` holds; returns whether it did. */
export async function eventually(cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}
