// The unsubscribe link of the CA's mails: a GET (mail clients and people follow links) with a
// signed token naming the holder; it records the opt-out of expiry reminders and says so.
import type { FastifyInstance } from 'fastify';
import { checkUnsubscribeToken, optOut } from '../notify/unsubscribe.js';
import type { Runtime } from '../runtime.js';

export function registerNotifyRoutes(app: FastifyInstance, rt: Runtime): void {
  app.get<{ Querystring: { token?: string } }>(
    '/api/notify/unsubscribe',
    { schema: { tags: ['notify'], summary: 'Opt out of expiry reminders (the link in every mail)' } },
    async (req, reply) => {
      reply.type('text/plain; charset=utf-8');
      const holderId = await checkUnsubscribeToken(rt.storage.db, req.query.token ?? '');
      if (holderId === undefined) return reply.code(400).send('退订链接无效 / token: this unsubscribe link is not valid\n');
      await optOut(rt.storage.db, holderId);
      return '您已退订证书到期提醒。/ You will no longer receive certificate expiry reminders.\n';
    },
  );
}
