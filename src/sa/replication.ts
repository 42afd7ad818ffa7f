// How far the read replica (DATABASE_READ_URL) is behind the primary: bytes of WAL not yet replayed
// (primary's current LSN − replica's replay LSN) and, when that is not zero, the age of the last
// transaction the replica replayed. A caught-up replica of an idle primary has lag 0, not the time
// since the last commit.
import { sql } from 'kysely';
import type { Storage } from './database.js';

export interface ReplicationLag {
  lagBytes: number;
  lagMs: number;
  primaryLsn: string;
  replayLsn: string;
}

export async function replicationLag(storage: Storage): Promise<ReplicationLag> {
  const primary = await sql<{ lsn: string }>`select pg_current_wal_lsn()::text as lsn`.execute(storage.db);
  const primaryLsn = primary.rows[0]!.lsn;
  const r = await sql<{ recovery: boolean; replay: string | null; bytes: string | null; age_ms: string | null }>`
    select pg_is_in_recovery() as recovery,
           pg_last_wal_replay_lsn()::text as replay,
           pg_wal_lsn_diff(${primaryLsn}::pg_lsn, pg_last_wal_replay_lsn())::text as bytes,
           (extract(epoch from (clock_timestamp() - pg_last_xact_replay_timestamp())) * 1000)::bigint::text as age_ms`.execute(
    storage.readDb,
  );
  const row = r.rows[0]!;
  if (!row.recovery || row.replay === null)
    throw new Error('DATABASE_READ_URL is not a streaming replica (pg_is_in_recovery() is false)');
  const lagBytes = Math.max(0, Number(row.bytes ?? 0));
  return { lagBytes, lagMs: lagBytes === 0 ? 0 : Math.max(0, Number(row.age_ms ?? 0)), primaryLsn, replayLsn: row.replay };
}
