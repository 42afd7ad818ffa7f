// The staff console API under /api/staff/ (docs/STAFF.md): one file per resource beside this one
// (login, payments, orders, invoices, certificates, catalogue, audit, kmc, accounts). HTTP only: the
// rules live in src/staff/, the SQL in src/sa/. Every route names the permission it needs; the
// server checks it.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type {} from '@fastify/rate-limit';
import type { Runtime } from '../../runtime.js';
import { StaffAccounts, type StaffContext } from '../../staff/accounts.js';
import { StaffError, staffLang } from '../../staff/errors.js';
import { mapError } from '../errors.js';
import { registerStaffAccountRoutes } from './accounts.js';
import { registerStaffAuditRoutes } from './audit.js';
import { registerStaffCatalogueRoutes } from './catalogue.js';
import { registerStaffCertificateRoutes } from './certificates.js';
import { registerStaffInvoiceRoutes } from './invoices.js';
import { registerStaffKmcRoutes } from './kmc.js';
import { registerStaffLoginRoutes } from './login.js';
import { registerStaffOrderRoutes } from './orders.js';
import { registerStaffPaymentRoutes } from './payments.js';
import { registerStaffRelyingAppRoutes } from './relying-apps.js';
import { registerStaffOutboxRoutes } from './outbox.js';
import { registerStaffRevocationRequestRoutes } from './revocation-requests.js';
import { registerStaffSealReviewRoutes } from './seal-reviews.js';
import { registerStaffChangeReviewRoutes } from './change-reviews.js';
import { requireStaff } from './session.js';
import type { StaffRoutes } from './staff-routes.js';

export function registerStaffRoutes(app: FastifyInstance, rt: Runtime): void {
  const accounts = new StaffAccounts(rt);
  const need = (p?: Parameters<typeof requireStaff>[2]) => requireStaff(rt, accounts, p);
  const ctx = (req: FastifyRequest): StaffContext => req.staff!;

  app.get('/staff', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/staff.html'));
  app.get('/staff/', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/staff.html'));

  void app.register(async (api) => {
    // StaffError → its status; anything else goes on to the server's handler (mapError, 500 …).
    // Its message is in Chinese when the request's first Accept-Language is zh*, else in English.
    api.setErrorHandler((err: Error, req, reply) => {
      if (err instanceof StaffError) {
        const message = err.messageIn(staffLang(req.headers['accept-language']));
        return reply
          .code(err.status)
          .send({ error: err.code, message, ...(err.field ? { field: err.field } : {}), ...(err.details ?? {}) });
      }
      const mapped = mapError(err);
      if (mapped) return reply.code(mapped.status).send(mapped.body);
      throw err;
    });

    const routes: StaffRoutes = { api, rt, accounts, need, ctx, tags: ['staff'] };
    for (const register of [
      registerStaffLoginRoutes,
      registerStaffPaymentRoutes,
      registerStaffOrderRoutes,
      registerStaffInvoiceRoutes,
      registerStaffCertificateRoutes,
      registerStaffCatalogueRoutes,
      registerStaffAuditRoutes,
      registerStaffKmcRoutes,
      registerStaffAccountRoutes,
      registerStaffRelyingAppRoutes,
      registerStaffRevocationRequestRoutes,
      registerStaffSealReviewRoutes,
      registerStaffChangeReviewRoutes,
      registerStaffOutboxRoutes,
    ])
      register(routes);
  });
}
