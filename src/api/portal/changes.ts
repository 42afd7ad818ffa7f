// Portal routes for 变更证书 (docs/PORTAL-API.md): what may be changed, the request (an order of kind
// 'change', paid — when the catalogue charges — through /api/portal/orders/:id/pay, issued and
// installed through /api/portal/orders/:id/issue and …/installed like a renewal), the holder's
// requests and their documents. Rules are in ra/change-requests.ts.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type {} from '@fastify/rate-limit';
import type { Runtime } from '../../runtime.js';
import { decodeUpload } from '../../ra/documents.js';
import { RaError } from '../../ra/errors.js';
import type { ChangeRequestRow } from '../../sa/change-requests.js';
import { getDocumentContent } from '../../sa/documents.js';
import type { ChangeRequestView, ChangeTermsView } from '../../shared/change-views.js';
import { changeRequestView, changeTermsView } from './change-views.js';
import { portalOf as ctx, holderActor as actor } from './session.js';
import { sendAttachment } from '../attachment.js';

type Body = Record<string, unknown> | undefined;

const documentUrl = (orderId: string, docId: string): string =>
  `/api/portal/changes/${encodeURIComponent(orderId)}/documents/${encodeURIComponent(docId)}`;

export function registerPortalChangeRoutes(
  app: FastifyInstance,
  rt: Runtime,
  session: (req: FastifyRequest) => Promise<void>,
): void {
  const tags = ['portal'];
  const mine = (req: FastifyRequest) =>
    rt.changes.list({ holderId: ctx(req).session.holder_id, certificateSerials: [ctx(req).session.certificate_serial] });
  const own = async (req: FastifyRequest, id: string): Promise<ChangeRequestRow> => {
    const r = await rt.changes.request(id).catch(() => undefined);
    const c = ctx(req).session;
    const isMine = r && (c.holder_id !== null ? r.holder_id === c.holder_id : r.certificate_serial === c.certificate_serial);
    if (!r || !isMine) throw new RaError('not_found', `no change request ${id}`);
    return r;
  };
  const view = (r: ChangeRequestRow) => changeRequestView(rt, r, documentUrl);

  app.get(
    '/api/portal/change',
    {
      schema: { tags, summary: 'What the holder may change on this certificate, the price, what blocks it (变更证书)' },
      preHandler: session,
    },
    async (req): Promise<ChangeTermsView> => changeTermsView(await rt.changes.terms(ctx(req).certificate)),
  );

  app.post<{ Body: Body }>(
    '/api/portal/changes',
    {
      schema: {
        tags,
        summary: 'Ask for a change of certificate details: creates an order of kind change',
        body: { type: 'object' },
      },
      preHandler: session,
      // up to three 5 MB documents, base64
      bodyLimit: 22 * 1024 * 1024,
      config: { rateLimit: { max: 30, timeWindow: '1 minute' } },
    },
    async (req, reply) => {
      const b = req.body ?? {};
      const docs = b.documents;
      if (docs !== undefined && !Array.isArray(docs))
        throw new RaError('invalid', 'documents: a list of { fileName, contentBase64 }', 'documents');
      const order = await rt.changes.submit(
        ctx(req).certificate,
        {
          asked: {
            organization: b.organization,
            personName: b.personName,
            province: b.province,
            locality: b.locality,
            legalRepresentative: b.legalRepresentative,
            uniqueId: b.uniqueId,
          },
          reason: b.reason,
          documents: (docs ?? []).map((d: unknown, i: number) => decodeUpload(d, `documents[${i}]`)),
          form: b,
        },
        actor(req),
      );
      return reply.code(201).send({ change: await view(await rt.changes.request(order.id)) });
    },
  );

  app.get(
    '/api/portal/changes',
    { schema: { tags, summary: "The holder's change requests (newest first)" }, preHandler: session },
    async (req): Promise<{ changes: ChangeRequestView[] }> => ({ changes: await Promise.all((await mine(req)).map(view)) }),
  );

  app.get<{ Params: { id: string } }>(
    '/api/portal/changes/:id',
    {
      schema: { tags, summary: 'One change request: old and new values, documents, review, seals to apply for again' },
      preHandler: session,
    },
    async (req): Promise<{ change: ChangeRequestView }> => ({ change: await view(await own(req, req.params.id)) }),
  );

  // a holder's own document, never cached: only they and staff may read it
  app.get<{ Params: { id: string; doc: string } }>(
    '/api/portal/changes/:id/documents/:doc',
    { schema: { tags, summary: 'A supporting document of the holder’s change request (download)' }, preHandler: session },
    async (req, reply) => {
      const r = await own(req, req.params.id);
      const ids = JSON.parse(r.document_ids) as string[];
      const doc = ids.includes(req.params.doc) ? await getDocumentContent(rt.storage.db, req.params.doc) : undefined;
      if (!doc) throw new RaError('not_found', `no document ${req.params.doc} in change ${r.order_id}`);
      return sendAttachment(reply, doc.media_type, doc.file_name, Buffer.from(doc.content));
    },
  );
}
