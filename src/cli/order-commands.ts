// `certdesk orders …`: what staff do from the shell until (and besides) the staff console.
import type { Command } from 'commander';
import { loadConfig } from '../config/config.js';
import { fenToYuan, yuanToFen } from '../ra/money.js';
import { findOrderByIdOrReference, recordPayment } from '../ra/payment-ledger.js';
import { orderEvents } from '../sa/orders.js';
import { openRuntime } from '../runtime.js';
import { action, UsageError } from './errors.js';
import { cliActor } from './util.js';

export function registerOrderCommands(program: Command): void {
  const orders = program.command('orders').description('renewal orders and offline payments');

  orders
    .command('confirm-payment')
    .description('confirm an offline payment (邮政汇款 / 银行转帐) for an order; the holder can then update at once')
    .argument('<order>', 'order id (R20261125-…) or its remittance reference code (CD…)')
    .requiredOption('--reference <ref>', 'the transfer/remittance reference from the bank or post office statement')
    .option('--amount <yuan>', 'amount received in yuan, e.g. 300.00 (refused when it differs from the order)')
    .option('--channel <channel>', "postal or bank (default: the order's payment method)")
    .action(
      action(async (key: string, o: { reference: string; amount?: string; channel?: string }) => {
        if (!o.reference.trim()) throw new UsageError('--reference must not be empty');
        if (o.channel && o.channel !== 'postal' && o.channel !== 'bank') throw new UsageError('--channel must be postal or bank');
        let amountFen: number | undefined;
        if (o.amount !== undefined) {
          try {
            amountFen = yuanToFen(o.amount);
          } catch (e) {
            throw new UsageError(`--amount: ${(e as Error).message}`);
          }
        }
        const rt = await openRuntime(loadConfig());
        try {
          const order = await findOrderByIdOrReference(rt.storage, key);
          if (!order) throw new UsageError(`no order with id or reference ${JSON.stringify(key)}`);
          if (order.payment_method === 'online')
            throw new UsageError(`order ${order.id} is paid online (网银支付); offline confirmation does not apply`);
          const outcome = await recordPayment(rt.storage, {
            orderId: order.id,
            channel: o.channel ?? order.payment_method,
            tradeNo: o.reference.trim(),
            amountFen: amountFen ?? order.amount_fen,
            paidAt: Date.now(),
            raw: { reference: o.reference.trim(), amount: o.amount ?? null },
            actor: cliActor(),
          });
          const messages = {
            recorded: `order ${order.id} is paid (¥${fenToYuan(order.amount_fen)}, reference ${o.reference.trim()}); the holder can update now`,
            duplicate: `order ${order.id}: this payment was already recorded; nothing changed`,
            extra: `order ${order.id} was already paid or closed: this payment is recorded as extra, to be refunded`,
          };
          process.stdout.write(messages[outcome] + '\n');
        } finally {
          await rt.close();
        }
      }),
    );

  orders
    .command('show')
    .description('an order with its full history')
    .argument('<order>', 'order id or reference code')
    .action(
      action(async (key: string) => {
        const rt = await openRuntime(loadConfig());
        try {
          const order = await findOrderByIdOrReference(rt.storage, key);
          if (!order) throw new UsageError(`no order with id or reference ${JSON.stringify(key)}`);
          process.stdout.write(
            `${order.id}  ${order.state}  ¥${fenToYuan(order.amount_fen)}  ${order.payment_method}  reference ${order.reference}\n` +
              `  certificate ${order.certificate_serial}  ${order.type_name}  ${order.term_years} year(s)  ${order.organization}\n`,
          );
          for (const e of await orderEvents(rt.storage.db, order.id))
            process.stdout.write(`  ${new Date(e.at).toISOString()}  ${e.type.padEnd(16)} ${e.actor}  ${e.detail}\n`);
        } finally {
          await rt.close();
        }
      }),
    );
}
