// Staff accounts (admin): list, create, change, reset password / TOTP, unlock.
import { staffView } from '../../staff/accounts.js';
import { invalid } from '../../staff/errors.js';
import { str, type Body } from './params.js';
import type { StaffRoutes } from './staff-routes.js';

export function registerStaffAccountRoutes({ api, accounts, need, ctx, tags }: StaffRoutes): void {
  api.get('/api/staff/accounts', { schema: { tags, summary: 'Staff accounts' }, preHandler: need('staff.manage') }, async () => ({
    items: (await accounts.list()).map((a) => staffView(a)),
  }));

  api.post<{ Body: Body }>(
    '/api/staff/accounts',
    {
      schema: {
        tags,
        summary: 'Create a staff account (password shown once; TOTP enrolled at first login)',
        body: { type: 'object' },
      },
      preHandler: need('staff.manage'),
    },
    async (req, reply) => {
      const roles = req.body?.roles;
      if (!Array.isArray(roles)) throw invalid({ en: 'roles must be a list', zh: 'roles 须为角色列表' }, 'roles');
      const created = await accounts.create(
        { username: str(req.body, 'username'), displayName: str(req.body, 'displayName', false), roles: roles.map(String) },
        ctx(req).actor,
      );
      return reply.code(201).send({ account: staffView(created.account), password: created.password });
    },
  );

  api.patch<{ Params: { id: string }; Body: Body }>(
    '/api/staff/accounts/:id',
    { schema: { tags, summary: 'Change roles, name, disabled', body: { type: 'object' } }, preHandler: need('staff.manage') },
    async (req) => {
      const b = req.body ?? {};
      const a = await accounts.update(
        Number(req.params.id),
        {
          ...(Array.isArray(b.roles) ? { roles: b.roles.map(String) } : {}),
          ...(typeof b.displayName === 'string' ? { displayName: b.displayName } : {}),
          ...(typeof b.disabled === 'boolean' ? { disabled: b.disabled } : {}),
        },
        ctx(req).actor,
      );
      return { account: staffView(a) };
    },
  );

  api.post<{ Params: { id: string } }>(
    '/api/staff/accounts/:id/reset-password',
    { schema: { tags, summary: 'A new random password (shown once)' }, preHandler: need('staff.manage') },
    async (req) => ({
      password: await accounts.resetPassword(Number(req.params.id), ctx(req).actor),
    }),
  );

  api.post<{ Params: { id: string } }>(
    '/api/staff/accounts/:id/reset-totp',
    { schema: { tags, summary: 'New TOTP secret, enrolled at the next login' }, preHandler: need('staff.manage') },
    async (req, reply) => {
      await accounts.resetTotp(Number(req.params.id), ctx(req).actor);
      return reply.code(204).send();
    },
  );

  api.post<{ Params: { id: string } }>(
    '/api/staff/accounts/:id/unlock',
    { schema: { tags, summary: 'Unlock after failed logins' }, preHandler: need('staff.manage') },
    async (req, reply) => {
      await accounts.unlock(Number(req.params.id), ctx(req).actor);
      return reply.code(204).send();
    },
  );
}
