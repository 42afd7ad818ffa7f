// Holder sessions: an opaque random cookie (HttpOnly, SameSite=Strict, Secure under https) whose
// SHA-256 is the database key, a CSRF token required on every state-changing request, and an idle
// timeout. The session is bound to the certificate that logged in.
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/cookie';
import type { Runtime } from '../../runtime.js';
import { csrfTokenMatches } from '../csrf.js';
import { getCertificate, type CertificateRecord } from '../../sa/certificates.js';
import { getHolder, type Holder } from '../../sa/holders.js';
import { groupedWrite, type Executor } from '../../sa/database.js';
import { endSession, getSession, insertSession, touchSession, type PortalSession } from '../../sa/sessions.js';

export const SESSION_COOKIE = 'certdesk_session';

export interface PortalContext {
  session: PortalSession;
  certificate: CertificateRecord;
  holder: Holder | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    portal?: PortalContext;
  }
}

/** The portal context of a request past requireSession. */
export const portalOf = (req: FastifyRequest): PortalContext => req.portal!;

/** Who a holder's request acts as (audit log, order events): the certificate the session logged in with. */
export const holderActor = (req: FastifyRequest): string => `holder:${portalOf(req).session.certificate_serial}`;

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

const hash = (token: string): string => createHash('sha256').update(token).digest('hex');

/**
 * Records a new session for the certificate (in the caller's write, with the challenge it used up);
 * the token goes to the holder's cookie once that write is committed (setSessionCookie).
 */
export async function openSession(
  db: Executor,
  opts: { certificate: CertificateRecord; renewalOnly: boolean },
): Promise<{ session: PortalSession; token: string }> {
  const token = randomBytes(32).toString('base64url');
  const now = Date.now();
  const session: PortalSession = {
    id: hash(token),
    holder_id: opts.certificate.holder_id,
    certificate_serial: opts.certificate.serial,
    csrf_token: randomBytes(24).toString('base64url'),
    renewal_only: opts.renewalOnly ? 1 : 0,
    created_at: now,
    last_seen_at: now,
    ended_at: null,
  };
  await insertSession(db, session);
  return { session, token };
}

export function setSessionCookie(rt: Runtime, reply: FastifyReply, token: string): void {
  void reply.setCookie(SESSION_COOKIE, token, {
    path: '/',
    httpOnly: true,
    sameSite: 'strict',
    secure: rt.config.publicUrl.startsWith('https:'),
  });
}

function checkCsrf(req: FastifyRequest, session: PortalSession): void {
  if (!csrfTokenMatches(req, session.csrf_token)) throw new HttpError(403, 'csrf', 'missing or wrong x-csrf-token header');
}

/**
 * Logout: a live session ends only with its CSRF token (another site must not log the holder out);
 * without a live session there is nothing to end and the cookie is cleared.
 */
export async function endCurrentSession(rt: Runtime, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const token = req.cookies[SESSION_COOKIE];
  const session = token ? await getSession(rt.storage.db, hash(token)) : undefined;
  if (session) {
    checkCsrf(req, session);
    await groupedWrite(rt.storage, (db) => endSession(db, session.id, Date.now()));
  }
  void reply.clearCookie(SESSION_COOKIE, { path: '/' });
}

/** preHandler: loads the session, enforces idle timeout and CSRF; 401/403 otherwise. */
export function requireSession(rt: Runtime, opts: { allowRenewalOnly: boolean }) {
  return async (req: FastifyRequest): Promise<void> => {
    const token = req.cookies[SESSION_COOKIE];
    const session = token ? await getSession(rt.storage.db, hash(token)) : undefined;
    const now = Date.now();
    if (!session) throw new HttpError(401, 'no_session', 'not logged in: log in with your certificate (登录系统)');
    if (now - session.last_seen_at > rt.config.portalIdleMinutes * 60_000) {
      await groupedWrite(rt.storage, (db) => endSession(db, session.id, now));
      throw new HttpError(
        401,
        'session_expired',
        `logged out after ${rt.config.portalIdleMinutes} minutes without activity; please log in again`,
      );
    }
    checkCsrf(req, session);
    if (session.renewal_only && !opts.allowRenewalOnly) {
      throw new HttpError(403, 'renewal_only', 'this certificate has expired: only renewal is available until it is renewed');
    }
    const certificate = await getCertificate(rt.storage.db, session.certificate_serial);
    if (!certificate) throw new HttpError(401, 'no_session', 'the session certificate is not on record');
    // Touch at most once a minute: idle timeout needs no finer grain, and it keeps reads cheap.
    if (now - session.last_seen_at > 60_000) await groupedWrite(rt.storage, (db) => touchSession(db, session.id, now));
    const holder = await getHolder(rt.storage.db, session.holder_id);
    req.portal = { session, certificate, holder };
  };
}
