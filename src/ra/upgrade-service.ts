// 升级证书: the upgrades open to a certificate (catalogue upgrade_paths), and the upgrade order.
// An upgrade is an order like a renewal — the same payment, the same once-per-order issuance
// (RenewalService.issue, with issueTarget's 'upgrade' case), the same journaled install and the old
// certificate revoked (superseded) once the new one is installed. Only what it is sold as differs,
// and that is snapshot in upgrade_orders when the order opens.
import type { CertificateAuthority } from '../ca/authority.js';
import { parseCertificate } from '../pki/certificate.js';
import type { KeyType } from '../pki/algorithms.js';
import { keyTypeOfSpki } from '../pki/algorithms.js';
import { enabledPaymentMethods, type CertificateType } from '../sa/catalogue.js';
import { getCertificate, type CertificateRecord } from '../sa/certificates.js';
import type { Storage } from '../sa/database.js';
import { openOrderForCertificate, type Order } from '../sa/orders.js';
import type { PaymentMethod } from '../sa/schema.js';
import {
  getUpgradeOrder,
  insertUpgradeOrder,
  openUpgradePaths,
  upgradedNotAfter,
  type UpgradePath,
} from '../sa/upgrade-paths.js';
import { RaError } from './errors.js';
import { openOrder, organizationOf, unpaidDraftFields } from './order-create.js';
import type { OrderForm } from './order-form.js';
import { OPEN_STATES } from './order-states.js';
import type { RenewalPolicy } from './renewal-service.js';

export interface UpgradeOption {
  path: UpgradePath;
  to: CertificateType;
  /** the key the assistant makes for the new certificate */
  keyType: KeyType;
  /** an SM2 dual pair (签名证书 + 加密证书) */
  dual: boolean;
  /** the new certificate's end if it were issued now */
  notAfter: Date;
}

export interface UpgradeQuote {
  certificate: CertificateRecord;
  from: CertificateType;
  /** why no upgrade is open (revoked, expired, the encryption half); null when options apply */
  refusal: string | null;
  options: UpgradeOption[];
  paymentMethods: PaymentMethod[];
  openOrder: Order | undefined;
}

export class UpgradeService {
  constructor(
    readonly storage: Storage,
    readonly ca: CertificateAuthority,
    readonly policy: Pick<RenewalPolicy, 'onlineOrderTtlMs' | 'offlineOrderTtlMs'>,
    /** the certificate type of a profile (RenewalService.certificateType: refuses a type not in the catalogue) */
    readonly typeOf: (profile: string) => Promise<CertificateType>,
  ) {}

  private get db() {
    return this.storage.db;
  }

  /** The key type for the target: the old one when the target profile allows it, else the target's first. */
  keyTypeFor(old: CertificateRecord, toProfile: string): KeyType {
    const p = this.ca.profiles.get(toProfile);
    if (!p) throw new RaError('not_eligible', `profile ${toProfile} is not configured on this CA`);
    let oldType: KeyType | undefined;
    try {
      oldType = keyTypeOfSpki(parseCertificate(old.der).spki).keyType;
    } catch {
      oldType = undefined;
    }
    return oldType && p.keyTypes.includes(oldType) ? oldType : p.keyTypes[0]!;
  }

  async quote(serial: string, now = new Date()): Promise<UpgradeQuote> {
    const certificate = await getCertificate(this.db, serial);
    if (!certificate) throw new RaError('not_found', `no certificate ${serial}`);
    const from = await this.typeOf(certificate.profile);
    let refusal: string | null = null;
    if (certificate.signing_serial !== null)
      refusal = `certificate ${serial} is the encryption half of an SM2 pair; upgrade its signing certificate`;
    else if (certificate.status === 'revoked') refusal = 'the certificate is revoked';
    else if (certificate.not_after <= now.getTime())
      refusal = 'the certificate has expired; apply for a new one at a service point';
    const options: UpgradeOption[] = [];
    if (!refusal) {
      for (const path of await openUpgradePaths(this.db, from.code)) {
        const to = await this.db.selectFrom('certificate_types').selectAll().where('code', '=', path.to_type).executeTakeFirst();
        const profile = to && this.ca.profiles.get(to.profile);
        // a path to a type this CA cannot issue (profile or hierarchy missing) is not offered
        if (!to || !profile) continue;
        if (profile.hierarchy && !this.ca.families().includes(profile.hierarchy)) continue;
        options.push({
          path,
          to,
          keyType: this.keyTypeFor(certificate, to.profile),
          dual: profile.encryptionProfile !== undefined,
          notAfter: upgradedNotAfter(path, now, new Date(certificate.not_after)),
        });
      }
    }
    return {
      certificate,
      from,
      refusal,
      options,
      paymentMethods: await enabledPaymentMethods(this.db),
      openOrder: await openOrderForCertificate(this.db, serial, OPEN_STATES),
    };
  }

  async createOrder(serial: string, toType: string, form: Omit<OrderForm, 'termYears'>, actor: string): Promise<Order> {
    const q = await this.quote(serial);
    if (q.openOrder)
      throw new RaError(
        'order_open',
        `order ${q.openOrder.id} for this certificate is still open; continue it instead`,
        undefined,
        {
          orderId: q.openOrder.id,
        },
      );
    if (q.refusal) throw new RaError('not_eligible', `no upgrade is open: ${q.refusal}`);
    const option = q.options.find((o) => o.to.code === toType);
    if (!option)
      throw new RaError('not_eligible', `there is no open upgrade from ${q.from.name} to ${JSON.stringify(toType)}`, 'toType');
    if (!q.paymentMethods.includes(form.paymentMethod))
      throw new RaError('invalid', `支付方式 ${form.paymentMethod} is not available`, 'paymentMethod');
    const now = Date.now();
    const organization = organizationOf(q.certificate.der, q.certificate.subject);
    return openOrder(
      this.storage,
      {
        kind: 'upgrade',
        holder_id: q.certificate.holder_id,
        certificate_serial: serial,
        type_code: option.to.code,
        type_name: option.to.name,
        type_name_en: option.to.name_en,
        organization,
        term_years: option.path.term_years,
        amount_fen: option.path.price_fen,
        ...unpaidDraftFields(form, this.policy, now),
      },
      {
        prefix: 'U',
        actor,
        email: form.email,
        details: { from: q.from.code, to: option.to.code, carryOver: option.path.carry_over === 1 },
        // re-checked under the write lock: one open order per certificate, whatever its kind
        guard: async (tx) => {
          const open = await openOrderForCertificate(tx, serial, OPEN_STATES);
          if (open)
            throw new RaError('order_open', `order ${open.id} for this certificate is already open`, undefined, {
              orderId: open.id,
            });
        },
        also: (tx, order) =>
          insertUpgradeOrder(tx, {
            order_id: order.id,
            from_type: q.from.code,
            to_type: option.to.code,
            to_profile: option.to.profile,
            term_years: option.path.term_years,
            carry_over: option.path.carry_over,
            new_key: option.path.new_key,
            created_at: now,
          }),
      },
    );
  }

  /** The key type the assistant makes for an upgrade order (null: not an upgrade). */
  async newKeyType(order: Order): Promise<KeyType | null> {
    if (order.kind !== 'upgrade') return null;
    const u = await getUpgradeOrder(this.db, order.id);
    const old = await getCertificate(this.db, order.certificate_serial);
    if (!u || !old || !this.ca.profiles.get(u.to_profile)) return null;
    return this.keyTypeFor(old, u.to_profile);
  }
}
