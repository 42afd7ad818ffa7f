// The audit log: browse, CSV export (itself audited), chain verification.
import { Readable } from 'node:stream';
import type { Runtime } from '../../runtime.js';
import { appendAudit } from '../../sa/audit.js';
import { writeTransaction } from '../../sa/database.js';
import type { StaffContext } from '../../staff/accounts.js';
import { StaffAudit } from '../../staff/audit.js';
import { timeParam, type Q } from './params.js';
import type { StaffRoutes } from './staff-routes.js';
import { auditView } from './views.js';
import { attachmentHeaders } from '../attachment.js';

export function registerStaffAuditRoutes({ api, rt, need, ctx, tags }: StaffRoutes): void {
  const audit = new StaffAudit(rt);
  const auditFilter = (q: Q) => {
    const from = timeParam(q.from, 'from');
    const to = timeParam(q.to, 'to', true);
    return {
      ...(q.actor ? { actor: q.actor } : {}),
      ...(q.action ? { action: q.action } : {}),
      ...(q.target ? { target: q.target } : {}),
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
    };
  };

  api.get<{ Querystring: Q }>(
    '/api/staff/audit',
    { schema: { tags, summary: 'Audit entries, newest first (keyset: beforeSeq)' }, preHandler: need('audit.read') },
    async (req) => {
      const limit = Math.max(1, Math.min(200, Number.parseInt(req.query.limit ?? '50', 10) || 50));
      const beforeSeq = req.query.beforeSeq ? Number.parseInt(req.query.beforeSeq, 10) : undefined;
      const rows = await audit.browse({ ...auditFilter(req.query), ...(beforeSeq ? { beforeSeq } : {}), limit: limit + 1 });
      return { items: rows.slice(0, limit).map(auditView), nextBeforeSeq: rows.length > limit ? rows[limit - 1]!.seq : null };
    },
  );

  api.get<{ Querystring: Q }>(
    '/api/staff/audit.csv',
    { schema: { tags, summary: 'Export audit entries (CSV, UTF-8 with BOM)' }, preHandler: need('audit.read') },
    async (req, reply) => {
      const filter = auditFilter(req.query);
      await writeAuditExport(rt, ctx(req), filter);
      return attachmentHeaders(
        reply,
        'text/csv; charset=utf-8',
        `certdesk-audit-${new Date().toISOString().slice(0, 10)}.csv`,
      ).send(Readable.from(audit.exportCsv(filter)));
    },
  );

  api.get(
    '/api/staff/audit/verify',
    { schema: { tags, summary: 'Check the audit hash chain' }, preHandler: need('audit.read') },
    async () => audit.verify(),
  );
}

async function writeAuditExport(rt: Runtime, c: StaffContext, filter: Record<string, unknown>): Promise<void> {
  await writeTransaction(rt.storage, (tx) =>
    appendAudit(tx, [{ actor: c.actor, action: 'audit.exported', target: null, details: { filter } }]),
  );
}
