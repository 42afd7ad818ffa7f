// What an order makes of the certificate it replaces, decided in one place for every kind that
// issues (RenewalService.issue runs the same once-per-order issuance, KMC and seal steps for all):
//   renewal (更新证书)  same profile and subject; the term added to the old end (renewal-window.ts)
//   upgrade (升级证书)  the path's target profile, sold as a snapshot (upgrade_orders); the term from
//                      now, plus the old certificate's remaining time when the path carries it over
//   change  (变更证书)  same profile; the approved new subject (唯一识别号 unchanged); the old end
//                      (a change does not extend the term) — and only once a reviewer approved it
// and how the old certificate is revoked once the new one is installed.
import type { CertificateAuthority } from '../ca/authority.js';
import { parseCertificate } from '../pki/certificate.js';
import type { NameAttribute } from '../pki/name.js';
import type { RevocationReason } from '../shared/revocation-reasons.js';
import type { CertificateRecord } from '../sa/certificates.js';
import type { Executor } from '../sa/database.js';
import type { Order } from '../sa/orders.js';
import { getChangeRequest, getChangeReview } from '../sa/change-requests.js';
import { getUpgradeOrder, upgradedNotAfter } from '../sa/upgrade-paths.js';
import { renamedBy, supersedeReasonFor, type ChangedField } from './change-subject.js';
import { RaError } from './errors.js';
import { renewedNotAfter } from './renewal-window.js';

export interface IssueTarget {
  profileId: string;
  subject: NameAttribute[];
  notAfter: Date;
  /** the reason the replaced certificate is revoked with after the install */
  supersedeReason: RevocationReason;
  /** a change of the holder's 名称: seals named `from` are marked for re-application, the holder record renamed */
  renamed?: { from: string; to: string };
}

export async function issueTarget(
  db: Executor,
  ca: CertificateAuthority,
  order: Order,
  old: CertificateRecord,
  now = new Date(),
): Promise<IssueTarget> {
  // parsed only when a certificate is issued: order views ask for the end date alone
  const oldSubject = () => parseCertificate(old.der).subject;
  switch (order.kind) {
    case 'renewal':
      return {
        profileId: old.profile,
        get subject() {
          return oldSubject();
        },
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
        get subject() {
          return oldSubject();
        },
        notAfter: upgradedNotAfter(u, now, new Date(old.not_after)),
        supersedeReason: 'superseded',
      };
    }
    case 'change': {
      const c = await getChangeRequest(db, order.id);
      if (!c) throw new Error(`change order ${order.id} has no change request`);
      // the one gate every issuance passes: an order that is paid but not approved issues nothing
      const review = await getChangeReview(db, order.id);
      if (review?.decision !== 'approved')
        throw new RaError(
          'awaiting_review',
          `change ${order.id} ${review ? 'was rejected' : 'has not been reviewed yet'}: nothing is issued before a reviewer approves it`,
        );
      const changes = JSON.parse(c.changes) as ChangedField[];
      const renamed = renamedBy(changes);
      return {
        profileId: old.profile,
        subject: JSON.parse(c.new_subject) as NameAttribute[],
        notAfter: new Date(old.not_after),
        supersedeReason: supersedeReasonFor(changes),
        ...(renamed ? { renamed } : {}),
      };
    }
    default:
      throw new RaError('invalid_state', `an order of kind ${order.kind} does not issue a certificate`);
  }
}
