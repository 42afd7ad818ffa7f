// The relying-application API (/api/apps/v1, docs/APPS-API.md): is this certificate enabled for me,
// for whom, until when; which certificates does the holder have now. HTTP Basic with the
// application's credential (id + the secret shown once in 应用管理). Scoped: an application sees
// only holders who have enabled it (at any time) — anything else is the same 404 as an unknown
// serial, so it cannot probe another application's holders. Rate-limited per client.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { reasonName } from '../shared/revocation-reasons.js';
import { parseCertificate } from '../pki/certificate.js';
import { derOrPem } from '../pki/pem.js';
import { inForce } from '../ra/app-enablements.js';
import { RaError } from '../ra/errors.js';
import type { Runtime } from '../runtime.js';
import { HttpError } from './portal/session.js';
import { enablementsOf, relyingAppByCredential, type AppEnablement, type RelyingApp } from '../sa/app-enablements.js';
import { certificateTypeForProfile } from '../sa/catalogue.js';
import { getCertificate, listCertificates, normaliseSerial, type CertificateRecord } from '../sa/certificates.js';
import { findHolderByUniqueId, getHolder } from '../sa/holders.js';
import type { AppCertificateView, AppEnablementView, AppHolderView } from '../shared/app-views.js';
import { tokenHash } from '../staff/accounts.js';

declare module 'fastify' {
  interface FastifyRequest {
    relyingApp?: RelyingApp;
  }
}

const LIMIT = { rateLimit: { max: 600, timeWindow: '1 minute' } };

function unauthorized(reply: FastifyReply, message: string): never {
  void reply.header('www-authenticate', 'Basic realm="certdesk apps", charset="UTF-8"');
  throw new HttpError(401, 'unauthorized', message);
}

const enablementView = (e: AppEnablement | undefined): AppEnablementView | null =>
  e ? { startsAt: new Date(e.starts_at).toISOString(), endsAt: new Date(e.ends_at).toISOString(), state: e.state } : null;

/** The enablement that says most: in force now, else the latest. */
const mostRelevant = (all: AppEnablement[], now: number): AppEnablement | undefined => all.find((e) => inForce(e, now)) ?? all[0];

function statusOf(c: CertificateRecord, now: number): 'valid' | 'revoked' | 'expired' {
  if (c.status === 'revoked') return 'revoked';
  return c.not_after <= now ? 'expired' : 'valid';
}

export function registerAppsApiRoutes(app: FastifyInstance, rt: Runtime): void {
  const tags = ['apps'];
  const db = rt.storage.db;

  const authenticate = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(req.headers.authorization ?? '');
    if (!m) unauthorized(reply, 'HTTP Basic authentication with the application credential (id:secret) is required');
    const text = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    const id = colon > 0 ? text.slice(0, colon) : '';
    const secret = colon > 0 ? text.slice(colon + 1) : '';
    const found = id ? await relyingAppByCredential(db, id) : undefined;
    const given = Buffer.from(tokenHash(secret), 'hex');
    const want = Buffer.from(found?.credential_hash ?? '0'.repeat(64), 'hex');
    // compared in constant time whether or not the id exists
    const ok = given.length === want.length && timingSafeEqual(given, want) && found !== undefined;
    if (!ok) unauthorized(reply, 'the application credential is not valid');
    if (found.active !== 1) throw new RaError('forbidden', 'this application is not active');
    req.relyingApp = found;
  };

  const typeCode = async (c: CertificateRecord): Promise<string | null> =>
    (await certificateTypeForProfile(db, c.profile))?.code ?? null;

  /** The certificate as this application may see it; 404 for anything outside its holders. */
  const certificateFor = async (ra: RelyingApp, c: CertificateRecord | undefined): Promise<AppCertificateView> => {
    const notFound = new RaError('not_found', 'no such certificate among this application’s holders', 'serial');
    if (!c || c.holder_id === null) throw notFound;
    const mine = await enablementsOf(db, c.holder_id, ra.id);
    if (mine.length === 0) throw notFound;
    const now = Date.now();
    const e = mostRelevant(mine, now);
    const holder = await getHolder(db, c.holder_id);
    const status = statusOf(c, now);
    return {
      serial: c.serial.toUpperCase(),
      status,
      revocationReason: c.revocation_reason === null ? null : reasonName(c.revocation_reason),
      notBefore: new Date(c.not_before).toISOString(),
      notAfter: new Date(c.not_after).toISOString(),
      certificateType: await typeCode(c),
      holder: { uniqueId: holder?.unique_id ?? null, name: holder?.name ?? null },
      enabled: status === 'valid' && e !== undefined && inForce(e, now),
      enablement: enablementView(e),
    };
  };

  app.get<{ Params: { serial: string } }>(
    '/api/apps/v1/certificates/:serial',
    {
      schema: { tags, summary: 'Is this certificate (by serial) enabled for the calling application, for whom, until when' },
      config: LIMIT,
      preHandler: authenticate,
    },
    async (req): Promise<AppCertificateView> => {
      const serial = req.params.serial;
      if (!/^(0x)?[0-9A-Fa-f:]{1,80}$/.test(serial)) throw new RaError('invalid', 'serial: hexadecimal', 'serial');
      return certificateFor(req.relyingApp!, await getCertificate(db, normaliseSerial(serial)));
    },
  );

  app.post<{ Body: { certificate?: unknown } }>(
    '/api/apps/v1/certificates/check',
    {
      schema: { tags, summary: 'The same, for the certificate itself (base64 DER or PEM), as a login presents it' },
      config: LIMIT,
      preHandler: authenticate,
    },
    async (req): Promise<AppCertificateView> => {
      const text = req.body?.certificate;
      if (typeof text !== 'string' || text.length === 0 || text.length > 64 * 1024)
        throw new RaError('invalid', 'certificate: a base64 DER or PEM X.509 certificate', 'certificate');
      let der: Buffer;
      try {
        der = derOrPem(
          text.includes('-----BEGIN') ? Buffer.from(text) : Buffer.from(text.replace(/\s+/g, ''), 'base64'),
          'CERTIFICATE',
        );
        parseCertificate(der);
      } catch (e) {
        throw new RaError('invalid', `certificate: not an X.509 certificate (${(e as Error).message})`, 'certificate');
      }
      const rec = await getCertificate(db, normaliseSerial(parseCertificate(der).serialHex));
      // the serial alone is not enough: the bytes must be the certificate this CA issued
      return certificateFor(req.relyingApp!, rec && Buffer.from(rec.der).equals(der) ? rec : undefined);
    },
  );

  app.get<{ Params: { uniqueId: string } }>(
    '/api/apps/v1/holders/:uniqueId',
    {
      schema: {
        tags,
        summary: 'A holder (by 唯一识别号): the enablement for the calling application and the current certificates',
      },
      config: LIMIT,
      preHandler: authenticate,
    },
    async (req): Promise<AppHolderView> => {
      const ra = req.relyingApp!;
      const holder = await findHolderByUniqueId(db, req.params.uniqueId);
      const mine = holder ? await enablementsOf(db, holder.id, ra.id) : [];
      if (!holder || mine.length === 0)
        throw new RaError('not_found', 'no such holder among this application’s holders', 'uniqueId');
      const now = Date.now();
      const e = mostRelevant(mine, now);
      const certs = (await listCertificates(db, { holderId: holder.id, limit: 100 })).filter((c) => c.signing_serial === null);
      return {
        uniqueId: holder.unique_id,
        name: holder.name,
        enabled: e !== undefined && inForce(e, now),
        enablement: enablementView(e),
        certificates: await Promise.all(
          certs
            .filter((c) => statusOf(c, now) === 'valid')
            .map(async (c) => ({
              serial: c.serial.toUpperCase(),
              status: statusOf(c, now),
              notAfter: new Date(c.not_after).toISOString(),
              certificateType: await typeCode(c),
            })),
        ),
      };
    },
  );
}
