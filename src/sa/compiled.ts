// Queries compiled once and then executed with fresh parameters, for the hot paths (recording
// issued certificates and their audit entries; the OCSP status read, CertificateStatusReader, goes
// further and prepares its statements once on the driver's handle). Building and compiling a Kysely
// query costs more than SQLite takes to run a simple one; the SQL still comes from the Kysely
// builder (so it is the dialect's own), just not on every call.
import { CompiledQuery, type Compilable } from 'kysely';
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
