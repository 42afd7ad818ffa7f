// SMS through a gateway adapter. The sandbox (like the payment sandbox) "sends" by recording the
// message in sms_sandbox, where tests and the demo read it; a real gateway would be chosen in
// runtime.ts by configuration.
import { randomUUID } from 'node:crypto';
import type { Executor } from '../sa/database.js';

export interface SmsGateway {
  send(phone: string, body: string): Promise<void>;
}

export function sandboxSmsGateway(db: Executor): SmsGateway {
  return {
    async send(phone, body) {
      await db.insertInto('sms_sandbox').values({ id: randomUUID(), phone, body, created_at: Date.now() }).execute();
    },
  };
}

export async function sandboxSmsMessages(
  db: Executor,
  phone?: string,
): Promise<{ phone: string; body: string; created_at: number }[]> {
  let q = db.selectFrom('sms_sandbox').select(['phone', 'body', 'created_at']).orderBy('created_at');
  if (phone) q = q.where('phone', '=', phone);
  return q.execute();
}
