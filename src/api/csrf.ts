// The CSRF check shared by the holders' and the staff's sessions: a state-changing request must
// carry the session's token in `x-csrf-token` (a page of another site cannot read it).
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export const isSafeMethod = (req: FastifyRequest): boolean => SAFE.has(req.method);

/** True for a safe method, or when the request carries exactly `expected` in x-csrf-token. */
export function csrfTokenMatches(req: FastifyRequest, expected: string): boolean {
  if (isSafeMethod(req)) return true;
  const sent = Buffer.from(String(req.headers['x-csrf-token'] ?? ''));
  const want = Buffer.from(expected);
  return sent.length === want.length && timingSafeEqual(sent, want);
}
