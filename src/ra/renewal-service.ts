// The renewal flow (更新证书): quote → order → payment → issuance (exactly once per order) →
// installed → completed. Rules live here; HTTP lives in api/, SQL in sa/. Every order kind that
// replaces a certificate (renewal, upgrade, change) issues and completes here; order-targets.ts says
// what each kind issues.
import { enqueueOrderNotice } from '../notify/order-notices.js';
import { enqueueCertificateEvent, type CertificateEvent } from '../notify/webhooks.js';
import { hash } from 'node:crypto';
import type { CertificateAuthority } from '../ca/authority.js';
import { CaError } from '../ca/errors.js';
import { parseCertificate } from '../pki/certificate.js';
import { CsrError, parseCsr } from '../pki/csr.js';
import { verifyRenewalProof } from '../pki/renewal-proof.js';
import { appendAudit } from '../sa/audit.js';
import {
  certificateTypeForProfile,
  enabledPaymentMethods,
  pricesFor,
  remittanceInfo,
  type CertificateType,
} from '../sa/catalogue.js';
import { getCertificate, getCertificateByOrder, getEncryptionPartner, type CertificateRecord } from '../sa/certificates.js';
import type { SealService } from '../seal/seal-service.js';
import type { KeyManagement } from '../kmc/kmc-api.js';
import { writeTransaction, type Storage, type Tx } from '../sa/database.js';
import { orderItemName } from '../sa/invoices.js';
import { renameHolder } from '../sa/holders.js';
import {
  addOrderEvent,
  getOrder,
  openOrderForCertificate,
  ordersAwaitingOnlinePayment,
  ordersToExpire,
  transitionOrder,
  type Order,
} from '../sa/orders.js';
import type { PaymentMethod } from '../sa/schema.js';
import type { PaymentGateway } from '../payments/gateway.js';
import { RaError } from './errors.js';
import { OPEN_STATES, PAID_STATES } from './order-states.js';
import type { OrderForm } from './order-form.js';
import { changeRefusal, recordPayment } from './payment-ledger.js';
import { renewalEligibility, type Eligibility } from './renewal-window.js';
import { issueTarget, type IssueTarget } from './order-targets.js';
import { uniqueIdOf } from './certificate-summary.js';
import { openOrder, organizationOf, unpaidDraftFields } from './order-create.js';

const CERTIFICATE_EVENT: Record<'renewal' | 'upgrade' | 'change', CertificateEvent> = {
  renewal: 'certificate.renewed',
  upgrade: 'certificate.upgraded',
  change: 'certificate.changed',
};

export interface RenewalPolicy {
  /** how long an unpaid online order stays open */
  onlineOrderTtlMs: number;
  /** how long an unpaid offline (postal/bank) order stays open */
  offlineOrderTtlMs: number;
  /** revoke the renewed certificate as superseded once the new one is installed */
  revokeSuperseded: boolean;
  /** SM2 dual pair: certify the old encryption key again instead of asking the KMC for a new one */
  reuseEncryptionKey?: boolean;
}

/** What issuing for an order yields: the certificate, and for a dual type its encryption partner. */
export interface IssuedForOrder {
  order: Order;
  certificate: CertificateRecord;
  /** the SM2 dual pair's encryption certificate, with the envelope of its private key (null: the old key, already on the token) */
  encryption?: { certificate: CertificateRecord; envelope: Buffer | null };
}

export interface Quote {
  certificate: CertificateRecord;
  type: CertificateType;
  eligibility: Eligibility;
  terms: { years: number; months: number; priceFen: number }[];
  paymentMethods: PaymentMethod[];
  openOrder: Order | undefined;
}

const kmcUnavailable = (order: Order): RaError =>
  new RaError('kmc_unavailable', `${order.type_name} needs the key management centre (KMC), which this instance has not got`);

export class RenewalService {
  constructor(
    readonly storage: Storage,
    readonly ca: CertificateAuthority,
    readonly gateway: PaymentGateway,
    readonly policy: RenewalPolicy,
    /** the KMC making the encryption keys of SM2 dual pairs */
    readonly kmc?: KeyManagement,
    /** 印章更新: re-makes the seals bound to the renewed certificate for the new one */
    readonly sealMaker?: Pick<SealService, 'remakeFor'>,
  ) {}

  private get db() {
    return this.storage.db;
  }

  async certificateType(profile: string): Promise<CertificateType> {
    const t = await certificateTypeForProfile(this.db, profile);
    if (!t)
      throw new RaError(
        'not_eligible',
        `certificate type for profile ${profile} is not in the catalogue; a service point handles it`,
      );
    return t;
  }

  /** `certificate`: its serial, or its record as the caller has just read it (one read fewer) */
  async quote(certificate: string | CertificateRecord): Promise<Quote> {
    const serial = typeof certificate === 'string' ? certificate : certificate.serial;
    const record = typeof certificate === 'string' ? await getCertificate(this.db, certificate) : certificate;
    if (!record) throw new RaError('not_found', `no certificate ${serial}`);
    if (record.signing_serial !== null)
      throw new RaError(
        'not_eligible',
        `certificate ${serial} is the encryption half of an SM2 pair: it is renewed with its signing certificate ${record.signing_serial}`,
      );
    const type = await this.certificateType(record.profile);
    const eligibility = renewalEligibility({
      notAfter: new Date(record.not_after),
      revoked: record.status === 'revoked',
      onlineRenewal: type.online_renewal === 1,
      beforeDays: type.renew_before_days,
      afterDays: type.renew_after_days,
    });
    const terms = (await pricesFor(this.db, type.code)).map((p) => ({
      years: p.termYears,
      months: p.termYears * 12,
      priceFen: p.priceFen,
    }));
    return {
      certificate: record,
      type,
      eligibility,
      terms,
      paymentMethods: await enabledPaymentMethods(this.db),
      openOrder: await openOrderForCertificate(this.db, serial, OPEN_STATES),
    };
  }

  /** `certificate` as quote() takes it */
  async createOrder(certificate: string | CertificateRecord, form: OrderForm, actor: string): Promise<Order> {
    const q = await this.quote(certificate);
    const serial = q.certificate.serial;
    if (q.openOrder)
      throw new RaError(
        'order_open',
        `order ${q.openOrder.id} for this certificate is still open; continue it instead`,
        undefined,
        { orderId: q.openOrder.id },
      );
    if (!q.eligibility.eligible)
      throw new RaError('not_eligible', `renewal is not open for this certificate (${q.eligibility.reason})`);
    const term = q.terms.find((t) => t.years === form.termYears);
    if (!term)
      throw new RaError('invalid', `更新有效期 of ${form.termYears} years is not offered for ${q.type.name}`, 'termYears');
    if (!q.paymentMethods.includes(form.paymentMethod))
      throw new RaError('invalid', `支付方式 ${form.paymentMethod} is not available`, 'paymentMethod');
    const now = Date.now();
    const organization = organizationOf(q.certificate.der, q.certificate.subject);
    const opened = await openOrder(
      this.storage,
      {
        kind: 'renewal',
        holder_id: q.certificate.holder_id,
        certificate_serial: serial,
        type_code: q.type.code,
        type_name: q.type.name,
        type_name_en: q.type.name_en,
        organization,
        term_years: term.years,
        amount_fen: term.priceFen,
        ...unpaidDraftFields(form, this.policy, now),
      },
      {
        prefix: 'R',
        actor,
        email: form.email,
        // re-checked under the write lock: two tabs cannot open two orders for one certificate
        guard: async (tx) => {
          const open = await openOrderForCertificate(tx, serial, OPEN_STATES);
          if (open)
            throw new RaError(
              'order_open',
              `order ${open.id} for this certificate is still open; continue it instead`,
              undefined,
              {
                orderId: open.id,
              },
            );
        },
      },
    );
    return opened;
  }

  /**
   * The certificate `order` replaces; `known` is a record the caller read in this request (the
   * portal's session certificate), used when it is that one instead of reading it again.
   */
  private async renewedBy(order: Order, known: CertificateRecord | undefined): Promise<CertificateRecord | undefined> {
    return known?.serial === order.certificate_serial ? known : getCertificate(this.db, order.certificate_serial);
  }

  async order(id: string): Promise<Order> {
    const o = await getOrder(this.db, id);
    if (!o) throw new RaError('not_found', `no order ${id}`);
    return o;
  }

  remittance() {
    return remittanceInfo(this.db);
  }

  async startOnlinePayment(order: Order, returnUrl: string): Promise<string> {
    if (order.payment_method !== 'online')
      throw new RaError('invalid_state', 'this order is paid by remittance, not online', 'paymentMethod');
    if (order.state !== 'awaiting_payment') throw new RaError('invalid_state', `order is ${order.state}; nothing to pay`);
    const refused = await changeRefusal(this.db, order, 'holder');
    if (refused) throw refused;
    if (order.amount_fen === 0) throw new RaError('invalid_state', `order ${order.id} costs nothing; there is nothing to pay`);
    const subject = orderItemName(order);
    const { redirectUrl } = await this.gateway.createPayment({
      orderId: order.id,
      amountFen: order.amount_fen,
      subject,
      returnUrl,
    });
    await addOrderEvent(this.db, order.id, 'payment.started', 'holder', { gateway: this.gateway.id });
    return redirectUrl;
  }

  /** Active query: asks the gateway about an online order that is not yet paid. */
  async reconcile(order: Order, actor = 'system:reconcile'): Promise<Order> {
    if (order.payment_method !== 'online' || (order.state !== 'awaiting_payment' && order.state !== 'expired')) return order;
    const r = await this.gateway.query(order.id);
    if (r.status === 'paid') {
      await recordPayment(this.storage, { ...r.payment, channel: this.gateway.id, actor });
      return this.order(order.id);
    }
    return order;
  }

  async cancel(order: Order, actor: string): Promise<Order> {
    await writeTransaction(this.storage, async (tx) => {
      if (!(await transitionOrder(tx, order.id, ['awaiting_payment'], 'cancelled')))
        throw new RaError('invalid_state', `order is ${order.state}; only an unpaid order can be cancelled`);
      await addOrderEvent(tx, order.id, 'cancelled', actor);
      await appendAudit(tx, [{ actor, action: 'order.cancelled', target: order.id }]);
    });
    return this.order(order.id);
  }

  /**
   * Issues the renewed certificate for a paid order: the CSR must come with a proof signed by the
   * certificate being renewed. Exactly one certificate per order: asking again returns it. For a
   * dual type (an SM2 pair) the encryption certificate follows, for a key the KMC makes for the
   * order; a retry after a failure at any point completes the same pair, never a second one.
   */
  async issue(order: Order, csrDer: Buffer, proof: Buffer, actor: string, known?: CertificateRecord): Promise<IssuedForOrder> {
    const old = await this.renewedBy(order, known);
    const recorded = await getCertificateByOrder(this.db, order.id);
    const {
      record: signing,
      marked,
      target,
    } = recorded
      ? { record: recorded, marked: false, target: undefined }
      : await this.issueSigning(order, old, csrDer, proof, actor);
    const encryption = await this.issueEncryption(order, signing, actor);
    // 'issued' only once the whole pair is recorded: the order is not done while half of it is missing
    // (a single certificate moved its order to issued in the transaction that recorded it)
    if (!marked && (order.state === 'paid' || order.state === 'issuing')) await this.markIssued(order, signing, actor);
    // before the install retires the old certificate: its seals must already name the new one
    const renamed = old ? (target ?? (await issueTarget(this.db, this.ca, order, old))).renamed : undefined;
    await this.sealMaker?.remakeFor(
      order.certificate_serial,
      signing,
      actor,
      renamed ? { renamed: { from: renamed.from, orderId: order.id } } : {},
    );
    return { order: await this.order(order.id), certificate: signing, ...(encryption ? { encryption } : {}) };
  }

  /** The signing (or only) certificate; `marked` when its order moved to issued with its record. */
  private async issueSigning(
    order: Order,
    old: CertificateRecord | undefined,
    csrDer: Buffer,
    proof: Buffer,
    actor: string,
  ): Promise<{ record: CertificateRecord; marked: boolean; target: IssueTarget }> {
    if (!['paid', 'issuing'].includes(order.state)) {
      throw new RaError(
        order.state === 'awaiting_payment' || order.state === 'expired' ? 'order_not_paid' : 'invalid_state',
        `order is ${order.state}; it must be paid before the certificate is updated`,
      );
    }
    if (!old) throw new RaError('not_found', 'the certificate being renewed is not on record');
    // Revoked after the order was paid (挂失, a staff revocation, the holder's own 撤销证书 in another
    // tab): its key no longer vouches for anyone, so nothing is issued on its proof; the paid order
    // stays paid for staff to refund.
    if (old.status === 'revoked')
      throw new RaError(
        'certificate_revoked',
        `the certificate being renewed was revoked on ${new Date(old.revoked_at ?? 0).toISOString()}; nothing can be issued for this order — ask the CA to refund it`,
      );
    let csr;
    try {
      csr = parseCsr(csrDer);
    } catch (e) {
      if (e instanceof CsrError) throw new RaError('csr_invalid', e.message, 'csr');
      throw e;
    }
    if (!verifyRenewalProof({ orderId: order.id, csrDer, signature: proof, oldCertificateDer: old.der })) {
      throw new RaError('proof_invalid', 'the proof was not signed by the key of the certificate being renewed', 'proof');
    }
    const target = await issueTarget(this.db, this.ca, order, old);
    const dual = this.ca.profiles.get(target.profileId)?.encryptionProfile !== undefined;
    // a dual type needs the KMC unless the policy certifies the old pair's encryption key again
    const needsKmc = dual && !(this.policy.reuseEncryptionKey && (await getEncryptionPartner(this.db, old.serial)));
    if (needsKmc && !this.kmc) throw kmcUnavailable(order);
    // paid → issuing; an order already past it (a retry, or a second request for the same order,
    // which then gets the recorded certificate) goes on; anything else — a refund committed since
    // this request read the order — stops the issuance
    const claim = async (tx: Tx): Promise<void> => {
      if (await transitionOrder(tx, order.id, ['paid'], 'issuing')) {
        await addOrderEvent(tx, order.id, 'issuing', actor);
        return;
      }
      const now = await getOrder(tx, order.id);
      if (!now || !PAID_STATES.includes(now.state))
        throw new RaError('invalid_state', `order is ${now?.state ?? 'gone'}; nothing was issued for it`);
    };
    // A dual pair claims its order before the KMC and the second issuance; a single certificate
    // claims it, is recorded and moves it to issued in one transaction (one commit instead of three).
    // When the claim fails there, the certificate is discarded unseen: nothing is recorded.
    const claimAndIssue = async (tx: Tx, record: CertificateRecord): Promise<void> => {
      await claim(tx);
      if (!(await this.recordIssued(tx, order, record, actor)))
        throw new Error(`order ${order.id} was claimed but is not issuing`);
    };
    if (dual) await writeTransaction(this.storage, claim);
    // read from where the old certificate has it: the subject serialNumber, or the extension of certificates issued before
    const uniqueId = uniqueIdOf(old.der, this.ca.config.uniqueIdOid);
    try {
      const issued = await this.ca.issue({
        csr,
        profileId: target.profileId,
        subject: target.subject,
        notAfter: target.notAfter,
        ...(uniqueId ? { uniqueId } : {}),
        renewsSerial: old.serial,
        orderId: order.id,
        actor,
        ...(dual ? {} : { also: claimAndIssue }),
      });
      return { record: issued.record, marked: !dual && issued.fresh, target };
    } catch (e) {
      if (e instanceof CaError) throw new RaError('csr_invalid', e.message, e.field ?? 'csr');
      throw e;
    }
  }

  /**
   * The encryption half of a dual pair for `signing` (undefined for a single-certificate type).
   * By default a new KMC key per order, enveloped to the new signing key; with reuseEncryptionKey,
   * the renewed pair's encryption key certified again (no envelope: it is on the token already).
   * Both the KMC (per order id) and the CA (per signing certificate) are idempotent, so a retry
   * after a crash anywhere here yields the same key, the same certificate, an envelope for that key.
   */
  private async issueEncryption(
    order: Order,
    signing: CertificateRecord,
    actor: string,
  ): Promise<{ certificate: CertificateRecord; envelope: Buffer | null } | undefined> {
    if (this.ca.profiles.get(signing.profile)?.encryptionProfile === undefined) return undefined;
    const renewed = await getCertificate(this.db, order.certificate_serial);
    const oldEncryption = renewed ? await getEncryptionPartner(this.db, renewed.serial) : undefined;
    const recorded = await getEncryptionPartner(this.db, signing.serial);
    // The key is decided once: what is recorded wins over a policy changed since.
    const reuse = recorded
      ? recorded.spki_sha256 === oldEncryption?.spki_sha256
      : Boolean(this.policy.reuseEncryptionKey && oldEncryption);
    let spki: Buffer;
    let envelope: Buffer | null = null;
    let keyId: string | undefined;
    if (reuse) spki = parseCertificate(oldEncryption!.der).spki;
    else {
      if (!this.kmc) throw kmcUnavailable(order);
      const key = await this.kmc.issueEncryptionKey({
        requestId: order.id,
        signingSpki: parseCertificate(signing.der).spki,
        actor,
      });
      spki = key.publicSpki;
      envelope = key.envelope;
      keyId = key.keyId;
      if (recorded && recorded.spki_sha256 !== hash('sha256', spki, 'hex'))
        throw new Error(
          `KMC returned another key for order ${order.id} than the one certified (${recorded.serial}); refusing to deliver it`,
        );
    }
    try {
      const issued = await this.ca.issueEncryption({
        signing,
        spki,
        renewsSerial: oldEncryption?.serial ?? null,
        ...(keyId ? { kmcKeyId: keyId } : {}),
        actor,
      });
      if (issued.fresh)
        await addOrderEvent(this.db, order.id, 'encryption_issued', actor, {
          serial: issued.record.serial,
          reusedKey: reuse,
        });
      return { certificate: issued.record, envelope };
    } catch (e) {
      if (e instanceof CaError) throw new RaError('invalid', e.message, e.field);
      throw e;
    }
  }

  private async markIssued(order: Order, cert: CertificateRecord, actor: string): Promise<void> {
    await writeTransaction(this.storage, (tx) => this.recordIssued(tx, order, cert, actor));
  }

  /** issuing → issued; false when the order is not issuing. */
  private async recordIssued(tx: Tx, order: Order, cert: CertificateRecord, actor: string): Promise<boolean> {
    if (!(await transitionOrder(tx, order.id, ['issuing'], 'issued', { issued_serial: cert.serial }))) return false;
    // in the same transaction: the notice is in the outbox exactly when the order says issued (a
    // crash between them would leave an issued order whose retry never enqueues it)
    await addOrderEvent(tx, order.id, 'issued', actor, {
      serial: cert.serial,
      notAfter: new Date(cert.not_after).toISOString(),
    });
    await enqueueOrderNotice(tx, 'certificate_issued', order);
    return true;
  }

  /**
   * The key assistant wrote and verified the new certificate: complete the order. The order moves
   * to installed, the certificate it replaces is revoked as superseded and the order completes, in
   * as few transactions as that takes (each one is a commit the holder waits for): with a revocation,
   * all three ride in the revocation's own transaction, with its CRL.
   */
  async markInstalled(order: Order, actor: string, known?: CertificateRecord): Promise<Order> {
    if (order.state === 'completed') return order;
    if (order.state !== 'issued' && order.state !== 'installed')
      throw new RaError('invalid_state', `order is ${order.state}; the certificate must be issued first`);
    const old = await this.renewedBy(order, known);
    const target = old ? await issueTarget(this.db, this.ca, order, old) : undefined;
    const installed = async (tx: Tx): Promise<void> => {
      if (await transitionOrder(tx, order.id, ['issued'], 'installed')) await addOrderEvent(tx, order.id, 'installed', actor);
    };
    const completed = (tx: Tx) => this.recordCompleted(tx, order, actor, old, target?.renamed);
    let done = false;
    if (this.policy.revokeSuperseded && old && target) {
      const { supersedeReason } = target;
      // a dual pair is superseded as a pair: its encryption certificate goes with the signing one
      const oldEncryption = await getEncryptionPartner(this.db, old.serial);
      const superseded = [old, oldEncryption].filter((c): c is CertificateRecord => c?.status === 'valid');
      for (const [i, c] of superseded.entries()) {
        const last = i === superseded.length - 1;
        try {
          await this.ca.revoke(c.serial, supersedeReason, actor, undefined, async (tx) => {
            await installed(tx);
            await addOrderEvent(tx, order.id, 'old_revoked', actor, { serial: c.serial, reason: supersedeReason });
            if (last) await completed(tx);
          });
          done = last;
        } catch (e) {
          if (!(e instanceof CaError && e.code === 'already_revoked')) throw e;
        }
      }
    }
    // no revocation carried them (none due, or revoked meanwhile by someone else)
    if (!done)
      await writeTransaction(this.storage, async (tx) => {
        await installed(tx);
        await completed(tx);
      });
    return this.order(order.id);
  }

  /** installed → completed, with what completion sets off; nothing when the order is not installed. */
  private async recordCompleted(
    tx: Tx,
    order: Order,
    actor: string,
    old: CertificateRecord | undefined,
    renamed: { from: string; to: string } | undefined,
  ): Promise<void> {
    if (!(await transitionOrder(tx, order.id, ['installed'], 'completed'))) return;
    await addOrderEvent(tx, order.id, 'completed', actor);
    await appendAudit(tx, [{ actor, action: 'order.completed', target: order.id, details: { issued: order.issued_serial } }]);
    // relying applications hear of the new certificate once the holder has it installed
    const issued = order.issued_serial ? await getCertificate(tx, order.issued_serial) : undefined;
    if (issued && (order.kind === 'renewal' || order.kind === 'upgrade' || order.kind === 'change'))
      await enqueueCertificateEvent(tx, CERTIFICATE_EVENT[order.kind], `order:${order.id}`, issued, {
        previousSerial: order.certificate_serial,
        orderId: order.id,
      });
    // a change of 名称 is the holder's new name from now on (the record keeps its 唯一识别号)
    if (renamed && old?.holder_id != null && (await renameHolder(tx, old.holder_id, renamed)))
      await appendAudit(tx, [
        {
          actor,
          action: 'holder.renamed',
          target: `holder:${old.holder_id}`,
          details: { ...renamed, order: order.id },
        },
      ]);
  }

  /** Jobs: expire unpaid orders; reconcile recent online orders whose notification may be lost. */
  async expireOrders(): Promise<number> {
    let n = 0;
    for (const o of await ordersToExpire(this.db, Date.now())) {
      if (await transitionOrder(this.db, o.id, ['awaiting_payment'], 'expired')) {
        await addOrderEvent(this.db, o.id, 'expired', 'system:expiry');
        n++;
      }
    }
    return n;
  }

  async reconcileRecent(maxAgeMs: number): Promise<void> {
    for (const o of await ordersAwaitingOnlinePayment(this.db, Date.now() - maxAgeMs)) await this.reconcile(o);
  }
}
