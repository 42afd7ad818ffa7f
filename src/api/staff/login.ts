// Staff login (password, then TOTP), the session, logout and one's own password.
import QRCode from 'qrcode';
import { staffView, type StaffContext } from '../../staff/accounts.js';
import { invalid } from '../../staff/errors.js';
import { ip, str, type Body } from './params.js';
import { checkCsrf, checkOrigin, clearStaffCookie, setStaffCookie, STAFF_COOKIE } from './session.js';
import type { LoginStepView, StaffSessionView } from './shapes.js';
import type { StaffRoutes } from './staff-routes.js';

export function registerStaffLoginRoutes({ api, rt, accounts, need, ctx, tags }: StaffRoutes): void {
  const sessionBody = async (c: StaffContext): Promise<StaffSessionView> => ({
    staff: staffView(c.account),
    permissions: [...c.permissions].sort(),
    csrfToken: c.session.csrf_token,
    idleMinutes: rt.config.staffIdleMinutes,
  });

  api.post<{ Body: Body }>(
    '/api/staff/login',
    {
      schema: { tags, summary: 'Step 1: user name and password', body: { type: 'object' } },
      config: { rateLimit: { max: 30, timeWindow: '1 minute' } },
    },
    async (req, reply): Promise<LoginStepView> => {
      checkOrigin(rt, req);
      const username = str(req.body, 'username');
      const password = str(req.body, 'password');
      if (username.length > 64 || password.length > 256)
        throw invalid({ en: 'user name or password too long', zh: '用户名或密码过长' });
      const { token, session, account } = await accounts.loginPassword(username, password, ip(req));
      setStaffCookie(rt, reply, token);
      if (account.totp_confirmed_at !== null) return { next: 'totp', csrfToken: session.csrf_token };
      const uri = accounts.enrolmentUri(account);
      return {
        next: 'enrol',
        csrfToken: session.csrf_token,
        enrol: { otpauthUri: uri, secret: account.totp_secret, qr: await QRCode.toDataURL(uri, { margin: 1, width: 220 }) },
      };
    },
  );

  api.post<{ Body: Body }>(
    '/api/staff/login/totp',
    {
      schema: { tags, summary: 'Step 2: the TOTP code (the first one confirms enrolment)', body: { type: 'object' } },
      config: { rateLimit: { max: 30, timeWindow: '1 minute' } },
    },
    async (req, reply) => {
      checkOrigin(rt, req);
      const pendingToken = req.cookies[STAFF_COOKIE];
      const pending = await accounts.pending(pendingToken);
      checkCsrf(req, pending.session.csrf_token);
      // a new cookie and CSRF token for the full session: the password-only ones stop working
      const { token, context } = await accounts.loginTotp(pendingToken, str(req.body, 'code'), ip(req));
      setStaffCookie(rt, reply, token);
      return sessionBody(context);
    },
  );

  api.get('/api/staff/session', { schema: { tags, summary: 'The current staff session' }, preHandler: need() }, async (req) =>
    sessionBody(ctx(req)),
  );

  api.post('/api/staff/logout', { schema: { tags, summary: 'End the staff session' } }, async (req, reply) => {
    const token = req.cookies[STAFF_COOKIE];
    const c = await accounts.session(token).catch(() => undefined);
    if (c) checkCsrf(req, c.session.csrf_token);
    await accounts.logout(token, c);
    clearStaffCookie(reply);
    return reply.code(204).send();
  });

  api.post<{ Body: Body }>(
    '/api/staff/password',
    { schema: { tags, summary: 'Change your own password', body: { type: 'object' } }, preHandler: need() },
    async (req, reply) => {
      await accounts.changeOwnPassword(ctx(req), str(req.body, 'current'), str(req.body, 'next'));
      return reply.code(204).send();
    },
  );
}
