// `certdesk audit …`: check the hash chain of the audit log.
import type { Command } from 'commander';
import { verifyAuditChain } from '../sa/audit.js';
import { action } from './errors.js';
import { withStorage } from './util.js';

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the append-only, hash-chained audit log');
  audit
    .command('verify')
    .description('recompute the hash chain; exit 0 when intact, 1 naming the first broken entry')
    .action(
      action(async () => {
        const r = await withStorage((storage) => verifyAuditChain(storage.db));
        if (r.ok) process.stdout.write(`audit chain intact: ${r.entries} entries\n`);
        else {
          process.stdout.write(
            `audit chain BROKEN at entry ${r.brokenAt}: ${r.reason} (${r.entries} entries verified before it)\n`,
          );
          process.exitCode = 1;
        }
      }),
    );
}
