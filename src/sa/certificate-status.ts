// The certificate status the OCSP responder answers from (CertificateStatusReader).
import type BetterSqlite3 from 'better-sqlite3';
import { IN_LIST_CHUNK, type CertificateRecord } from './certificates.js';
import type { Executor, Storage } from './database.js';

export type CertificateStatusRow = Pick<CertificateRecord, 'ca_id' | 'status' | 'revoked_at' | 'revocation_reason' | 'not_after'>;

const statusQuery = (db: Executor, serials: string[]) =>
  db
    .selectFrom('certificates')
    .select(['serial', 'ca_id', 'status', 'revoked_at', 'revocation_reason', 'not_after'])
    .where('serial', 'in', serials);
type StatusResultRow = CertificateStatusRow & { serial: string };

/**
 * The status read the OCSP responder answers from — the one place that decides where certificate
 * status is read, for every request (so a revocation by any process shows at once). The SQL is the
 * Kysely builder's, compiled once per list length; it runs on the driver's own handle, prepared once:
 * Kysely's SQLite driver prepares every statement on every call, which was among the top items of
 * an OCSP profile. Reads asked for in the same event-loop turn (concurrent requests) share one query
 * — on SQLite each read transaction costs more than the lookup in it; PostgreSQL uses named prepared
 * statements.
 */
export class CertificateStatusReader {
  private readonly sqlite = new Map<number, BetterSqlite3.Statement<string[], StatusResultRow>>();
  private readonly sqlByLength = new Map<number, string>();
  private waiting = new Map<
    string,
    { resolve: (row: CertificateStatusRow | undefined) => void; reject: (e: unknown) => void }[]
  >();
  private scheduled = false;

  constructor(private readonly storage: Storage) {}

  /** Status rows by serial (stored form); serials the database does not know are left out. */
  read(serials: string[]): Promise<Map<string, CertificateStatusRow>> {
    return Promise.all(serials.map((s) => this.readBatched(s))).then((rows) => {
      const out = new Map<string, CertificateStatusRow>();
      rows.forEach((row, i) => row && out.set(serials[i]!, row));
      return out;
    });
  }

  /** SQLite: one synchronous query per chunk, on statements prepared once. */
  private readSqlite(sqlite: BetterSqlite3.Database, serials: string[]): Map<string, CertificateStatusRow> {
    const out = new Map<string, CertificateStatusRow>();
    for (let i = 0; i < serials.length; i += IN_LIST_CHUNK) {
      const chunk = serials.slice(i, i + IN_LIST_CHUNK);
      let stmt = this.sqlite.get(chunk.length);
      if (!stmt) this.sqlite.set(chunk.length, (stmt = sqlite.prepare(this.sql(chunk))));
      for (const { serial, ...row } of stmt.all(...chunk)) out.set(serial, row);
    }
    return out;
  }

  private sql(serials: string[]): string {
    let sql = this.sqlByLength.get(serials.length);
    if (sql === undefined) {
      const compiled = statusQuery(this.storage.db, serials).compile();
      if (compiled.parameters.length !== serials.length) throw new Error('status query: unexpected parameters');
      this.sqlByLength.set(serials.length, (sql = compiled.sql));
    }
    return sql;
  }

  private readBatched(serial: string): Promise<CertificateStatusRow | undefined> {
    return new Promise((resolve, reject) => {
      let waiters = this.waiting.get(serial);
      if (!waiters) this.waiting.set(serial, (waiters = []));
      waiters.push({ resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    const batch = this.waiting;
    this.waiting = new Map();
    this.scheduled = false;
    const native = this.storage.native;
    try {
      const serials = [...batch.keys()];
      const rows =
        native.dialect === 'sqlite' ? this.readSqlite(native.statusReader, serials) : new Map<string, CertificateStatusRow>();
      for (let i = 0; native.dialect === 'postgres' && i < serials.length; i += IN_LIST_CHUNK) {
        const chunk = serials.slice(i, i + IN_LIST_CHUNK);
        // named: pg prepares it once per connection and then only binds and executes
        const r = await native.pool.query<StatusResultRow>({
          name: `certdesk-status-${chunk.length}`,
          text: this.sql(chunk),
          values: chunk,
        });
        for (const { serial, ...row } of r.rows) rows.set(serial, row);
      }
      for (const [serial, waiters] of batch) for (const w of waiters) w.resolve(rows.get(serial));
    } catch (e) {
      for (const waiters of batch.values()) for (const w of waiters) w.reject(e);
    }
  }
}
