// X-Certdesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 over "<t>.<raw body>"> (docs/WEBHOOKS.md).
// The timestamp is signed with the body so a receiver can refuse replays of an old delivery.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'X-Certdesk-Signature';

export function signWebhook(secret: string, body: string, t: number = Math.floor(Date.now() / 1000)): string {
  const mac = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return `t=${t},v1=${mac}`;
}

/** True when `header` signs `body` with `secret` and its timestamp is within `toleranceSeconds` of now. */
export function verifyWebhook(
  secret: string,
  header: string | undefined,
  body: string,
  toleranceSeconds = 300,
  now: number = Date.now(),
): boolean {
  if (!header) return false;
  const parts = new Map(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1') ?? '';
  if (!Number.isInteger(t) || Math.abs(now / 1000 - t) > toleranceSeconds || !/^[0-9a-f]{64}$/.test(v1)) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(v1, 'hex'));
}
