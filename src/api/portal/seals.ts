// Portal routes for 印章申请 and 印章查询 (docs/PORTAL-API.md): seal types, the picture preview, the
// application (an order of kind 'seal', paid through /api/portal/orders/:id/pay like a renewal),
// and the holder's seal applications. Rules are in ra/seal-applications.ts.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type {} from '@fastify/rate-limit';
import type { Runtime } from '../../runtime.js';
import { decodeUpload } from '../../ra/documents.js';
import { RaError } from '../../ra/errors.js';
import { parseOrderForm } from '../../ra/order-form.js';
import type { SealPictureInput } from '../../ra/seal-applications.js';
import { listSealApplications } from '../../sa/seal-applications.js';
import { getSealByOrder } from '../../sa/seals.js';
import { sealApplicationView, sealTypeView } from './seal-views.js';
import { portalOf as ctx, holderActor as actor } from './session.js';
import { sendAttachment } from '../attachment.js';

type Body = Record<string, unknown> | undefined;

function pictureInput(v: unknown): SealPictureInput {
  const p = v as { source?: unknown; contentBase64?: unknown } | null | undefined;
  if (!p || typeof p !== 'object' || p.source === 'generated') return { source: 'generated' };
  if (p.source !== 'uploaded') throw new RaError('invalid', "picture.source: 'generated' or 'uploaded'", 'picture');
  return { source: 'uploaded', png: decodeUpload({ fileName: 'seal.png', ...p }, 'picture').content };
}

export function registerPortalSealRoutes(
  app: FastifyInstance,
  rt: Runtime,
  session: (req: FastifyRequest) => Promise<void>,
): void {
  const tags = ['portal'];
  const mine = (req: FastifyRequest) =>
    listSealApplications(rt.storage.db, {
      holderId: ctx(req).session.holder_id,
      certificateSerials: [ctx(req).session.certificate_serial],
    });

  app.get(
    '/api/portal/seals/types',
    { schema: { tags, summary: 'Seal types, prices, payment methods (印章申请)' }, preHandler: session },
    async (req) => ({
      types: (await rt.seals.types()).map(sealTypeView),
      paymentMethods: await rt.seals.paymentMethods(),
      organization: ctx(req).certificate.subject,
    }),
  );

  app.post<{ Body: Body }>(
    '/api/portal/seals/preview',
    {
      schema: { tags, summary: 'The generated seal picture for a type and name (PNG, base64)', body: { type: 'object' } },
      preHandler: session,
      // rendering costs ~0.1 s of CPU: a holder previews a few times, not hundreds
      config: { rateLimit: { max: 30, timeWindow: '1 minute' } },
    },
    async (req) => {
      const pic = await rt.seals.preview(ctx(req).certificate, String(req.body?.typeCode ?? ''), req.body?.name);
      return { picture: `data:image/png;base64,${pic.png.toString('base64')}`, widthMm: pic.widthMm, heightMm: pic.heightMm };
    },
  );

  app.post<{ Body: Body }>(
    '/api/portal/seals/applications',
    {
      schema: { tags, summary: 'Apply for a seal: creates an order of kind seal', body: { type: 'object' } },
      preHandler: session,
      // a 5 MB document and a 512 KB picture, base64
      bodyLimit: 8 * 1024 * 1024,
      config: { rateLimit: { max: 20, timeWindow: '1 minute' } },
    },
    async (req, reply) => {
      const b = req.body ?? {};
      const { termYears: _t, ...form } = parseOrderForm({ ...b, termYears: 1 });
      const order = await rt.seals.apply(
        ctx(req).certificate,
        {
          typeCode: String(b.typeCode ?? ''),
          name: b.name as string,
          picture: pictureInput(b.picture),
          document: decodeUpload(b.document, 'document'),
          form,
        },
        actor(req),
      );
      return reply.code(201).send({ application: await sealApplicationView(rt, await rt.seals.application(order.id)) });
    },
  );

  // The holder's visit is one of the moments an approved, paid seal gets made.
  app.get(
    '/api/portal/seals',
    { schema: { tags, summary: "The holder's seal applications and seals (印章查询)" }, preHandler: session },
    async (req) => {
      for (const a of await mine(req))
        if (a.review_state === 'approved' && !a.es_id)
          await rt.seals
            .makeIfReady(a.order_id, actor(req))
            .catch((e: unknown) => req.log.warn({ err: e }, 'making the seal failed'));
      return { applications: await Promise.all((await mine(req)).map((a) => sealApplicationView(rt, a))) };
    },
  );

  // the seal file (GB/T 38540 SESeal DER) the assistant writes to the key; also a download
  app.get<{ Params: { id: string } }>(
    '/api/portal/seals/:id/seal.der',
    { schema: { tags, summary: 'The made seal (SESeal, DER) of one of the holder’s applications' }, preHandler: session },
    async (req, reply) => {
      const a = (await mine(req)).find((x) => x.order_id === req.params.id);
      const seal = a?.es_id ? await getSealByOrder(rt.storage.db, a.order_id) : undefined;
      if (!seal) throw new RaError('not_found', `no seal made for ${req.params.id}`);
      return sendAttachment(reply, 'application/octet-stream', `${seal.es_id}.seal`, Buffer.from(seal.der));
    },
  );

  app.post<{ Params: { id: string } }>(
    '/api/portal/seals/:id/written',
    { schema: { tags, summary: 'The assistant wrote the seal to the key' }, preHandler: session },
    async (req) => {
      const a = (await mine(req)).find((x) => x.order_id === req.params.id);
      if (!a) throw new RaError('not_found', `no seal application ${req.params.id}`);
      await rt.seals.markWritten(a.order_id, actor(req));
      return { application: await sealApplicationView(rt, a) };
    },
  );
}
