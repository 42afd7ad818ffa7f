// Certificates: search, detail with OCSP/CRL status, revocation on the holder's request.
import { StaffCertificates } from '../../staff/certificates.js';
import { listParam, paging, str, type Body, type Q } from './params.js';
import type { StaffRoutes } from './staff-routes.js';
import type { StaffCertificateDetailView } from './shapes.js';
import { auditView, certificateRowView } from './views.js';

export function registerStaffCertificateRoutes({ api, rt, need, ctx, tags }: StaffRoutes): void {
  const certificates = new StaffCertificates(rt);
  api.get<{ Querystring: Q }>(
    '/api/staff/certificates',
    { schema: { tags, summary: 'Search certificates' }, preHandler: need('certificates.read') },
    async (req) => {
      const q = req.query;
      const p = paging(q);
      const status = listParam(q.status, ['valid', 'revoked'] as const, 'status')?.[0];
      const r = await certificates.search({
        ...(q.serial ? { serial: q.serial } : {}),
        ...(q.subject ? { subject: q.subject } : {}),
        ...(q.uniqueId ? { uniqueId: q.uniqueId } : {}),
        ...(status ? { status } : {}),
        limit: p.limit,
        offset: p.offset,
      });
      return {
        items: r.rows.map(certificateRowView),
        total: r.total,
        ...(r.capped ? { totalCapped: true } : {}),
        page: p.page,
        pageSize: p.pageSize,
      };
    },
  );

  api.get<{ Params: { serial: string } }>(
    '/api/staff/certificates/:serial',
    { schema: { tags, summary: 'A certificate with OCSP and CRL status' }, preHandler: need('certificates.read') },
    async (req): Promise<StaffCertificateDetailView> => {
      const d = await certificates.detail(req.params.serial);
      return {
        certificate: d.summary,
        pem: d.pem,
        holder: d.holder ? { name: d.holder.name, uniqueId: d.holder.unique_id, kind: d.holder.kind } : null,
        revocation: d.revocation,
        ocsp: d.ocsp,
        crl: d.crl,
        orders: d.orders.map((o) => ({
          id: o.id,
          state: o.state,
          amountFen: o.amount_fen,
          createdAt: new Date(o.created_at).toISOString(),
          role: o.issued_serial === d.record.serial ? 'issued' : 'renews',
        })),
        audit: d.audit.map(auditView),
        // an SM2 dual pair: the other certificate of the pair
        pair: { signingSerial: d.record.signing_serial, encryptionSerial: d.encryptionSerial },
      };
    },
  );

  api.post<{ Params: { serial: string }; Body: Body }>(
    '/api/staff/certificates/:serial/revoke',
    {
      schema: { tags, summary: "Revoke on the holder's request", body: { type: 'object' } },
      preHandler: need('certificates.revoke'),
    },
    async (req) => {
      const rec = await certificates.revoke(ctx(req), req.params.serial, {
        reason: str(req.body, 'reason'),
        requestedBy: str(req.body, 'requestedBy'),
        note: str(req.body, 'note', false),
      });
      return { serial: rec.serial, status: rec.status, revokedAt: new Date(rec.revoked_at!).toISOString() };
    },
  );
}
