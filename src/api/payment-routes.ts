// Server-to-server payment endpoints: the gateway's asynchronous notification (the authoritative
// proof of payment), and the sandbox platform itself when the sandbox gateway is in use.
import type { FastifyInstance } from 'fastify';
import { GatewayError } from '../payments/gateway.js';
import { sandboxKeys } from '../payments/sandbox/keys.js';
import { DEFAULT_NOTIFY_BACKOFF_MS, registerSandboxPlatform } from '../payments/sandbox/platform.js';
import { RaError } from '../ra/errors.js';
import { recordPayment } from '../ra/payment-ledger.js';
import { SANDBOX_MERCHANT_ID, type Runtime } from '../runtime.js';

export function registerPaymentRoutes(app: FastifyInstance, rt: Runtime): void {
  app.post<{ Params: { gateway: string }; Body: Record<string, string> }>(
    '/api/payments/notify/:gateway',
    { schema: { tags: ['payments'], summary: 'Asynchronous payment notification from the gateway' } },
    async (req, reply) => {
      const gw = rt.gateway;
      reply.type('text/plain');
      if (req.params.gateway !== gw.id) return reply.code(404).send('fail');
      try {
        const payment = gw.parseNotification(req.body ?? {});
        if (payment) {
          const outcome = await recordPayment(rt.storage, { ...payment, channel: gw.id, actor: `gateway:${gw.id}` });
          req.log.info({ order: payment.orderId, tradeNo: payment.tradeNo, outcome }, 'payment notification');
        }
        return gw.acknowledgement(true);
      } catch (e) {
        if (e instanceof GatewayError) {
          req.log.warn({ code: e.code, msg: e.message }, 'payment notification refused');
          return reply.code(400).send(gw.acknowledgement(false));
        }
        // A payment for an order we cannot take (amount mismatch, unknown order) is acknowledged: the
        // gateway retrying will not change it. It is in the order's events and the log for staff.
        if (e instanceof RaError) {
          req.log.error({ code: e.code, msg: e.message }, 'payment notification not applied');
          return gw.acknowledgement(true);
        }
        throw e;
      }
    },
  );

  const keys = sandboxKeys(rt.config.dataDir);
  registerSandboxPlatform(app, {
    storage: rt.storage,
    platformKey: keys.platformPrivate,
    merchants: new Map([[SANDBOX_MERCHANT_ID, { publicKey: keys.merchantPublic, name: rt.config.productName }]]),
    notify: rt.config.sandboxNotify,
    backoffMs: DEFAULT_NOTIFY_BACKOFF_MS,
    log: (msg, err) => app.log.warn({ err }, msg),
  });
}
