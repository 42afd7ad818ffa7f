// Staff sessions over HTTP: their own cookie (certdesk_staff, HttpOnly, SameSite=Strict, path
// /api/staff — never sent to the holders' API, and the holders' cookie never opens the console),
// the CSRF header on every state-changing request, and a permission check per route.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/cookie';
import type { Runtime } from '../../runtime.js';
import type { StaffAccounts, StaffContext } from '../../staff/accounts.js';
import { StaffError } from '../../staff/errors.js';
import type { Permission } from '../../staff/roles.js';
import { csrfTokenMatches, isSafeMethod } from '../csrf.js';

export const STAFF_COOKIE = 'certdesk_staff';
export const STAFF_COOKIE_PATH = '/api/staff';

declare module 'fastify' {
  interface FastifyRequest {
    staff?: StaffContext;
  }
}

export function setStaffCookie(rt: Runtime, reply: FastifyReply, token: string): void {
  void reply.setCookie(STAFF_COOKIE, token, {
    path: STAFF_COOKIE_PATH,
    httpOnly: true,
    sameSite: 'strict',
    secure: rt.config.publicUrl.startsWith('https:'),
  });
}

export function clearStaffCookie(reply: FastifyReply): void {
  void reply.clearCookie(STAFF_COOKIE, { path: STAFF_COOKIE_PATH });
}

export function checkCsrf(req: FastifyRequest, expected: string): void {
  if (!csrfTokenMatches(req, expected))
    throw new StaffError(403, 'csrf', { en: 'missing or wrong x-csrf-token header', zh: '缺少 x-csrf-token 请求头或其值不正确' });
}

/** State-changing requests must come from the console's own origin (PUBLIC_URL or PORTAL_ORIGINS) when the browser says where it is. */
export function checkOrigin(rt: Runtime, req: FastifyRequest): void {
  const origin = req.headers.origin;
  if (isSafeMethod(req) || origin === undefined) return;
  if (!rt.config.portalOrigins.includes(String(origin)))
    throw new StaffError(403, 'origin_not_allowed', {
      en: `staff requests must come from ${rt.config.portalOrigins.join(', ')}, not ${String(origin)}`,
      zh: `工作台请求须来自 ${rt.config.portalOrigins.join('、')}，而不是 ${String(origin)}`,
    });
}

/** preHandler: a full (password + TOTP) staff session holding `permission`. */
export function requireStaff(rt: Runtime, accounts: StaffAccounts, permission?: Permission) {
  return async (req: FastifyRequest): Promise<void> => {
    checkOrigin(rt, req);
    const ctx = await accounts.session(req.cookies[STAFF_COOKIE]);
    checkCsrf(req, ctx.session.csrf_token);
    if (permission && !ctx.permissions.has(permission)) {
      throw new StaffError(403, 'forbidden', {
        en: `your role (${ctx.roles.join(', ')}) does not allow this (${permission})`,
        zh: `您的角色（${ctx.roles.join('、')}）无权执行此操作（${permission}）`,
      });
    }
    req.staff = ctx;
  };
}
