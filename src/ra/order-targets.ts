// What an order makes of the certificate it replaces, decided in one place for every kind that
// issues (RenewalService.issue runs the same once-per-order issuance, KMC and seal steps for all):
//   renewal (更新证书)  same profile and subject; the term added to the old end (renewal-window.ts)
//   upgrade (升级证书)  the path's target profile, sold as a snapshot (upgrade_orders); the term from
//                      now, plus the old certificate's remaining time when the path carries it over
// and how the old certificate is revoked once the new one is installed.
import type { CertificateAuthority } from '../ca/authority.js';
import { parseCertificate } from '../pki/certificate.js';
import type { NameAttribute } from '../pki/name.js';
import type { RevocationReason } from '../ca/revocation-reasons.js';
import type { CertificateRecord } from '../sa/certificates.js';
import type { Executor } from '../sa/database.js';
import type { Order } from '../sa/orders.js';
import { getUpgradeOrder, upgradedNotAfter } from '../sa/upgrade-paths.js';
import { RaError } from './errors.js';
import { renewedNotAfter } from './renewal-window.js';

export interface IssueTarget {
  profileId: string;
  subject: NameAttribute[];
  notAfter: Date;
  /** the reason the replaced certificate is revoked with after the install */
  supersedeReason: RevocationReason;
}

export async function issueTarget(
  db: Executor,
  ca: CertificateAuthority,
  order: Order,
  old: CertificateRecord,
  now = new Date(),
): Promise<IssueTarget> {
  const subject = parseCertificate(old.der).subject;
  switch (order.kind) {
    case 'renewal':
      return {
        profileId: old.profile,
        subject,
        notAfter: renewedNotAfter(new Date(old.not_after), order.term_years),
        supersedeReason: 'superseded',
      };
    case 'upgrade': {
      const u = await getUpgradeOrder(db, order.id);
      if (!u) throw new Error(`upgrade order ${order.id} has no upgrade record`);
      if (!ca.profiles.get(u.to_profile))
        throw new RaError('not_eligible', `the profile ${u.to_profile} of ${order.type_name} is not configured on this CA`);
      return {
        profileId: u.to_profile,
        subject,
        notAfter: upgradedNotAfter(u, now, new Date(old.not_after)),
        supersedeReason: 'superseded',
      };
    }
    default:
      throw new RaError('invalid_state', `an order of kind ${order.kind} does not issue a certificate`);
  }
}
