// How many SQL statements this process has sent through Kysely (GET /metrics:
// certdesk_db_statements_total). On PostgreSQL each one is a round trip, and inside a write
// transaction one taken while every other writer waits, so this count is what a change to a flow's
// reads and writes moves; bench:renewal prints it per holder. The OCSP status read prepares its
// statements on the driver itself and is not counted.
import type { LogEvent } from 'kysely';

let statements = 0;

/** Kysely's `log` hook: called once per statement executed, failed ones too. */
export function countStatement(_event: LogEvent): void {
  statements++;
}

export const statementsRun = (): number => statements;
