// 变更审核: the reviewer's queue of change requests — old and new values side by side, the holder,
// the supporting documents (download) — and the decision (approve, or reject with the reason the
// holder sees). Four eyes: whoever recorded a change's payment cannot approve it (ra/change-requests.ts).
import { RaError } from '../../ra/errors.js';
import type { ChangeRequestRow, ChangeReviewState } from '../../sa/change-requests.js';
import { getDocumentContent } from '../../sa/documents.js';
import { getHolder } from '../../sa/holders.js';
import { paymentForOrder } from '../../sa/payments.js';
import type { ChangeReviewView } from '../../shared/change-views.js';
import { notFound, StaffError } from '../../staff/errors.js';
import { changeRequestView } from '../portal/change-views.js';
import { listParam, type Body, type Q } from './params.js';
import type { StaffRoutes } from './staff-routes.js';
import { sendAttachment } from '../attachment.js';

const STATES: ChangeReviewState[] = ['pending', 'approved', 'rejected'];

const documentUrl = (orderId: string, docId: string): string =>
  `/api/staff/change-reviews/${encodeURIComponent(orderId)}/documents/${encodeURIComponent(docId)}`;

export function registerStaffChangeReviewRoutes({ api, rt, need, ctx, tags }: StaffRoutes): void {
  const view = async (r: ChangeRequestRow): Promise<ChangeReviewView> => {
    const [holder, payment] = await Promise.all([
      getHolder(rt.storage.db, r.holder_id),
      paymentForOrder(rt.storage.db, r.order_id),
    ]);
    return {
      ...(await changeRequestView(rt, r, documentUrl)),
      holder: { name: holder?.name ?? null, uniqueId: holder?.unique_id ?? null },
      reviewer: r.review?.reviewer ?? null,
      paymentRecordedBy: payment?.recorded_by ?? null,
    };
  };
  const one = async (id: string): Promise<ChangeRequestRow> => {
    const r = await rt.changes.request(id).catch(() => undefined);
    if (!r) throw notFound({ en: `no change request ${id}`, zh: `没有变更申请 ${id}` });
    return r;
  };

  api.get<{ Querystring: Q }>(
    '/api/staff/change-reviews',
    {
      schema: { tags, summary: 'Change requests to review (变更审核); state=pending by default' },
      preHandler: need('orders.read'),
    },
    async (req) => {
      const states = listParam(req.query.state ?? 'pending', STATES, 'state');
      const rows = await rt.changes.list({ ...(states ? { reviewState: states } : {}) });
      return { items: await Promise.all(rows.map(view)) };
    },
  );

  api.get<{ Params: { id: string } }>(
    '/api/staff/change-reviews/:id',
    { schema: { tags, summary: 'One change request' }, preHandler: need('orders.read') },
    async (req) => ({ change: await view(await one(req.params.id)) }),
  );

  api.get<{ Params: { id: string; doc: string } }>(
    '/api/staff/change-reviews/:id/documents/:doc',
    {
      schema: { tags, summary: 'A supporting document the holder uploaded (download)' },
      preHandler: need('orders.read'),
    },
    async (req, reply) => {
      const r = await one(req.params.id);
      const ids = JSON.parse(r.document_ids) as string[];
      const doc = ids.includes(req.params.doc) ? await getDocumentContent(rt.storage.db, req.params.doc) : undefined;
      if (!doc) throw notFound({ en: 'the document is not on record', zh: '证明材料不存在' });
      return sendAttachment(reply, doc.media_type, doc.file_name, Buffer.from(doc.content));
    },
  );

  api.post<{ Params: { id: string }; Body: Body }>(
    '/api/staff/change-reviews/:id/decision',
    {
      schema: {
        tags,
        summary: 'Approve (a ¥0 change is then paid; a charged one opens its payment), or reject with a reason',
        body: { type: 'object' },
      },
      preHandler: need('reviews.decide'),
    },
    async (req) => {
      const r = await one(req.params.id);
      try {
        await rt.changes.decide(r.order_id, { approve: req.body?.approve === true, reason: req.body?.reason }, ctx(req).actor);
      } catch (e) {
        if (e instanceof RaError && e.code === 'four_eyes')
          throw new StaffError(
            403,
            e.code,
            { en: e.message, zh: `您确认了变更 ${r.order_id} 的付款，须由另一位审核员批准（双人复核）` },
            e.field,
          );
        throw e;
      }
      return { change: await view(await one(req.params.id)) };
    },
  );
}
