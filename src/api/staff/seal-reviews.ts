// 印章审核: the reviewer's queue of seal applications — picture, name, holder, the supporting
// document (download) — and the decision (approve, or reject with the reason the holder sees).
import { getDocumentContent } from '../../sa/documents.js';
import { getHolder } from '../../sa/holders.js';
import { getSealApplication, listSealApplications, type SealApplicationRow } from '../../sa/seal-applications.js';
import type { SealReviewStateView, SealReviewView } from '../../shared/seal-views.js';
import { notFound } from '../../staff/errors.js';
import { sealApplicationView } from '../portal/seal-views.js';
import { listParam, type Body, type Q } from './params.js';
import type { StaffRoutes } from './staff-routes.js';
import { sendAttachment } from '../attachment.js';

const STATES: SealReviewStateView[] = ['pending', 'approved', 'rejected'];

export function registerStaffSealReviewRoutes({ api, rt, need, ctx, tags }: StaffRoutes): void {
  const view = async (a: SealApplicationRow): Promise<SealReviewView> => {
    const holder = await getHolder(rt.storage.db, a.holder_id);
    return {
      ...(await sealApplicationView(rt, a)),
      holder: { name: holder?.name ?? null, uniqueId: holder?.unique_id ?? null },
      reviewer: a.reviewer,
    };
  };
  const one = async (id: string) => {
    const a = await getSealApplication(rt.storage.db, id);
    if (!a) throw notFound({ en: `no seal application ${id}`, zh: `没有印章申请 ${id}` });
    return a;
  };

  api.get<{ Querystring: Q }>(
    '/api/staff/seal-reviews',
    {
      schema: { tags, summary: 'Seal applications to review (印章审核); state=pending by default' },
      preHandler: need('orders.read'),
    },
    async (req) => {
      const states = listParam(req.query.state ?? 'pending', STATES, 'state');
      const rows = await listSealApplications(rt.storage.db, { ...(states ? { reviewState: states } : {}) });
      return { items: await Promise.all(rows.map(view)) };
    },
  );

  api.get<{ Params: { id: string } }>(
    '/api/staff/seal-reviews/:id',
    { schema: { tags, summary: 'One seal application' }, preHandler: need('orders.read') },
    async (req) => ({ application: await view(await one(req.params.id)) }),
  );

  api.get<{ Params: { id: string } }>(
    '/api/staff/seal-reviews/:id/document',
    { schema: { tags, summary: 'The supporting document the holder uploaded (download)' }, preHandler: need('orders.read') },
    async (req, reply) => {
      const a = await one(req.params.id);
      const doc = await getDocumentContent(rt.storage.db, a.document_id);
      if (!doc) throw notFound({ en: 'the document is not on record', zh: '证明材料不存在' });
      return sendAttachment(reply, doc.media_type, doc.file_name, Buffer.from(doc.content));
    },
  );

  api.post<{ Params: { id: string }; Body: Body }>(
    '/api/staff/seal-reviews/:id/decision',
    {
      schema: {
        tags,
        summary: 'Approve, or reject with a reason (the seal is made once approved and paid)',
        body: { type: 'object' },
      },
      preHandler: need('reviews.decide'),
    },
    async (req) => {
      const a = await one(req.params.id);
      const approve = req.body?.approve === true;
      await rt.seals.decide(a.order_id, { approve, reason: req.body?.reason }, ctx(req).actor);
      return { application: await view(await one(req.params.id)) };
    },
  );
}
