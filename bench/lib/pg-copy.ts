// COPY … FROM STDIN through node-postgres without pg-copy-streams: pg hands any object with a
// submit() method the protocol messages of its query (a "submittable"), and its Connection can
// send CopyData / CopyDone itself. The data is given whole (one batch of rows), not streamed.
import type pg from 'pg';

interface CopyConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}

class CopyFrom {
  private error: Error | undefined;
  private rows = 0;
  constructor(
    readonly text: string,
    private readonly chunks: Buffer[],
    private readonly done: (e: Error | undefined, rows: number) => void,
  ) {}
  submit(connection: CopyConnection): void {
    connection.query(this.text);
  }
  handleCopyInResponse(connection: CopyConnection): void {
    for (const c of this.chunks) connection.sendCopyFromChunk(c);
    connection.endCopyFrom();
  }
  handleCommandComplete(msg: { text?: string }): void {
    this.rows = Number(/(\d+)$/.exec(msg.text ?? '')?.[1] ?? 0);
  }
  handleError(e: Error): void {
    this.error = e;
    this.done(e, 0);
  }
  handleReadyForQuery(): void {
    if (!this.error) this.done(undefined, this.rows);
  }
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handlePortalSuspended(): void {}
  handleEmptyQuery(): void {}
  handleCopyData(): void {}
}

/** Runs `COPY table (columns) FROM STDIN` with `data` (text format); resolves to the rows copied. */
export function copyFrom(client: pg.Client, table: string, columns: readonly string[], data: Buffer[]): Promise<number> {
  const text = `copy ${table} (${columns.map((c) => `"${c}"`).join(', ')}) from stdin`;
  return new Promise((resolve, reject) => {
    client.query(new CopyFrom(text, data, (e, n) => (e ? reject(e) : resolve(n))) as never);
  });
}

/** One value in COPY's text format: \N for null, bytea as \\x…, text with \ tab newline CR escaped. */
export function copyValue(v: string | number | Buffer | null): string {
  if (v === null) return '\\N';
  if (typeof v === 'number') return String(v);
  if (Buffer.isBuffer(v)) return '\\\\x' + v.toString('hex');
  return v.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}
