// Seal operations a portal may ask for (POST /v1/requests), each after the PIN in the assistant's
// own window, which shows the seal's picture (and, to stamp, the document's name and digest):
//   write-seal      puts a seal the CA made on the key, beside its certificate (seals.ts writeSeal)
//   sign-with-seal  makes a GB/T 38540 SES_Signature over a document digest the page supplies
import { z } from 'zod';
import { parseCertificate } from '../pki/certificate.js';
import { assembleSignature, encodeTbsSign, SignatureFormatError } from '../pki/ses-signature.js';
import { AgentError } from './errors.js';
import { base, parseBody, short, type OpContext, type OpSpec } from './ops.js';
import { checkSealFor, describeSeal, writeSeal, type SealView } from './seals.js';
import { describeCertificate } from './cert-info.js';
import { keyForSpki, labelState, SEAL_APPLICATION, type TokenSession } from './tokens/driver.js';

const SealDer = z
  .string()
  .min(1)
  .max(1024 * 1024)
  .regex(/^[A-Za-z0-9+/\s]*={0,2}\s*$/, 'must be base64 DER (SESeal)');

/** The picture and facts the approval window shows (the DER itself is not shown). */
const sealDisplay = (v: SealView): Record<string, unknown> => ({
  esId: v.esId,
  name: v.name,
  validEnd: v.validEnd,
  picture: { type: v.picture.type, data: v.picture.data },
});

function certificateDisplay(ctx: OpContext, der: Buffer): Record<string, unknown> {
  return short(describeCertificate({ id: '', label: '', der }, { uniqueIdOid: ctx.agent.options.uniqueIdOid }));
}

export const writeSealOp: OpSpec = {
  title: { zh: '写入印章', en: 'Write a seal' },
  async prepare(body, ctx) {
    const b = parseBody(z.object({ ...base, seal: SealDer }), body);
    const der = Buffer.from(b.seal.replace(/\s+/g, ''), 'base64');
    const seal = checkSealFor(der, undefined, 'seal');
    const certs = await ctx.agent.certificates(ctx.token.id);
    const bound = seal.certList[0];
    const cert = bound && certs.find((c) => c.state === 'current' && Buffer.from(c.certificate, 'base64').equals(bound));
    if (!cert)
      throw new AgentError(
        422,
        'seal_certificate_missing',
        `the seal's certificate is not on key "${ctx.token.label}"; nothing was written`,
        {
          field: 'seal',
        },
      );
    const view = describeSeal({ application: SEAL_APPLICATION, label: seal.esId, value: der }, [])!;
    return {
      params: { seal: der.toString('base64') },
      display: { seal: sealDisplay(view), certificate: short(cert) },
    };
  },
  async run(params, session) {
    return { result: await writeSeal(session, Buffer.from(String(params.seal), 'base64')) };
  },
};

/** The current seal with this esID on the key, valid, and its certificate's signing key. */
async function sealToUse(s: TokenSession | undefined, ctx: OpContext, esId: string) {
  const data = s ? await s.readData(SEAL_APPLICATION) : await ctx.agent.sealData(ctx.token.id);
  const d = data.find((x) => x.label === esId && labelState(x.label) === 'current');
  if (!d) throw new AgentError(404, 'seal_not_found', `no seal ${esId} on key "${ctx.token.label}"`, { field: 'esId' });
  const seal = checkSealFor(d.value, undefined, 'esId');
  const certDer = seal.certList[0];
  if (!certDer) throw new AgentError(422, 'seal_certificate_missing', `seal ${esId} names no certificate`, { field: 'esId' });
  return { d, seal, certDer };
}

export const signWithSealOp: OpSpec = {
  title: { zh: '电子签章', en: 'Stamp a document' },
  async prepare(body, ctx) {
    const b = parseBody(
      z.object({
        ...base,
        esId: z.string().regex(/^[\x20-\x7e]{1,64}$/, 'must be the seal’s esID'),
        digest: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be the SM3 digest of the document, 64 hex digits'),
        documentName: z.string().trim().min(1).max(200),
        propertyInfo: z
          .string()
          .regex(/^[\x20-\x7e]{1,512}$/, 'must be 1–512 printable ASCII characters')
          .optional(),
      }),
      body,
    );
    const { d, certDer } = await sealToUse(undefined, ctx, b.esId);
    const view = describeSeal(d, [])!;
    return {
      params: {
        esId: b.esId,
        digest: b.digest.toLowerCase(),
        documentName: b.documentName,
        propertyInfo: b.propertyInfo ?? 'SM3 digest of the whole document',
        seal: d.value.toString('base64'),
      },
      display: {
        seal: sealDisplay(view),
        documentName: b.documentName,
        digest: b.digest.toLowerCase(),
        certificate: certificateDisplay(ctx, certDer),
      },
    };
  },
  async run(params, session, ctx) {
    const esId = String(params.esId);
    const { d, certDer } = await sealToUse(session, ctx, esId);
    // the seal the holder saw in the window, not one swapped in since
    if (!d.value.equals(Buffer.from(String(params.seal), 'base64')))
      throw new AgentError(409, 'seal_changed', `seal ${esId} changed on the key since the request; ask again`);
    const key = keyForSpki(await session.listKeys(), parseCertificate(certDer).spki);
    if (!key || key.keyType !== 'sm2')
      throw new AgentError(422, 'seal_key_missing', `the SM2 signing key of seal ${esId}'s certificate is not on this key`, {
        field: 'esId',
      });
    let tbs: Buffer;
    try {
      tbs = encodeTbsSign({
        seal: d.value,
        timeInfo: new Date(),
        dataHash: Buffer.from(String(params.digest), 'hex'),
        propertyInfo: String(params.propertyInfo),
      });
    } catch (e) {
      if (e instanceof SignatureFormatError) throw new AgentError(422, 'invalid_request', e.message);
      throw e;
    }
    const signature = assembleSignature(tbs, certDer, await session.sign(key.id, tbs));
    return { result: { esId, signature: signature.toString('base64') } };
  },
};
