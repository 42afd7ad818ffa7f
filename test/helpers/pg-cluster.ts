// Throwaway PostgreSQL clusters for tests that need a server of their own (a primary and its
// streaming replica): initdb / pg_ctl / pg_basebackup from the installed PostgreSQL, on a loopback
// port, in a directory under /tmp; run as the `postgres` user when the tests run as root (as
// scripts/test-env.sh does). Trust authentication on loopback only.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const PG_ROOT = '/usr/lib/postgresql';

/** The newest installed PostgreSQL's bin directory, or undefined. */
export function postgresBin(): string | undefined {
  if (!existsSync(PG_ROOT)) return undefined;
  const versions = readdirSync(PG_ROOT)
    .filter((v) => existsSync(path.join(PG_ROOT, v, 'bin/pg_basebackup')))
    .sort((a, b) => Number(a) - Number(b));
  return versions.length ? path.join(PG_ROOT, versions.at(-1)!, 'bin') : undefined;
}

const asRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL program as the postgres user when we are root (initdb refuses root). */
function pgRun(bin: string, args: string[]): string {
  const quoted = [bin, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = asRoot
    ? spawnSync('su', ['postgres', '-s', '/bin/sh', '-c', quoted], { encoding: 'utf8' })
    : spawnSync('/bin/sh', ['-c', quoted], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${path.basename(bin)} failed (${r.status}): ${r.stdout}${r.stderr}`);
  return r.stdout;
}

export interface PgCluster {
  port: number;
  dir: string;
  /** postgres://certdesk@127.0.0.1:PORT/postgres */
  url: string;
  /** the URL of database `name` on this server */
  urlFor(name: string): string;
  stop(): void;
}

function cluster(bin: string, dir: string, port: number): PgCluster {
  const url = `postgres://certdesk@127.0.0.1:${port}/postgres`;
  return {
    port,
    dir,
    url,
    urlFor: (name) => url.replace(/\/postgres$/, `/${name}`),
    stop() {
      try {
        pgRun(path.join(bin, 'pg_ctl'), ['-D', path.join(dir, 'data'), '-m', 'immediate', 'stop']);
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function start(bin: string, dir: string, port: number): void {
  pgRun(path.join(bin, 'pg_ctl'), [
    '-D',
    path.join(dir, 'data'),
    '-l',
    path.join(dir, 'log'),
    '-w',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`,
    'start',
  ]);
}

function ownDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  if (asRoot) execFileSync('chown', ['postgres', dir]);
  else chownSync(dir, process.getuid!(), process.getgid!());
  return dir;
}

/** A new primary (wal_level replica is PostgreSQL's default; pg_hba allows loopback replication). */
export function startPrimary(bin: string, port: number): PgCluster {
  const dir = ownDir('certdesk-pg-primary-');
  pgRun(path.join(bin, 'initdb'), [
    '-D',
    path.join(dir, 'data'),
    '-U',
    'certdesk',
    '--auth=trust',
    '-E',
    'UTF8',
    '--locale=C.UTF-8',
  ]);
  start(bin, dir, port);
  return cluster(bin, dir, port);
}

/** A hot standby of `primary` made with pg_basebackup -R (streaming replication), started on `port`. */
export function startReplica(bin: string, primary: PgCluster, port: number): PgCluster {
  const dir = ownDir('certdesk-pg-replica-');
  pgRun(path.join(bin, 'pg_basebackup'), [
    '-h',
    '127.0.0.1',
    '-p',
    String(primary.port),
    '-U',
    'certdesk',
    '-D',
    path.join(dir, 'data'),
    '-R',
    '-X',
    'stream',
    '-c',
    'fast',
  ]);
  start(bin, dir, port);
  return cluster(bin, dir, port);
}
