// Queries compiled once and then executed with fresh parameters, for the hot paths (recording
// issued certificates and their audit entries; the OCSP status read, CertificateStatusReader, goes
// further and prepares its statements once on the driver's handle). Building and compiling a Kysely
// query costs more than SQLite takes to run a simple one; the SQL still comes from the Kysely
// builder (so it is the dialect's own), just not on every call.
import { CompiledQuery, createQueryId, type Compilable, type QueryResult } from 'kysely';
import type { Executor } from './database.js';

/** One cache per dialect: transactions share their database's adapter. */
const dialectKey = (db: Executor): object => db.getExecutor().adapter;

/** True when the builder placed exactly `expected` as its parameters, in that order. */
function sameParameters(actual: readonly unknown[], expected: readonly unknown[]): boolean {
  return actual.length === expected.length && actual.every((v, i) => v === expected[i]);
}

/**
 * A multi-row INSERT compiled once per dialect and row count. Parameters are the rows' values in
 * `columns` order, row after row (checked against the builder's own when first compiled).
 */
export class BulkInsert<T extends object> {
  private readonly sqlByDialect = new WeakMap<object, Map<number, string>>();

  constructor(
    private readonly columns: readonly (keyof T)[],
    private readonly build: (db: Executor, rows: T[]) => Compilable,
  ) {}

  async execute(db: Executor, rows: T[]): Promise<void> {
    if (rows.length === 0) return;
    const cols = this.columns;
    const params: unknown[] = new Array(rows.length * cols.length);
    let k = 0;
    for (const row of rows) for (const c of cols) params[k++] = row[c];
    const key = dialectKey(db);
    let byCount = this.sqlByDialect.get(key);
    if (!byCount) {
      byCount = new Map();
      this.sqlByDialect.set(key, byCount);
    }
    let sql = byCount.get(rows.length);
    if (sql === undefined) {
      const compiled = this.build(db, rows).compile();
      if (!sameParameters(compiled.parameters, params))
        throw new Error(`BulkInsert: compiled parameters do not follow the column list (${compiled.sql.slice(0, 200)})`);
      sql = compiled.sql;
      byCount.set(rows.length, sql);
    }
    await db.executeQuery(CompiledQuery.raw(sql, params));
  }
}

/** A named parameter's stand-in while a PreparedQuery is compiled: a string no caller would pass. */
const sentinel = (name: string): string => `\u0000certdesk-parameter:${name}\u0000`;

interface PreparedSql {
  sql: string;
  /** the builder's query node: the driver tells a SELECT by it (on SQLite, it reads on the reader) */
  query: CompiledQuery['query'];
  /** per compiled parameter: the name of the value that goes there, or a constant the builder placed */
  slots: ({ name: string } | { constant: unknown })[];
}

/**
 * A query with named parameters, built and compiled once per dialect, then run with fresh values:
 * for the reads and writes every portal request makes (session, certificate, order, audit head).
 * The builder gets a stand-in for each name and must pass it through untouched (no normalising
 * inside it; do that before `execute`): compiling checks that every name landed in the parameters.
 * Constants the builder writes itself (`state in ('paid', …)`) stay as they were compiled.
 */
export class PreparedQuery<K extends string, R> {
  private readonly byDialect = new WeakMap<object, PreparedSql>();

  constructor(
    private readonly names: readonly K[],
    // `never`: a stand-in goes wherever the builder expects a value of any column's type
    private readonly build: (db: Executor, p: Record<K, never>) => Compilable<R>,
  ) {}

  private prepared(db: Executor): PreparedSql {
    const key = dialectKey(db);
    const hit = this.byDialect.get(key);
    if (hit) return hit;
    const standIns = Object.fromEntries(this.names.map((n) => [n, sentinel(n)])) as unknown as Record<K, never>;
    const compiled = this.build(db, standIns).compile();
    const byValue = new Map(this.names.map((n) => [sentinel(n), n]));
    const slots = compiled.parameters.map((v) => {
      const name = typeof v === 'string' ? byValue.get(v) : undefined;
      return name !== undefined ? { name } : { constant: v };
    });
    const missing = this.names.filter((n) => !slots.some((s) => 'name' in s && s.name === n));
    if (missing.length)
      throw new Error(
        `PreparedQuery: parameter ${missing.join(', ')} did not reach the SQL as given (${compiled.sql.slice(0, 200)})`,
      );
    const prepared = { sql: compiled.sql, query: compiled.query, slots };
    this.byDialect.set(key, prepared);
    return prepared;
  }

  /** The driver's result: rows, and for writes numAffectedRows. */
  async run(db: Executor, params: Record<K, unknown>): Promise<QueryResult<R>> {
    const { sql, query, slots } = this.prepared(db);
    const values = slots.map((s) => ('name' in s ? params[s.name as K] : s.constant));
    return db.executeQuery<R>({ sql, parameters: values, query, queryId: createQueryId() });
  }

  async execute(db: Executor, params: Record<K, unknown>): Promise<R[]> {
    return (await this.run(db, params)).rows;
  }

  async first(db: Executor, params: Record<K, unknown>): Promise<R | undefined> {
    return (await this.execute(db, params))[0];
  }
}

/**
 * PreparedQuerys that differ in what their SQL is built with (constant `IN` lists, a set of columns):
 * one per key, made on first use. The callers pass a handful of variants, so the map stays small.
 */
export function preparedVariants<V, K extends string, R>(
  keyOf: (variant: V) => string,
  make: (variant: V) => PreparedQuery<K, R>,
): (variant: V) => PreparedQuery<K, R> {
  const made = new Map<string, PreparedQuery<K, R>>();
  return (variant) => {
    const key = keyOf(variant);
    let q = made.get(key);
    if (!q) made.set(key, (q = make(variant)));
    return q;
  };
}
