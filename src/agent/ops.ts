// The operations a portal may ask for (POST /v1/requests), each in two halves: `prepare` checks the
// request and gathers what the approval page shows, before any PIN; `run` does the work on the
// logged-in token session once the holder approved. Changing the PIN has no `run`: the driver logs in
// with the old PIN itself.
import { z } from 'zod';
import { isKeyType, KEY_TYPES, signatureAlgorithmFor } from '../pki/algorithms.js';
import { parseCertificate } from '../pki/certificate.js';
import { buildCsr } from '../pki/csr.js';
import { checkLoginChallenge, LoginChallengeError, loginSignatureAlgorithm } from '../pki/login-challenge.js';
import { attributesFromObject, NameError, encodeName } from '../pki/name.js';
import { fromPem } from '../pki/pem.js';
import type { Agent } from './agent.js';
import { describeCertificate, type CertificateView } from './cert-info.js';
import { AgentError } from './errors.js';
import { reached } from './install/journal.js';
import { checkOrderId, renewalView } from './install/renewal.js';
import { deleteRevoked, signRevocation } from './revocation-ops.js';
import { signWithSealOp, writeSealOp } from './seal-ops.js';
import type { OpName } from './sessions.js';
import { keyForSpki, labelState, PENDING_PREFIX, RETIRED_PREFIX, type TokenSession, type TokenSummary } from './tokens/driver.js';

export interface OpContext {
  agent: Agent;
  origin: string;
  token: TokenSummary;
}

export interface OpSpec {
  title: { zh: string; en: string };
  prepare(body: unknown, ctx: OpContext): Promise<{ params: Record<string, unknown>; display: Record<string, unknown> }>;
  run?(
    params: Record<string, unknown>,
    session: TokenSession,
    ctx: OpContext & { requestId: string },
  ): Promise<{ result: unknown; keepSession?: boolean }>;
}

/** Parses a request body with zod; the error names the field and what is wrong with it. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const r = schema.safeParse(body ?? {});
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.join('.') || '(body)';
    throw new AgentError(400, 'invalid_request', `${field}: ${issue.message}`, { field });
  }
  return r.data;
}

export const hexId = z.string().regex(/^(?:[0-9a-fA-F]{2}){1,64}$/, 'must be an even-length hex string (the CKA_ID)');
export const base = { op: z.string(), tokenId: z.string() };

/** The SM2 dual pair's half in a request body (contract §3): `{certificate, envelope | null}`. */
export const EncryptionPart = z.object({
  certificate: z.string().max(64 * 1024),
  envelope: z
    .string()
    .max(16 * 1024)
    .regex(/^[A-Za-z0-9+/\s]*={0,2}\s*$/, 'must be base64 DER (SM2EnvelopedKey)')
    .nullable(),
});

/** 印章更新: the seals re-made for the new certificate, SESeal DER base64 each. */
export const SealsPart = z
  .array(
    z
      .string()
      .min(1)
      .max(1024 * 1024)
      .regex(/^[A-Za-z0-9+/\s]*={0,2}\s*$/, 'must be base64 DER (SESeal)'),
  )
  .max(32);

export const sealsFromBody = (seals: string[] | undefined): Buffer[] =>
  (seals ?? []).map((x) => Buffer.from(x.replace(/\s+/g, ''), 'base64'));

/** The encryption certificate and envelope as bytes. */
export function encryptionFromBody(e: z.infer<typeof EncryptionPart>): { certificate: Buffer; envelope: Buffer | null } {
  const envelope = e.envelope === null ? null : Buffer.from(e.envelope.replace(/\s+/g, ''), 'base64');
  if (envelope?.length === 0)
    throw new AgentError(400, 'invalid_request', 'encryption.envelope: is empty (give null to reuse the key on the token)', {
      field: 'encryption.envelope',
    });
  return { certificate: certificateFromText(e.certificate, 'encryption.certificate'), envelope };
}

/** Accepts a DER certificate as base64 or PEM text. */
export function certificateFromText(text: string, field = 'certificate'): Buffer {
  let derBuf: Buffer;
  try {
    derBuf = text.includes('-----BEGIN') ? fromPem(text, 'CERTIFICATE') : Buffer.from(text.replace(/\s+/g, ''), 'base64');
    parseCertificate(derBuf);
  } catch (e) {
    throw new AgentError(
      400,
      'bad_certificate',
      `${field} must be a base64 DER or PEM X.509 certificate (${(e as Error).message})`,
      { field },
    );
  }
  return derBuf;
}

function challengeError(e: unknown): never {
  if (e instanceof LoginChallengeError) throw new AgentError(422, e.code, e.message, { field: 'challenge' });
  throw e;
}

export async function publicCertificate(ctx: OpContext, id: string): Promise<CertificateView> {
  const views = await ctx.agent.certificates(ctx.token.id);
  const v = views.find((c) => c.id === id.toLowerCase());
  if (!v)
    throw new AgentError(404, 'certificate_not_found', `no certificate with id ${id} on key "${ctx.token.label}"`, {
      field: 'certificateId',
    });
  return v;
}

/** Login and renewal use signing certificates only; an SM2 encryption certificate cannot sign. */
export function signingOnly(v: CertificateView): CertificateView {
  if (v.usage === 'encryption') {
    throw new AgentError(
      422,
      'certificate_not_for_signing',
      `certificate ${v.id} is an encryption certificate (加密证书); use its signing certificate (签名证书)`,
      { field: 'certificateId' },
    );
  }
  return v;
}

export const short = (v: CertificateView): Record<string, unknown> => ({
  id: v.id,
  name: v.name,
  profile: v.profile,
  uniqueId: v.uniqueId,
  serial: v.serial,
  issuer: v.issuerName,
  notAfter: v.notAfter,
  dates: v.dates,
  daysLeft: v.daysLeft,
});

const login: OpSpec = {
  title: { zh: '登录', en: 'Log in' },
  async prepare(body, ctx) {
    const b = parseBody(z.object({ ...base, certificateId: hexId, challenge: z.string().min(1).max(2048) }), body);
    let challenge;
    try {
      challenge = checkLoginChallenge(b.challenge, { origin: ctx.origin });
    } catch (e) {
      challengeError(e);
    }
    const cert = signingOnly(await publicCertificate(ctx, b.certificateId));
    return {
      params: { certificateId: cert.id, challenge: b.challenge },
      display: { certificate: short(cert), challengeExpiresAt: new Date(challenge.exp * 1000).toISOString() },
    };
  },
  async run(params, session, ctx) {
    const text = String(params.challenge);
    try {
      checkLoginChallenge(text, { origin: ctx.origin });
    } catch (e) {
      challengeError(e);
    }
    const id = String(params.certificateId);
    const cert = (await session.readCertificates()).find((c) => c.id === id);
    if (!cert) throw new AgentError(409, 'certificate_not_found', `the certificate ${id} is no longer on the key`);
    const parsed = parseCertificate(cert.der);
    const key = keyForSpki(await session.listKeys(), parsed.spki);
    if (!key) throw new AgentError(409, 'key_not_found', 'the private key of this certificate is not on the key');
    const signature = await session.sign(key.id, Buffer.from(text, 'utf8'));
    return {
      result: {
        certificateId: id,
        certificate: cert.der.toString('base64'),
        signature: signature.toString('base64'),
        algorithm: loginSignatureAlgorithm(key.keyType).name,
        challenge: text,
      },
    };
  },
};

const RenewBody = z.object({
  ...base,
  orderId: z.string(),
  certificateId: hexId.optional(),
  keyType: z.enum(KEY_TYPES).optional(),
  certificate: z
    .string()
    .max(64 * 1024)
    .optional(),
  encryption: EncryptionPart.optional(),
  seals: SealsPart.optional(),
  confirm: z.boolean().optional(),
});

const renew: OpSpec = {
  title: { zh: '更新证书', en: 'Renew certificate' },
  async prepare(body, ctx) {
    const b = parseBody(RenewBody, body);
    const orderId = checkOrderId(b.orderId);
    const engine = ctx.agent.engine;
    const j = engine.get(orderId);
    let cert: CertificateView;
    if (j) {
      engine.checkOwner(j, ctx.origin, ctx.token.id);
      if (j.step === 'old-retired')
        throw new AgentError(409, 'renewal_done', `renewal ${orderId} is already complete`, { renewal: renewalView(j) });
      cert = describeCertificate(
        { id: j.old.certId, label: j.old.label, der: Buffer.from(j.old.certificate, 'base64') },
        { uniqueIdOid: ctx.agent.options.uniqueIdOid },
      );
    } else if (b.certificateId !== undefined) {
      cert = signingOnly(await publicCertificate(ctx, b.certificateId));
    } else {
      const current = (await ctx.agent.certificates(ctx.token.id)).filter((c) => c.state === 'current' && c.usage === 'signing');
      if (current.length > 1)
        throw new AgentError(
          400,
          'certificate_required',
          `key "${ctx.token.label}" holds ${current.length} certificates; say which one to renew (certificateId)`,
          { field: 'certificateId' },
        );
      if (!current[0])
        throw new AgentError(404, 'certificate_not_found', `key "${ctx.token.label}" holds no certificate to renew`);
      cert = current[0];
    }
    let certificate: string | undefined;
    if (b.certificate !== undefined) {
      const derBuf = certificateFromText(b.certificate);
      // A certificate that does not belong to the key generated for this order is refused now.
      if (j?.pending && !parseCertificate(derBuf).spki.equals(Buffer.from(j.pending.spki, 'base64'))) {
        throw new AgentError(
          422,
          'certificate_key_mismatch',
          "the certificate's public key is not the key generated for this renewal; nothing was written",
          { field: 'certificate' },
        );
      }
      certificate = derBuf.toString('base64');
    }
    let encryption: { certificate: string; envelope: string | null } | undefined;
    if (b.encryption !== undefined) {
      if (certificate === undefined)
        throw new AgentError(400, 'invalid_request', 'encryption: only with certificate', { field: 'encryption' });
      const e = encryptionFromBody(b.encryption);
      encryption = { certificate: e.certificate.toString('base64'), envelope: e.envelope?.toString('base64') ?? null };
    }
    if (b.seals !== undefined && certificate === undefined)
      throw new AgentError(400, 'invalid_request', 'seals: only with certificate', { field: 'seals' });
    return {
      params: {
        orderId,
        certificateId: b.certificateId ?? cert.id,
        keyType: b.keyType,
        certificate,
        encryption,
        seals: b.seals,
        confirm: b.confirm === true,
      },
      display: { orderId, certificate: short(cert), step: j?.step ?? null },
    };
  },
  async run(params, session, ctx) {
    const engine = ctx.agent.engine;
    const orderId = String(params.orderId);
    return engine.run(orderId, async () => {
      let j = await engine.begin({
        orderId,
        origin: ctx.origin,
        token: ctx.token,
        session,
        certificateId: params.certificateId as string | undefined,
        keyType: params.keyType as string | undefined,
      });
      j = await engine.advance(j, session);
      if (typeof params.certificate === 'string' && reached(j, 'csr-built')) {
        const e = params.encryption as { certificate: string; envelope: string | null } | undefined;
        j = await engine.receiveCertificate(
          j,
          Buffer.from(params.certificate, 'base64'),
          {
            encryption: e && {
              certificate: Buffer.from(e.certificate, 'base64'),
              envelope: e.envelope === null ? null : Buffer.from(e.envelope, 'base64'),
            },
            seals: sealsFromBody(params.seals as string[] | undefined),
          },
          session,
        );
        j = await engine.advance(j, session);
      }
      if (params.confirm === true && reached(j, 'labels-switched')) {
        j = engine.confirm(j);
        j = await engine.advance(j, session);
      }
      return { result: renewalView(j), keepSession: j.step !== 'old-retired' };
    });
  },
};

const changePin: OpSpec = {
  title: { zh: '修改 PIN', en: 'Change PIN' },
  prepare(body) {
    parseBody(z.object(base), body);
    return Promise.resolve({ params: {}, display: {} });
  },
};

const userLabel = z
  .string()
  .min(1)
  .max(64)
  .refine(
    (s) => !s.startsWith(PENDING_PREFIX) && !s.startsWith(RETIRED_PREFIX),
    `must not start with "${PENDING_PREFIX}" or "${RETIRED_PREFIX}" (reserved for renewals)`,
  );

const generateKey: OpSpec = {
  title: { zh: '生成密钥对', en: 'Generate a key pair' },
  prepare(body) {
    const b = parseBody(z.object({ ...base, label: userLabel, keyType: z.enum(KEY_TYPES), id: hexId.optional() }), body);
    return Promise.resolve({
      params: { label: b.label, keyType: b.keyType, id: b.id?.toLowerCase() },
      display: { label: b.label, keyType: b.keyType },
    });
  },
  async run(params, session) {
    const keyType = String(params.keyType);
    if (!isKeyType(keyType)) throw new AgentError(400, 'invalid_key_type', 'unsupported key type');
    const k = await session.generateKeyPair({ label: String(params.label), keyType, id: params.id as string | undefined });
    return { result: { id: k.id, label: k.label, keyType: k.keyType, spki: k.spki.toString('base64') } };
  },
};

const makeCsr: OpSpec = {
  title: { zh: '生成证书请求', en: 'Create a certificate request' },
  prepare(body) {
    const b = parseBody(
      z.object({ ...base, keyId: hexId, subject: z.record(z.string(), z.union([z.string(), z.array(z.string())])) }),
      body,
    );
    let subject;
    try {
      subject = attributesFromObject(b.subject);
      encodeName(subject);
    } catch (e) {
      if (e instanceof NameError)
        throw new AgentError(400, 'invalid_request', e.message, { field: `subject${e.field ? '.' + e.field : ''}` });
      throw e;
    }
    return Promise.resolve({
      params: { keyId: b.keyId.toLowerCase(), subject },
      display: { keyId: b.keyId.toLowerCase(), subject: b.subject },
    });
  },
  async run(params, session) {
    const keyId = String(params.keyId);
    const key = (await session.listKeys()).find((k) => k.id === keyId);
    if (!key) throw new AgentError(404, 'key_not_found', `no private key with id ${keyId} on the key`, { field: 'keyId' });
    const csr = await buildCsr({
      subject: params.subject as ReturnType<typeof attributesFromObject>,
      spki: key.spki,
      signatureAlgId: signatureAlgorithmFor(key.keyType).algId,
      sign: (d) => session.sign(key.id, d),
    });
    return { result: { keyId, csr: csr.toString('base64') } };
  },
};

const writeCert: OpSpec = {
  title: { zh: '写入证书', en: 'Write a certificate' },
  async prepare(body, ctx) {
    const b = parseBody(z.object({ ...base, certificate: z.string().max(64 * 1024), label: userLabel.optional() }), body);
    const derBuf = certificateFromText(b.certificate);
    const view = describeCertificate(
      { id: '', label: b.label ?? '', der: derBuf },
      { uniqueIdOid: ctx.agent.options.uniqueIdOid },
    );
    return { params: { certificate: derBuf.toString('base64'), label: b.label }, display: { certificate: short(view) } };
  },
  async run(params, session) {
    const derBuf = Buffer.from(String(params.certificate), 'base64');
    const key = keyForSpki(await session.listKeys(), parseCertificate(derBuf).spki);
    // Checked on the token itself, before anything is written.
    if (!key)
      throw new AgentError(
        422,
        'certificate_no_matching_key',
        'the certificate does not belong to any private key on this key; nothing was written',
        { field: 'certificate' },
      );
    const label = (params.label as string | undefined) ?? (labelState(key.label) === 'current' ? key.label : 'certdesk');
    await session.writeCertificate({ id: key.id, label, der: derBuf });
    return { result: { id: key.id, label } };
  },
};

export const OP_SPECS: Record<OpName, OpSpec> = {
  login,
  renew,
  'change-pin': changePin,
  'generate-key': generateKey,
  'make-csr': makeCsr,
  'write-certificate': writeCert,
  'sign-revocation': signRevocation,
  'delete-revoked': deleteRevoked,
  'write-seal': writeSealOp,
  'sign-with-seal': signWithSealOp,
};
