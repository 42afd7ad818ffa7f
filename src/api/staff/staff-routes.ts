// What every staff route file gets: the scoped Fastify instance (error handler set), the runtime,
// the accounts service, `need(permission)` as a preHandler and `ctx(req)` for the staff context.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Runtime } from '../../runtime.js';
import type { StaffAccounts, StaffContext } from '../../staff/accounts.js';
import type { Permission } from '../../staff/roles.js';

export interface StaffRoutes {
  api: FastifyInstance;
  rt: Runtime;
  accounts: StaffAccounts;
  need: (permission?: Permission) => (req: FastifyRequest) => Promise<void>;
  ctx: (req: FastifyRequest) => StaffContext;
  tags: string[];
}
