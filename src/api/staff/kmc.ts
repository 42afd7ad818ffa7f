// POST /api/staff/kmc/recover: key recovery from the staff console's API (docs/STAFF.md). The rules
// are in src/staff/kmc-recovery.ts, which checks the kmc.recover permission itself so that a
// refused attempt is audited as well; this file is HTTP only.
import { invalid } from '../../staff/errors.js';
import { StaffKeyRecovery } from '../../staff/kmc-recovery.js';
import { requireStaff } from './session.js';
import type { StaffRoutes } from './staff-routes.js';

type Body = Record<string, unknown>;

function field(b: Body | undefined, name: string): string {
  const v = b?.[name];
  if (typeof v !== 'string' || v.trim() === '')
    throw invalid({ en: `${name} is required (text)`, zh: `${name} 为必填项（文本）` }, name);
  return v;
}

export function registerStaffKmcRoutes({ api, rt, accounts }: StaffRoutes): void {
  const recovery = new StaffKeyRecovery(rt);
  api.post<{ Body: Body }>(
    '/api/staff/kmc/recover',
    {
      schema: {
        tags: ['staff'],
        summary:
          'Key recovery (kmc role): the escrowed key of an encryption certificate as a new SM2EnvelopedKey to the holder’s current SM2 signing certificate',
        body: { type: 'object' },
      },
      // kmc.recover is checked (and a refusal audited) by StaffKeyRecovery
      preHandler: requireStaff(rt, accounts),
    },
    async (req) => {
      // PEM as text, or base64 DER
      const cert = field(req.body, 'signingCertificate');
      const r = await recovery.recover(req.staff!, {
        serial: field(req.body, 'serial'),
        signingCertificate: cert.includes('-----BEGIN') ? Buffer.from(cert, 'utf8') : Buffer.from(cert, 'base64'),
        reason: field(req.body, 'reason'),
      });
      return {
        keyId: r.keyId,
        envelope: r.envelope.toString('base64'),
        encryptionSerial: r.encryption.serial,
        signingSerial: r.signing.serial,
      };
    },
  );
}
