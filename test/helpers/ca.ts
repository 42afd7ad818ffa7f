// Throwaway CAs for tests: a temp DATA_DIR (or a fresh PostgreSQL schema when TEST_DATABASE_URL is
// set and `postgres: true`), a software hierarchy, and the runtime that `certdesk serve` would open.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { defaultHierarchyFor, initHierarchy } from '../../src/ca/hierarchy.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import type { KeyType } from '../../src/pki/algorithms.js';
import { toPem } from '../../src/pki/pem.js';
import { openRuntime, softwareKeyFactory, type Runtime } from '../../src/runtime.js';
import { getCertificate } from '../../src/sa/certificates.js';
import { openDatabase } from '../../src/sa/database.js';

export interface TestCa {
  rt: Runtime;
  config: Config;
  dir: string;
  /** environment for running the CLI against the same data */
  env: NodeJS.ProcessEnv;
  rootPem: string;
  issuingPem: string;
  /** writes root and chain PEMs into dir and returns their paths */
  files(): { root: string; chain: string };
  cleanup(): Promise<void>;
}

/** Creates a database for one test: SQLite in the temp dir, or a new schema-isolated PG database. */
export async function databaseFor(
  postgres: boolean,
  base = process.env.TEST_DATABASE_URL,
): Promise<{ url: string | undefined; drop: () => Promise<void> }> {
  if (!postgres || !base) return { url: undefined, drop: async () => {} };
  const name = `certdesk_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const u = new URL(base);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export const postgresAvailable = (): boolean => Boolean(process.env.TEST_DATABASE_URL);

export async function createTestCa(
  opts: {
    keyType?: KeyType | 'both';
    postgres?: boolean;
    /** with `postgres`: the server to create the database on (default TEST_DATABASE_URL) */
    postgresServer?: string;
    port?: number;
    env?: Record<string, string>;
  } = {},
): Promise<TestCa> {
  const dir = mkdtempSync(path.join(tmpdir(), 'certdesk-test-'));
  const db = await databaseFor(Boolean(opts.postgres), opts.postgresServer ?? process.env.TEST_DATABASE_URL);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: dir,
    PORT: String(opts.port ?? 8080),
    CA_KEY_PASSPHRASE: 'test-passphrase-' + randomBytes(4).toString('hex'),
    ...(db.url ? { DATABASE_URL: db.url } : {}),
    ...opts.env,
  };
  if (!db.url) delete env.DATABASE_URL;
  const config = loadConfig(env);
  const storage = await openDatabase({ dataDir: dir, databaseUrl: config.databaseUrl });
  // `keyType: 'both'`: an RSA/ECDSA (ECDSA P-256) and an SM2 hierarchy side by side, as the demo has
  for (const keyType of opts.keyType === 'both' ? (['ec-p256', 'sm2'] as const) : [opts.keyType ?? 'ec-p256']) {
    const keyFactory = withEnv(env, () => softwareKeyFactory(config, keyType));
    await initHierarchy(storage, keyFactory, { ...defaultHierarchyFor(keyType), keyType, pkiUrl: config.pkiUrl, actor: 'test' });
  }
  await storage.close();
  const rt = await withEnvAsync(env, () => openRuntime(config));
  for (const c of rt.ca.crlIssuers()) await rt.ca.generateCrl(c.record.id, 'test');
  const rootPem = toPem('CERTIFICATE', rt.ca.root.record.cert_der);
  const issuingPem = toPem('CERTIFICATE', rt.ca.issuing.record.cert_der);
  return {
    rt,
    config,
    dir,
    env,
    rootPem,
    issuingPem,
    files() {
      const root = path.join(dir, 'root.pem');
      const chain = path.join(dir, 'chain.pem');
      writeFileSync(root, rootPem);
      writeFileSync(chain, issuingPem);
      return { root, chain };
    },
    async cleanup() {
      await rt.close();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// The CA passphrase is read from the environment; tests pass their own without touching process.env for good.
function withEnv<T>(env: NodeJS.ProcessEnv, fn: () => T): T {
  const saved = process.env.CA_KEY_PASSPHRASE;
  process.env.CA_KEY_PASSPHRASE = env.CA_KEY_PASSPHRASE;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.CA_KEY_PASSPHRASE;
    else process.env.CA_KEY_PASSPHRASE = saved;
  }
}
async function withEnvAsync<T>(env: NodeJS.ProcessEnv, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.CA_KEY_PASSPHRASE;
  process.env.CA_KEY_PASSPHRASE = env.CA_KEY_PASSPHRASE;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.CA_KEY_PASSPHRASE;
    else process.env.CA_KEY_PASSPHRASE = saved;
  }
}

/** Makes a key and CSR with OpenSSL (so the CA is tested against a CSR it did not build). */
export function opensslCsr(
  dir: string,
  subject: string,
  keyArgs: string[] = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
): { csr: Buffer; keyFile: string; csrFile: string } {
  const id = randomBytes(4).toString('hex');
  const keyFile = path.join(dir, `key-${id}.pem`);
  const csrFile = path.join(dir, `req-${id}.csr`);
  execFileSync(
    'openssl',
    ['req', '-new', ...keyArgs, '-nodes', '-keyout', keyFile, '-subj', subject, '-utf8', '-outform', 'DER', '-out', csrFile],
    { stdio: 'pipe' },
  );
  return { csr: execFileSync('cat', [csrFile]), keyFile, csrFile };
}

/** Runs openssl, returning stdout and stderr together and the exit status (never throws). */
/** The path of the CRL a certificate names in its DP: its shard's, or the CA's full CRL for one from before shards. */
export async function crlPathFor(ca: TestCa, serial: string): Promise<string> {
  const cert = await getCertificate(ca.rt.storage.db, serial);
  if (!cert) throw new Error(`no certificate ${serial}`);
  return cert.crl_shard === null ? `/pki/crl/${cert.ca_id}.crl` : `/pki/crl/${cert.ca_id}/${cert.crl_shard}.crl`;
}

export function openssl(args: string[], input?: Buffer | string): { out: string; status: number } {
  const r = spawnSync('openssl', args, { input, encoding: 'utf8' });
  return { out: `${r.stdout ?? ''}${r.stderr ?? ''}`, status: r.status ?? 1 };
}

/** Like openssl(), without blocking the event loop: for commands that talk to an in-process server. */
export function opensslAsync(args: string[]): Promise<{ out: string; status: number }> {
  return new Promise((resolve) => {
    const child = spawn('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ out, status: code ?? 1 }));
  });
}
