// 挂失审核: the review queue of 挂失/撤销申请 (reviewer role). Approve revokes the certificate the
// request identifies (and its pair), the decision stored as the revocation's evidence; reject keeps
// it with the reason. Rules in src/ra/revocation-service.ts; this file is HTTP only.
import { Revocations } from '../../ra/revocation-service.js';
import { getCertificates } from '../../sa/certificates.js';
import { listRevocationRequests, getRevocationRequest, type RevocationRequest } from '../../sa/revocations.js';
import type { Runtime } from '../../runtime.js';
import { revocationView } from '../portal/revocation.js';
import { listParam, str } from './params.js';
import type { RevocationRequestView } from './shapes.js';
import type { StaffRoutes } from './staff-routes.js';

type Body = Record<string, unknown>;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The views of `rows`: their certificates and candidates read for all of them at once (the queue is up to 200 rows). */
async function requestViews(rt: Runtime, revocations: Revocations, rows: RevocationRequest[]): Promise<RevocationRequestView[]> {
  // neither reads anything for an empty list
  const certs = await getCertificates(
    rt.storage.db,
    rows.flatMap((r) => r.matched_serial ?? []),
  );
  const candidates = await revocations.lossReportCandidatesOf(rows.filter((r) => r.state === 'pending' && r.matched_serial));
  return rows.map((r) => {
    const cert = r.matched_serial ? certs.get(r.matched_serial) : undefined;
    return {
      id: r.id,
      uniqueId: r.unique_id,
      name: r.name,
      contact: r.contact,
      reason: r.reason,
      state: r.state,
      createdAt: new Date(r.created_at).toISOString(),
      certificate: cert
        ? { serial: cert.serial, subject: cert.subject, notAfter: new Date(cert.not_after).toISOString(), status: cert.status }
        : null,
      givenSerial: r.given_serial,
      candidates: (candidates.get(r.id) ?? []).map((c) => ({
        serial: c.serial,
        subject: c.subject,
        profile: c.profile,
        issuedAt: new Date(c.issued_at).toISOString(),
        notAfter: new Date(c.not_after).toISOString(),
      })),
      reviewer: r.reviewer,
      decisionReason: r.decision_reason,
      reviewedAt: iso(r.reviewed_at),
    };
  });
}

const requestView = async (rt: Runtime, revocations: Revocations, r: RevocationRequest): Promise<RevocationRequestView> =>
  (await requestViews(rt, revocations, [r]))[0]!;

export function registerStaffRevocationRequestRoutes({ api, rt, need, ctx, tags }: StaffRoutes): void {
  const revocations = new Revocations(rt);

  api.get<{ Querystring: Record<string, string | undefined> }>(
    '/api/staff/revocation-requests',
    { schema: { tags, summary: '挂失审核: revocation requests, newest first' }, preHandler: need('reviews.decide') },
    async (req) => {
      const state = listParam(req.query.state, ['pending', 'approved', 'rejected'] as const, 'state')?.[0];
      const rows = await listRevocationRequests(rt.storage.db, state ? { state } : {});
      return { items: await requestViews(rt, revocations, rows) };
    },
  );

  api.post<{ Params: { id: string }; Body: Body }>(
    '/api/staff/revocation-requests/:id/approve',
    {
      schema: {
        tags,
        summary: 'Approve: revoke the identified certificate (or `serial`, another of the holder’s live ones) now',
        body: { type: 'object' },
      },
      preHandler: need('reviews.decide'),
    },
    async (req) => {
      const out = await revocations.approveLossReport(
        ctx(req).actor,
        req.params.id,
        str(req.body, 'note', false),
        str(req.body, 'serial', false) || undefined,
      );
      return {
        revocation: revocationView(out),
        request: await requestView(rt, revocations, (await getRevocationRequest(rt.storage.db, req.params.id))!),
      };
    },
  );

  api.post<{ Params: { id: string }; Body: Body }>(
    '/api/staff/revocation-requests/:id/reject',
    {
      schema: { tags, summary: 'Reject with a reason', body: { type: 'object' } },
      preHandler: need('reviews.decide'),
    },
    async (req) => {
      const r = await revocations.rejectLossReport(ctx(req).actor, req.params.id, str(req.body, 'reason'));
      return { request: await requestView(rt, revocations, r) };
    },
  );
}
