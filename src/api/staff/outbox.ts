// The outbox for staff: messages by state (dead ones are what needs a look) and retrying a dead one.
// The payload is not shown: a mail body carries the holder's unsubscribe token.
import { listMessages, OUTBOX_STATES, outboxMessageViews, retryMessage } from '../../notify/outbox.js';
import { appendAudit } from '../../sa/audit.js';
import { writeTransaction } from '../../sa/database.js';
import type { OutboxState } from '../../sa/schema.js';
import type { StaffRoutes } from './staff-routes.js';

export function registerStaffOutboxRoutes({ api, rt, need, ctx, tags }: StaffRoutes): void {
  api.get<{ Querystring: { state?: string } }>(
    '/api/staff/outbox',
    { schema: { tags, summary: 'Outbox messages (webhooks, e-mails, SMS), newest first' }, preHandler: need('outbox.manage') },
    async (req, reply) => {
      const state = req.query.state;
      if (state !== undefined && !OUTBOX_STATES.includes(state as OutboxState))
        return reply
          .code(400)
          .send({ error: 'invalid', message: `state must be one of ${OUTBOX_STATES.join(', ')}`, field: 'state' });
      return {
        items: await outboxMessageViews(rt.storage.db, await listMessages(rt.storage.db, state as OutboxState | undefined)),
      };
    },
  );

  api.post<{ Params: { id: string } }>(
    '/api/staff/outbox/:id/retry',
    { schema: { tags, summary: 'Retry a dead message: back to pending, due now' }, preHandler: need('outbox.manage') },
    async (req, reply) => {
      const m = await retryMessage(rt.storage.db, req.params.id);
      if (!m) return reply.code(404).send({ error: 'not_found', message: 'no dead message with this id', field: 'id' });
      await writeTransaction(rt.storage, (tx) =>
        appendAudit(tx, [
          { actor: ctx(req).actor, action: 'outbox.retried', target: `outbox:${m.id}`, details: { key: m.idempotency_key } },
        ]),
      );
      return { message: (await outboxMessageViews(rt.storage.db, [m]))[0]! };
    },
  );
}
