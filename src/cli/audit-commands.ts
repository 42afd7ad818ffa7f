// `certdesk audit …`: check the hash chain of the audit log.
import type { Command } from 'commander';
import { formatCheckpoint, parseCheckpoint, verifyAuditChain, type AuditCheckpoint } from '../sa/audit.js';
import { action, UsageError } from './errors.js';
import { withStorage } from './util.js';

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the append-only, hash-chained audit log');
  audit
    .command('verify')
    .description(
      'recompute the hash chain; exit 0 when intact, 1 naming the first broken entry. Prints the head as SEQ:HASH: keep it outside the database, and a later --checkpoint SEQ:HASH also detects entries cut off the end',
    )
    .option(
      '--checkpoint <seq:hash>',
      'an earlier head (from this command or the server log\'s "audit checkpoint" lines) that must still be in the chain; repeatable',
      (v: string, acc: AuditCheckpoint[]) => {
        const c = parseCheckpoint(v);
        if (!c)
          throw new UsageError(`--checkpoint must be SEQ:HASH (a number, a colon, 64 hex digits), got ${JSON.stringify(v)}`);
        return [...acc, c];
      },
      [] as AuditCheckpoint[],
    )
    .action(
      action(async (o: { checkpoint: AuditCheckpoint[] }) => {
        const r = await withStorage((storage) => verifyAuditChain(storage.db, o.checkpoint));
        if (r.ok) {
          const checked = o.checkpoint.length ? `, ${o.checkpoint.length} checkpoint(s) found` : '';
          process.stdout.write(
            `audit chain intact: ${r.entries} entries${checked}${r.head ? `; head ${formatCheckpoint(r.head)}` : ''}\n`,
          );
        } else {
          process.stdout.write(
            `audit chain BROKEN at entry ${r.brokenAt}: ${r.reason} (${r.entries} entries verified before it)\n`,
          );
          process.exitCode = 1;
        }
      }),
    );
}
