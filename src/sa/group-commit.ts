// Group commit for SQLite write transactions. With synchronous=FULL every COMMIT fsyncs the WAL, and
// better-sqlite3 does it on the event loop: ~1–2 ms each on a quiet disk, far more on a busy one,
// with nothing else served meanwhile. SQLite runs one writer at a time anyway, so transactions that
// are waiting together run one after another inside a single BEGIN IMMEDIATE … COMMIT, each in its
// own SAVEPOINT: one that fails is rolled back to its savepoint alone and gets its error; the others
// are told they succeeded only after the shared COMMIT (so "resolved" still means "durable"), and
// all of them get the error if that COMMIT fails. Each still sees the writes of those before it,
// exactly as if they had run in separate transactions in that order.
import { CompiledQuery, type Kysely } from 'kysely';

/** Transactions per COMMIT at most, so a long queue still sees commits (and replies) steadily. */
const MAX_GROUP = 64;

interface Waiting<Tx> {
  fn: (tx: Tx) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

const SAVEPOINT = CompiledQuery.raw('savepoint certdesk_group');
const RELEASE = CompiledQuery.raw('release certdesk_group');
const ROLLBACK_TO = CompiledQuery.raw('rollback to certdesk_group');

export class GroupCommit<DB> {
  private readonly queue: Waiting<Kysely<DB>>[] = [];
  private running = false;

  constructor(private readonly db: Kysely<DB>) {}

  run<T, Tx extends Kysely<DB>>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn: fn as (tx: Kysely<DB>) => Promise<unknown>, resolve: resolve as (v: unknown) => void, reject });
      if (!this.running) {
        this.running = true;
        // One turn of the event loop first: requests read in the same turn join this group.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.group();
    } finally {
      this.running = false;
    }
  }

  private async group(): Promise<void> {
    const done: { w: Waiting<Kysely<DB>>; value: unknown }[] = [];
    /** taken from the queue, not yet in `done` nor rejected */
    let current: Waiting<Kysely<DB>> | undefined;
    try {
      await this.db.transaction().execute(async (tx) => {
        for (let n = 0; n < MAX_GROUP && this.queue.length > 0; n++) {
          const w = (current = this.queue.shift()!);
          await tx.executeQuery(SAVEPOINT);
          let value: unknown;
          try {
            value = await w.fn(tx);
          } catch (e) {
            current = undefined;
            w.reject(e);
            // If SQLite already rolled the whole transaction back (I/O error, full disk) this throws
            // too, and everyone before it in the group gets that error below.
            await tx.executeQuery(ROLLBACK_TO);
            await tx.executeQuery(RELEASE);
            continue;
          }
          current = undefined;
          done.push({ w, value });
          await tx.executeQuery(RELEASE);
        }
      });
    } catch (e) {
      current?.reject(e);
      for (const d of done) d.w.reject(e);
      return;
    }
    for (const d of done) d.w.resolve(d.value);
  }
}
