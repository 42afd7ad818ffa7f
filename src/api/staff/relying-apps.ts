// Relying applications (应用管理): the catalogue of applications holders enable certificates for,
// their API credentials and webhook URLs. Admin writes; whoever reads the catalogue reads these.
import { StaffRelyingApps, type RelyingAppInput } from '../../staff/relying-apps.js';
import type { Body } from './params.js';
import type { StaffRoutes } from './staff-routes.js';
import type { RelyingAppView } from './shapes.js';

export function registerStaffRelyingAppRoutes({ api, rt, need, ctx, tags }: StaffRoutes): void {
  const apps = new StaffRelyingApps(rt);
  api.get(
    '/api/staff/relying-apps',
    { schema: { tags, summary: 'Relying applications (应用管理)' }, preHandler: need('catalogue.read') },
    async (): Promise<{ items: RelyingAppView[] }> => ({ items: await apps.list() }),
  );

  api.post<{ Body: Body }>(
    '/api/staff/relying-apps',
    {
      schema: {
        tags,
        summary: 'Add a relying application; answers its API credential secret and webhook secret, once',
        body: { type: 'object' },
      },
      preHandler: need('catalogue.write'),
    },
    async (req, reply) => reply.code(201).send(await apps.create(ctx(req), (req.body ?? {}) as unknown as RelyingAppInput)),
  );

  api.put<{ Params: { id: string }; Body: Body }>(
    '/api/staff/relying-apps/:id',
    {
      schema: { tags, summary: 'Change a relying application (secrets stay)', body: { type: 'object' } },
      preHandler: need('catalogue.write'),
    },
    async (req) => ({ app: await apps.update(ctx(req), req.params.id, (req.body ?? {}) as unknown as RelyingAppInput) }),
  );

  for (const what of ['credential', 'webhook-secret'] as const)
    api.post<{ Params: { id: string } }>(
      `/api/staff/relying-apps/:id/${what}`,
      {
        schema: { tags, summary: `Rotate the ${what}; answers the new secret, once` },
        preHandler: need('catalogue.write'),
      },
      async (req) => apps.rotate(ctx(req), req.params.id, what),
    );
}
