// 撤销证书 on the key: sign the server's revocation statement (after the PIN, the window showing the
// serial and the reason), and afterwards delete the revoked certificate's objects from the key.
import { z } from 'zod';
import { parseCertificate } from '../pki/certificate.js';
import { loginSignatureAlgorithm } from '../pki/login-challenge.js';
import { checkRevocationStatement, RevocationStatementError } from '../pki/revocation-statement.js';
import { AgentError } from './errors.js';
import { base, certificateFromText, hexId, parseBody, publicCertificate, short, signingOnly, type OpSpec } from './ops.js';
import { keyForSpki } from './tokens/driver.js';

function statementError(e: unknown): never {
  if (e instanceof RevocationStatementError) throw new AgentError(422, 'statement_refused', e.message, { field: 'statement' });
  throw e;
}

export const signRevocation: OpSpec = {
  title: { zh: '撤销证书', en: 'Revoke certificate' },
  async prepare(body, ctx) {
    const b = parseBody(z.object({ ...base, certificateId: hexId, statement: z.string().min(1).max(2048) }), body);
    const cert = signingOnly(await publicCertificate(ctx, b.certificateId));
    let st;
    try {
      // the statement must name the very certificate chosen: the key never signs away another one
      st = checkRevocationStatement(b.statement, { origin: ctx.origin, serial: String(cert.serial).toLowerCase() });
    } catch (e) {
      statementError(e);
    }
    return {
      params: { certificateId: cert.id, statement: b.statement },
      display: {
        certificate: short(cert),
        revocationReason: st.reason,
        statementExpiresAt: new Date(st.exp * 1000).toISOString(),
      },
    };
  },
  async run(params, session, ctx) {
    const text = String(params.statement);
    const id = String(params.certificateId);
    const cert = (await session.readCertificates()).find((c) => c.id === id);
    if (!cert) throw new AgentError(409, 'certificate_not_found', `the certificate ${id} is no longer on the key`);
    const parsed = parseCertificate(cert.der);
    try {
      checkRevocationStatement(text, { origin: ctx.origin, serial: parsed.serialHex });
    } catch (e) {
      statementError(e);
    }
    const key = keyForSpki(await session.listKeys(), parsed.spki);
    if (!key) throw new AgentError(409, 'key_not_found', 'the private key of this certificate is not on the key');
    const signature = await session.sign(key.id, Buffer.from(text, 'utf8'));
    return {
      result: {
        certificateId: id,
        signature: signature.toString('base64'),
        algorithm: loginSignatureAlgorithm(key.keyType).name,
        statement: text,
      },
    };
  },
};

/**
 * Deletes a revoked certificate and its key pair from the key. The portal passes the certificate it
 * knows is revoked; only objects whose certificate has exactly those bytes are touched.
 */
export const deleteRevoked: OpSpec = {
  title: { zh: '删除已撤销证书', en: 'Delete the revoked certificate' },
  async prepare(body, ctx) {
    const b = parseBody(z.object({ ...base, certificateId: hexId, certificate: z.string().max(64 * 1024) }), body);
    const cert = await publicCertificate(ctx, b.certificateId);
    const der = certificateFromText(b.certificate);
    return { params: { certificateId: cert.id, certificate: der.toString('base64') }, display: { certificate: short(cert) } };
  },
  async run(params, session) {
    const id = String(params.certificateId);
    const der = Buffer.from(String(params.certificate), 'base64');
    const stored = (await session.readCertificates()).find((c) => c.id === id);
    if (!stored || !stored.der.equals(der))
      throw new AgentError(
        409,
        'certificate_not_found',
        `the certificate ${id} on the key is not the revoked one; nothing was deleted`,
      );
    const deleted = await session.deleteObjects(id);
    return { result: { certificateId: id, deleted } };
  },
};
