// `certdesk notify …` (the outbox, for operators) and `certdesk holder contact` (a holder's
// notification contact, set at a service point).
import type { Command } from 'commander';
import { loadConfig } from '../config/config.js';
import { runNotify } from '../notify/notifier.js';
import { listMessages, OUTBOX_STATES, outboxMessageViews, retryMessage } from '../notify/outbox.js';
import { openRuntime } from '../runtime.js';
import { appendAudit } from '../sa/audit.js';
import { writeTransaction } from '../sa/database.js';
import { findHolderByUniqueId, setHolderContact } from '../sa/holders.js';
import type { OutboxState } from '../sa/schema.js';
import { action, UsageError } from './errors.js';
import { cliActor } from './util.js';

const EMAIL = /^[^\s@<>,;]{1,64}@[^\s@<>,;]{1,255}\.[^\s@<>,;]{1,63}$/;
const PHONE = /^\+?\d[\d-]{5,19}$/;

export function registerNotifyCommands(program: Command): void {
  const notify = program
    .command('notify')
    .description('the outbox: webhooks, e-mails and SMS the CA sends (at least once, with retries)');
  notify
    .command('run')
    .description('enqueue the expiry reminders due now and deliver every message due now')
    .action(
      action(async () => {
        const rt = await openRuntime(loadConfig());
        try {
          const r = await runNotify(rt);
          process.stdout.write(`reminders ${r.reminders}, sent ${r.sent}, failed ${r.failed}, dead ${r.dead}\n`);
        } finally {
          await rt.close();
        }
      }),
    );
  notify
    .command('list')
    .description('messages in the outbox, newest first')
    .option('--state <state>', `only messages in this state (${OUTBOX_STATES.join(', ')})`)
    .option('--json', 'JSON output')
    .action(
      action(async (o: { state?: string; json?: boolean }) => {
        if (o.state !== undefined && !OUTBOX_STATES.includes(o.state as OutboxState))
          throw new UsageError(`--state must be one of ${OUTBOX_STATES.join(', ')}, got ${JSON.stringify(o.state)}`);
        const rt = await openRuntime(loadConfig());
        try {
          const rows = await outboxMessageViews(
            rt.storage.db,
            await listMessages(rt.storage.db, o.state as OutboxState | undefined),
          );
          if (o.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
          else
            for (const r of rows)
              process.stdout.write(
                `${String(r.id)}  ${String(r.state).padEnd(7)}  ${String(r.channel).padEnd(7)}  ${String(r.attempts)}  ${String(r.key)}  ${String(r.lastError ?? '')}\n`,
              );
        } finally {
          await rt.close();
        }
      }),
    );
  notify
    .command('retry <id>')
    .description('put a dead message back to pending, due now')
    .action(
      action(async (id: string) => {
        const rt = await openRuntime(loadConfig());
        try {
          const m = await retryMessage(rt.storage.db, id);
          if (!m) throw new UsageError(`id ${id}: no dead message with this id`);
          await writeTransaction(rt.storage, (tx) =>
            appendAudit(tx, [
              { actor: cliActor(), action: 'outbox.retried', target: `outbox:${id}`, details: { key: m.idempotency_key } },
            ]),
          );
          process.stdout.write(`${id} pending\n`);
        } finally {
          await rt.close();
        }
      }),
    );

  const holder = program.command('holder').description('holders (organisations and persons) at a service point');
  holder
    .command('contact <uniqueId>')
    .description("set a holder's e-mail (and phone) for notifications and expiry reminders")
    .requiredOption('--email <addr>', 'e-mail address')
    .option('--phone <number>', 'mobile phone number')
    .action(
      action(async (uniqueId: string, o: { email: string; phone?: string }) => {
        if (!EMAIL.test(o.email)) throw new UsageError(`--email ${JSON.stringify(o.email)} is not an e-mail address`);
        if (o.phone !== undefined && !PHONE.test(o.phone))
          throw new UsageError(`--phone ${JSON.stringify(o.phone)} is not a phone number`);
        const rt = await openRuntime(loadConfig());
        try {
          const h = await findHolderByUniqueId(rt.storage.db, uniqueId);
          if (!h) throw new UsageError(`唯一识别号 ${uniqueId}: no holder with this 唯一识别号`);
          await writeTransaction(rt.storage, async (tx) => {
            await setHolderContact(tx, h.id, { email: o.email, phone: o.phone });
            await appendAudit(tx, [
              {
                actor: cliActor(),
                action: 'holder.contact_set',
                target: `holder:${h.id}`,
                details: { email: o.email, phone: o.phone ?? null },
              },
            ]);
          });
          process.stdout.write(`${uniqueId}: contact ${o.email}${o.phone ? `, ${o.phone}` : ''}\n`);
        } finally {
          await rt.close();
        }
      }),
    );
}
