// Group commit for write transactions. With synchronous=FULL every SQLite COMMIT fsyncs the WAL, and
// better-sqlite3 does it on the event loop: ~1–2 ms each on a quiet disk, far more on a busy one,
// with nothing else served meanwhile. SQLite runs one writer at a time anyway, so transactions that
// are waiting together run one after another inside a single BEGIN IMMEDIATE … COMMIT, each in its
// own SAVEPOINT: one that fails is rolled back to its savepoint alone and gets its error. Every one
// is answered only after the shared COMMIT (so "resolved" still means "durable", and a failed one
// that looks again sees what the others committed); if that COMMIT fails, the others get its error.
// Each still sees the writes of those before it, exactly as if they had run in separate
// transactions in that order. PostgreSQL write transactions are serialised by the audit chain's
// advisory lock, so they gain the same way: one lock, one COMMIT (one WAL flush) for the group
// instead of one each (`begin` takes the lock). There, every statement the group sends is a round
// trip taken while all other writers wait, so the release of one member's savepoint and the next
// one's travel together in one simple query, and the last is released by the COMMIT itself.
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
/** PostgreSQL's simple query protocol (no parameters) takes both at once; SQLite prepares one statement at a time */
const RELEASE_AND_SAVEPOINT = CompiledQuery.raw('release certdesk_group; savepoint certdesk_group');

export class GroupCommit<DB> {
  private readonly queue: Waiting<Kysely<DB>>[] = [];
  private running = false;

  constructor(
    private readonly db: Kysely<DB>,
    /** runs first in every group's transaction (PostgreSQL: the advisory lock) */
    private readonly begin?: (tx: Kysely<DB>) => Promise<void>,
    /** after a member's writes were rolled back to its savepoint (what caches them forgets them) */
    private readonly rolledBack?: (tx: Kysely<DB>) => void,
    /** the database runs several statements sent as one (PostgreSQL) */
    private readonly multiStatement = false,
  ) {}

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
    const batch = this.queue.splice(0, MAX_GROUP);
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      await this.db.transaction().execute(async (tx) => {
        if (this.begin) await this.begin(tx);
        for (const [i, w] of batch.entries()) {
          // the member before left its savepoint open (rolled back to or not): release it first
          if (i === 0) await tx.executeQuery(SAVEPOINT);
          else if (this.multiStatement) await tx.executeQuery(RELEASE_AND_SAVEPOINT);
          else {
            await tx.executeQuery(RELEASE);
            await tx.executeQuery(SAVEPOINT);
          }
          try {
            outcomes.push({ ok: true, value: await w.fn(tx) });
          } catch (error) {
            outcomes.push({ ok: false, error });
            // If SQLite already rolled the whole transaction back (I/O error, full disk) this throws
            // too, and everyone in the group gets that error below. The savepoint stays open.
            await tx.executeQuery(ROLLBACK_TO);
            this.rolledBack?.(tx);
          }
        }
        // the COMMIT releases the last savepoint
      });
    } catch (e) {
      // the group's transaction failed (its BEGIN, lock, COMMIT, or a rollback the database made):
      // nothing in it holds; a member that failed on its own keeps its own error
      batch.forEach((w, i) => {
        const o = outcomes[i];
        w.reject(o && !o.ok ? o.error : e);
      });
      return;
    }
    // Answered only now, after the COMMIT, failures too: a caller that looks again after its error
    // (say, for the row a unique constraint found) sees what the others committed.
    batch.forEach((w, i) => {
      const o = outcomes[i]!;
      if (o.ok) w.resolve(o.value);
      else w.reject(o.error);
    });
  }
}
