// Opening the database (embedded SQLite or PostgreSQL), applying migrations, and transactions that
// serialise writers across processes (the CLI and a running server share one database).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, Kysely, Migrator, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import { migrationProvider, type Dialect } from './migrations.js';
import { forgetAuditHead } from './audit.js';
import { GroupCommit } from './group-commit.js';
import { cachingStatements } from './sqlite-statements.js';
import { RoutingSqliteDialect } from './sqlite-driver.js';
import { countStatement } from './query-count.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;
export type Executor = Db | Tx;

// int8 (bigint) holds millisecond timestamps: well inside Number's exact range.
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));

/** How long SQLite waits for a lock another connection holds (busy_timeout), in all. */
const LOCK_WAIT_MS = 10_000;

export interface Storage {
  db: Db;
  /**
   * Where reads that may lag a little go (OCSP status, CRLs): a PostgreSQL streaming replica when
   * DATABASE_READ_URL is set (its sessions are read-only), otherwise the same database as `db`.
   */
  readDb: Db;
  /** true when `readDb` is a separate (replica) connection */
  hasReplica: boolean;
  dialect: Dialect;
  /** where the data lives, without credentials */
  location: string;
  /**
   * The driver's own handles, for what bypasses Kysely: on SQLite the writer's connection (bulk
   * loads) and `statusReader`, the read-only connection that sees committed rows only (the OCSP
   * status read, sa/certificate-status.ts, and Kysely's reads outside transactions, sqlite-driver.ts);
   * on PostgreSQL the pool `readDb` reads from.
   */
  native:
    | { dialect: 'sqlite'; sqlite: BetterSqlite3.Database; statusReader: BetterSqlite3.Database }
    | { dialect: 'postgres'; pool: pg.Pool };
  close(): Promise<void>;
}

export async function openDatabase(opts: {
  dataDir: string;
  databaseUrl?: string | undefined;
  /** a read replica of `databaseUrl` (PostgreSQL only) */
  databaseReadUrl?: string | undefined;
  migrate?: boolean;
  log?: ((msg: string, err?: unknown) => void) | undefined;
}): Promise<Storage> {
  let db: Db;
  let dialect: Dialect;
  let location: string;
  let connectionsClosed: () => Promise<void> = async () => {};
  let native: Storage['native'];
  let readDb: Db | undefined;
  if (opts.databaseUrl) {
    dialect = 'postgres';
    const primary = postgresPool(opts.databaseUrl, false, opts.log);
    db = primary.db;
    connectionsClosed = primary.closed;
    native = { dialect: 'postgres', pool: primary.pool };
    const u = new URL(opts.databaseUrl);
    location = `postgres://${u.host}${u.pathname}`;
    if (opts.databaseReadUrl) {
      const replica = postgresPool(opts.databaseReadUrl, true, opts.log);
      readDb = replica.db;
      // the status reader's hot path reads where readDb reads
      native = { dialect: 'postgres', pool: replica.pool };
      const r = new URL(opts.databaseReadUrl);
      location += ` (reads: postgres://${r.host}${r.pathname})`;
      connectionsClosed = async () => {
        await primary.closed();
        await replica.closed();
      };
    }
  } else {
    if (opts.databaseReadUrl) throw new Error('DATABASE_READ_URL needs DATABASE_URL (a PostgreSQL primary) as well');
    dialect = 'sqlite';
    mkdirSync(opts.dataDir, { recursive: true });
    location = path.join(opts.dataDir, 'certdesk.sqlite');
    const sqlite = new BetterSqlite3(location);
    sqlite.pragma('journal_mode = WAL');
    // FULL: a committed certificate record survives power loss, not just a process crash.
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma(`busy_timeout = ${LOCK_WAIT_MS}`);
    // 64 MiB of page cache (SQLite's default is 2 MiB): at 10M certificates the serial index and the
    // table pages OCSP reads for a few thousand busy serials no longer fit the default, and each miss
    // is a read() — ~14 → ~9.5 µs per status lookup measured there (bench:scale). Grows only as used.
    sqlite.pragma('cache_size = -65536');
    // The read-only connection for committed state: the OCSP status read (a write transaction that
    // waits on an HSM's signature — a revocation signing its CRL — lets other requests run meanwhile,
    // and on the writer they would see its rows before COMMIT) and Kysely's reads outside
    // transactions (sqlite-driver.ts). Neither leaves a read transaction open on it.
    const statusReader = new BetterSqlite3(location, { readonly: true });
    statusReader.pragma(`busy_timeout = ${LOCK_WAIT_MS}`);
    statusReader.pragma('cache_size = -65536');
    db = new Kysely<Database>({
      dialect: new RoutingSqliteDialect({
        writer: cachingStatements(sqlite),
        reader: cachingStatements(statusReader),
        lockWaitMs: LOCK_WAIT_MS,
      }),
      log: countStatement,
    });
    connectionsClosed = async () => void statusReader.close();
    native = { dialect: 'sqlite', sqlite, statusReader };
  }
  const close = async (): Promise<void> => {
    await db.destroy();
    if (readDb) await readDb.destroy();
    await connectionsClosed();
  };
  const storage: Storage = {
    db,
    readDb: readDb ?? db,
    hasReplica: readDb !== undefined,
    dialect,
    location,
    native: native!,
    close,
  };
  if (opts.migrate !== false) await migrate(storage);
  return storage;
}

function postgresPool(
  url: string,
  readOnly: boolean,
  log: ((msg: string, err?: unknown) => void) | undefined,
): { db: Db; pool: pg.Pool; closed: () => Promise<void> } {
  // Replica sessions are read-only on our side too: a write sent there by mistake fails loudly
  // even against a server that would accept it (a promoted replica, a misconfigured URL).
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    ...(readOnly ? { options: '-c default_transaction_read_only=on' } : {}),
  });
  // An idle connection that dies (server restart, an administrator terminating it) is dropped by
  // the pool and reopened on the next query; unheard, the pool's 'error' event would crash the process.
  pool.on('error', (e) =>
    log?.(`PostgreSQL ${readOnly ? 'replica ' : ''}connection closed while idle; it is reopened on demand`, e),
  );
  return {
    db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log: countStatement }),
    pool,
    closed: countConnections(pool),
  };
}

export async function migrate(storage: Storage): Promise<void> {
  const migrator = new Migrator({ db: storage.db, provider: migrationProvider(storage.dialect) });
  if (storage.dialect === 'postgres') {
    // Several instances may start at once: one migrates, the others wait for it.
    await storage.db.connection().execute(async (conn) => {
      await sql_lock(conn, true);
      try {
        const r = await new Migrator({ db: conn, provider: migrationProvider(storage.dialect) }).migrateToLatest();
        if (r.error) throw r.error;
      } finally {
        await sql_lock(conn, false);
      }
    });
    return;
  }
  const r = await migrator.migrateToLatest();
  if (r.error) throw r.error;
}

async function sql_lock(conn: Db, take: boolean, key = 727001): Promise<void> {
  await conn.executeQuery(CompiledQuery.raw(take ? `select pg_advisory_lock(${key})` : `select pg_advisory_unlock(${key})`));
}

/**
 * Runs `fn` while holding a PostgreSQL session lock, so that instances starting together on an
 * empty database do first-start work (demo CA, demo staff) once: the others wait, then find it
 * done. SQLite: just runs `fn`.
 */
export async function exclusively<T>(storage: Storage, fn: () => Promise<T>): Promise<T> {
  if (storage.dialect !== 'postgres') return fn();
  return storage.db.connection().execute(async (conn) => {
    await sql_lock(conn, true, 727004);
    try {
      return await fn();
    } finally {
      await sql_lock(conn, false, 727004);
    }
  });
}

/**
 * Runs `fn` in a write transaction. On PostgreSQL it takes the audit chain's transaction-scoped
 * advisory lock, so that writers (audit chain, CRL numbers) are serialised across instances; SQLite
 * serialises all writers already (BEGIN IMMEDIATE).
 */
export async function writeTransaction<T>(storage: Storage, fn: (tx: Tx) => Promise<T>): Promise<T> {
  // transactions waiting together share one COMMIT (one fsync), each in its own savepoint; on
  // PostgreSQL the lock is taken once per group, which takes them one at a time anyway
  let group = groups.get(storage.db);
  if (!group)
    groups.set(
      storage.db,
      (group = new GroupCommit(
        storage.db,
        storage.dialect === 'sqlite' ? undefined : async (tx) => void (await tx.executeQuery(AUDIT_LOCK_SQL)),
        (tx) => forgetAuditHead(tx as Tx),
        storage.dialect === 'postgres',
      )),
    );
  return group.run(fn);
}

/** The advisory lock of the audit chain (and CRL numbers), which every writeTransaction takes on PostgreSQL. */
const AUDIT_LOCK = 727002;
const AUDIT_LOCK_SQL = CompiledQuery.raw(`select pg_advisory_xact_lock(${AUDIT_LOCK})`);

const groups = new WeakMap<Db, GroupCommit<Database>>();

/**
 * A write that needs neither a transaction of its own nor a cross-instance lock (a rate-limit hit, a
 * login challenge, a session row). On SQLite it joins the group commit, where alone it would pay its
 * own COMMIT — an fsync on the event loop, ~0.3–0.9 ms each with 200 holders logging in at once;
 * on PostgreSQL it runs as it is (autocommit), without writeTransaction's advisory lock.
 */
export function groupedWrite<T>(storage: Storage, fn: (db: Executor) => Promise<T>): Promise<T> {
  return storage.dialect === 'sqlite' ? writeTransaction(storage, fn) : fn(storage.db);
}

/**
 * Runs `fn` inside the transaction `tx` as a part that may fail alone: on an error its writes are
 * rolled back to where it began and the error is returned; the rest of the transaction goes on.
 */
export async function tryInSavepoint<T>(tx: Tx, fn: () => Promise<T>): Promise<{ value: T } | { error: unknown }> {
  await tx.executeQuery(CompiledQuery.raw('savepoint certdesk_part'));
  try {
    const value = await fn();
    await tx.executeQuery(CompiledQuery.raw('release certdesk_part'));
    return { value };
  } catch (error) {
    await tx.executeQuery(CompiledQuery.raw('rollback to certdesk_part'));
    forgetAuditHead(tx);
    await tx.executeQuery(CompiledQuery.raw('release certdesk_part'));
    return { error };
  }
}

/** True when `e` is a unique-constraint violation (either dialect). */
export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return err?.code === '23505' || err?.code === 'SQLITE_CONSTRAINT_UNIQUE' || err?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * pg's Pool.end() resolves before its connections have finished closing; close() waits for them so
 * that a caller who then drops or stops the database does not kill connections still in use.
 */
function countConnections(pool: pg.Pool): () => Promise<void> {
  let open = 0;
  let whenNone: (() => void) | undefined;
  pool.on('connect', () => void open++);
  pool.on('remove', () => {
    if (--open === 0) whenNone?.();
  });
  return () =>
    open === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          whenNone = resolve;
          setTimeout(resolve, 5000).unref();
        });
}
