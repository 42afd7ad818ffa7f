// Kysely's driver for the embedded SQLite database: two connections to one file.
//
// Writes, write transactions and raw SQL go to the writer, one user at a time (ConnectionQueue). A
// plain SELECT outside a transaction goes to a read-only connection at once, instead of waiting for
// whichever transaction holds the writer: with Kysely's own driver (one connection) every read waited
// behind it, however long it took — and it can take long, when it waits for the write lock itself.
//
// That lock is shared with other processes (`serve --workers`, the CLI). SQLite's busy handler waits
// for it by sleeping inside the call, on the event loop: one process's long transaction (a CRL
// regeneration, a bulk load) froze every other process at its next write, OCSP included, for up to
// busy_timeout. Here the statement that takes the lock (BEGIN IMMEDIATE, an autocommit write) does
// not wait inside SQLite; when the lock is taken it is tried again after a timer, and meanwhile the
// process goes on serving.
//
// The reader sees committed rows only, which is what a read outside a transaction saw before too
// (it waited for the transaction on the connection to end). A caller's own writes are committed
// before its next read (writeTransaction resolves after COMMIT), and WAL gives each new read the
// latest commit. Reads inside a transaction go to the writer and see the transaction's own writes.
import {
  CompiledQuery,
  SelectQueryNode,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
  type SqliteDatabase,
  type SqliteStatement,
} from 'kysely';
import { ConnectionQueue } from './connection-queue.js';

const COMMIT = CompiledQuery.raw('commit');
const ROLLBACK = CompiledQuery.raw('rollback');
/** Longest single wait between tries for the write lock. */
const MAX_RETRY_MS = 16;

/** One statement on one better-sqlite3 database, as Kysely's own SqliteConnection runs it. */
function execute<R>(db: SqliteDatabase, q: CompiledQuery): QueryResult<R> {
  const stmt = db.prepare(q.sql);
  if (stmt.reader) return { rows: stmt.all(q.parameters) as R[] };
  const { changes, lastInsertRowid } = stmt.run(q.parameters);
  return {
    numAffectedRows: changes === undefined || changes === null ? undefined : BigInt(changes),
    insertId: lastInsertRowid === undefined || lastInsertRowid === null ? undefined : BigInt(lastInsertRowid),
    rows: [],
  };
}

/**
 * What Kysely holds between acquireConnection and releaseConnection. It takes the writer at its
 * first statement that is not a plain SELECT (or at BEGIN), and keeps it until released: a raw
 * `begin` sent through `db.connection()` (a migration) keeps the writer to its `commit`.
 */
class RoutedConnection implements DatabaseConnection {
  writing = false;
  constructor(private readonly driver: RoutingSqliteDriver) {}

  async executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    if (!this.writing) {
      if (SelectQueryNode.is(q.query)) return execute<R>(this.driver.reader, q);
      await this.takeWriter();
      // outside a transaction (the writer was free): an autocommit write, or the raw BEGIN of one
      return this.driver.takingLock(() => execute<R>(this.driver.writer, q));
    }
    return execute<R>(this.driver.writer, q);
  }

  async *streamQuery<R>(q: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    // an open iterator keeps its read transaction (and snapshot) open: on the shared reader every
    // other read would see that snapshot meanwhile, so a stream holds the writer, as before
    if (!SelectQueryNode.is(q.query)) throw new Error('the SQLite driver streams SELECT queries only');
    if (!this.writing) await this.takeWriter();
    for (const row of this.driver.writer.prepare(q.sql).iterate(q.parameters)) yield { rows: [row as R] };
  }

  async takeWriter(): Promise<void> {
    await this.driver.queue.acquire();
    this.writing = true;
  }

  release(): void {
    if (!this.writing) return;
    this.writing = false;
    this.driver.queue.release();
  }
}

export class RoutingSqliteDriver implements Driver {
  readonly queue = new ConnectionQueue();
  readonly writer: SqliteDatabase;
  readonly reader: SqliteDatabase;
  private readonly lockWaitMs: number;
  private readonly noWait: SqliteStatement;
  private readonly wait: SqliteStatement;
  private readonly begin: SqliteStatement;

  constructor(cfg: RoutingSqliteConfig) {
    this.writer = cfg.writer;
    this.reader = cfg.reader;
    this.lockWaitMs = cfg.lockWaitMs;
    this.noWait = cfg.writer.prepare('pragma busy_timeout = 0');
    this.wait = cfg.writer.prepare(`pragma busy_timeout = ${Math.trunc(cfg.lockWaitMs)}`);
    this.begin = cfg.writer.prepare('begin immediate');
  }

  async init(): Promise<void> {}

  acquireConnection(): Promise<DatabaseConnection> {
    return Promise.resolve(new RoutedConnection(this));
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as RoutedConnection;
    if (!c.writing) await c.takeWriter();
    // IMMEDIATE: the write lock at BEGIN, so read-then-write is never upgraded mid-way
    await this.takingLock(() => this.begin.run([]));
  }

  /**
   * Runs `fn`, the statement that takes the write lock, without SQLite's own waiting for it; when
   * another connection holds it (SQLITE_BUSY, and nothing was done), again after a timer. After
   * `lockWaitMs` in all the last SQLITE_BUSY is the caller's, as SQLite's busy handler gives up then.
   */
  async takingLock<T>(fn: () => T): Promise<T> {
    const until = Date.now() + this.lockWaitMs;
    for (let pause = 1; ; pause = Math.min(pause * 2, MAX_RETRY_MS)) {
      this.noWait.all([]);
      try {
        return fn();
      } catch (e) {
        if ((e as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() + pause > until) throw e;
      } finally {
        this.wait.all([]);
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(COMMIT);
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(ROLLBACK);
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    (connection as RoutedConnection).release();
    return Promise.resolve();
  }

  async destroy(): Promise<void> {
    this.writer.close();
  }
}

export interface RoutingSqliteConfig {
  /** the read-write connection, as Kysely runs statements on it (sqlite-statements.ts) */
  writer: SqliteDatabase;
  /** a read-only connection to the same file */
  reader: SqliteDatabase;
  /** how long a transaction waits for the write lock in all; the writer's busy_timeout is this */
  lockWaitMs: number;
}

/** Kysely's SQLite dialect on RoutingSqliteDriver. */
export class RoutingSqliteDialect implements Dialect {
  constructor(private readonly cfg: RoutingSqliteConfig) {}
  createDriver(): Driver {
    return new RoutingSqliteDriver(this.cfg);
  }
  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }
  createAdapter(): DialectAdapter {
    return new SqliteAdapter();
  }
  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}
