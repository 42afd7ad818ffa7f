// The public seal status lookup (GET /api/seals/{esID}) that relying signature software asks before
// accepting a stamp: status, validity, maker and bound certificates. Public, so rate-limited.
import type { FastifyInstance } from 'fastify';
import { parseCertificate, subjectString } from '../pki/certificate.js';
import { RaError } from '../ra/errors.js';
import type { Runtime } from '../runtime.js';
import type { SealStatusView } from '../shared/seal-status.js';

export function registerSealStatusRoutes(app: FastifyInstance, rt: Runtime): void {
  app.get<{ Params: { esId: string } }>(
    '/api/seals/:esId',
    {
      schema: { tags: ['seals'], summary: 'Status of an electronic seal, by esID' },
      config: { rateLimit: { max: 120, timeWindow: '1 minute' } },
    },
    async (req, reply): Promise<SealStatusView> => {
      const esId = req.params.esId;
      if (!/^[\x20-\x7e]{1,64}$/.test(esId)) throw new RaError('invalid', 'esID: 1–64 printable ASCII characters', 'esId');
      const seal = await rt.sealService.get(esId);
      if (!seal) throw new RaError('not_found', `no seal ${esId}`, 'esId');
      const maker = await rt.sealService.maker(seal.maker_id);
      const expired = seal.valid_end < Date.now();
      void reply.header('cache-control', 'no-cache');
      return {
        esId: seal.es_id,
        status: seal.status === 'revoked' ? 'revoked' : expired ? 'expired' : 'valid',
        name: seal.name,
        type: seal.type_code,
        validStart: new Date(seal.valid_start).toISOString(),
        validEnd: new Date(seal.valid_end).toISOString(),
        revokedAt: seal.revoked_at === null ? null : new Date(seal.revoked_at).toISOString(),
        revocationReason: seal.revoked_reason,
        generation: seal.generation,
        maker: maker
          ? {
              id: maker.id,
              subject: subjectString(parseCertificate(Buffer.from(maker.cert_der))),
              serial: parseCertificate(Buffer.from(maker.cert_der)).serialHex,
            }
          : null,
        certificateSerials: [seal.bound_serial],
      };
    },
  );
}
