// 撤销证书 (holder, with the key), 挂失/撤销申请 (public, without the key) and the public status
// lookup by serial. HTTP only: the rules are in src/ra/revocation-service.ts.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type {} from '@fastify/rate-limit';
import type { Runtime } from '../../runtime.js';
import { parseCertificate } from '../../pki/certificate.js';
import { nameToString } from '../../pki/name.js';
import { reasonName } from '../../shared/revocation-reasons.js';
import { Revocations, type RevocationOutcome } from '../../ra/revocation-service.js';
import { getCertificate } from '../../sa/certificates.js';
import { HttpError, requireSession } from './session.js';
import type { LossReportView, PublicStatusView, RevocationStatementView, RevocationTermsView, RevocationView } from './shapes.js';
import { HOLDER_REVOCATION_REASONS } from '../../pki/revocation-statement.js';

type Body = Record<string, unknown>;

export const revocationView = (o: RevocationOutcome): RevocationView => ({
  serial: o.serial,
  status: 'revoked',
  reason: o.reason,
  revokedAt: new Date(o.revokedAt).toISOString(),
  encryptionSerial: o.encryptionSerial,
  certificate: o.der.toString('base64'),
});

/** What every 挂失 request is told, whether or not its 唯一识别号 is known. */
export const LOSS_REPORT_ANSWER =
  '已收到您的挂失/撤销申请，工作人员审核后将通过您留下的联系方式与您联系。Your request has been received; staff will contact you after review.';

export function registerRevocationRoutes(app: FastifyInstance, rt: Runtime): void {
  const revocations = new Revocations(rt);
  const session = requireSession(rt, { allowRenewalOnly: false });
  const tags = ['portal'];
  const owner = (req: FastifyRequest) => ({
    holderId: req.portal!.certificate.holder_id,
    sessionSerial: req.portal!.certificate.serial,
  });
  const origin = (req: FastifyRequest): string => {
    const o = String(req.headers.origin ?? '');
    if (!rt.config.portalOrigins.includes(o))
      throw new HttpError(403, 'origin_not_allowed', `requests must come from the portal, not ${o || 'no origin'}`);
    return o;
  };

  app.get(
    '/api/portal/revocation',
    { schema: { tags, summary: '撤销证书: reasons and the refund rule, before confirming' }, preHandler: session },
    async (req): Promise<RevocationTermsView> => ({
      serial: req.portal!.certificate.serial,
      reasons: [...HOLDER_REVOCATION_REASONS],
      refundUnused: await revocations.refundsUnused(req.portal!.certificate),
    }),
  );

  app.post<{ Body: Body }>(
    '/api/portal/revocation/statement',
    {
      schema: { tags, summary: '撤销证书: the revocation statement for the key to sign', body: { type: 'object' } },
      preHandler: session,
    },
    async (req): Promise<RevocationStatementView> => {
      const serial = req.body?.serial;
      if (typeof serial !== 'string' || serial === '') throw new HttpError(400, 'invalid', 'serial is required', 'serial');
      const r = await revocations.statementFor(owner(req), { serial, reason: req.body?.reason, origin: origin(req) });
      return {
        statement: r.text,
        serial: r.statement.serial,
        reason: r.statement.reason,
        expiresAt: new Date(r.statement.exp * 1000).toISOString(),
        refundUnused: r.refundUnused,
      };
    },
  );

  app.post<{ Body: Body }>(
    '/api/portal/revocation',
    {
      schema: { tags, summary: '撤销证书: revoke on a statement signed by the certificate’s key', body: { type: 'object' } },
      preHandler: session,
      config: { rateLimit: { max: 20, timeWindow: '1 minute' } },
    },
    async (req): Promise<RevocationView> => {
      const text = req.body?.statement;
      if (typeof text !== 'string' || text.length === 0 || text.length > 2048)
        throw new HttpError(400, 'invalid', 'statement is required (the exact text issued)', 'statement');
      const sig = req.body?.signature;
      if (typeof sig !== 'string' || !/^[A-Za-z0-9+/_-]{16,2048}={0,2}$/.test(sig))
        throw new HttpError(400, 'invalid', 'signature is required (base64)', 'signature');
      const out = await revocations.revokeByHolder(owner(req), {
        text,
        signature: Buffer.from(sig, 'base64'),
        origin: origin(req),
      });
      req.log.info({ serial: out.serial, reason: out.reason }, 'certificate revoked by its holder');
      return revocationView(out);
    },
  );

  app.post<{ Body: Body }>(
    '/api/revocation-requests',
    {
      schema: { tags, summary: '挂失/撤销申请 without the key: queued for staff review', body: { type: 'object' } },
      config: { rateLimit: { max: 5, timeWindow: '1 hour' } },
    },
    async (req): Promise<LossReportView> => {
      const { id } = await revocations.submitLossReport(req.body ?? {});
      return { id, message: LOSS_REPORT_ANSWER };
    },
  );

  app.get<{ Params: { serial: string } }>(
    '/api/status/:serial',
    {
      schema: { tags: ['pki'], summary: 'Certificate status by serial, for relying parties without OCSP' },
      config: { rateLimit: { max: 60, timeWindow: '1 minute' } },
    },
    async (req): Promise<PublicStatusView> => {
      const serial = req.params.serial.toLowerCase().replace(/^0+(?=.)/, '');
      if (!/^[0-9a-f]{1,40}$/.test(serial)) throw new HttpError(400, 'invalid', 'serial must be hexadecimal', 'serial');
      const rec = await getCertificate(rt.storage.readDb, serial);
      if (!rec) throw new HttpError(404, 'not_found', `no certificate with serial ${serial} was issued by this CA`, 'serial');
      const revoked = rec.status === 'revoked';
      return {
        serial: rec.serial,
        status: revoked ? 'revoked' : Date.now() > rec.not_after ? 'expired' : 'good',
        reason: revoked && rec.revocation_reason !== null ? reasonName(rec.revocation_reason) : null,
        revokedAt: revoked && rec.revoked_at !== null ? new Date(rec.revoked_at).toISOString() : null,
        notBefore: new Date(rec.not_before).toISOString(),
        notAfter: new Date(rec.not_after).toISOString(),
        issuer: nameToString(parseCertificate(Buffer.from(rec.der)).issuer),
      };
    },
  );
}
