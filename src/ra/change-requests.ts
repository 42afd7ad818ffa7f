// 变更证书: the holder asks to change what the certificate says (单位名称, 所在地, a person's name,
// 法定代表人) with a reason and supporting documents; that is an order of kind 'change' (prefix C),
// and a reviewer approves or rejects it. The order reaches 'paid' only once approved — at approval
// when the catalogue charges nothing (the default), else when the holder then pays (the ledger takes
// no money for an unapproved change, nor from its approver: payment-ledger.ts changeRefusal). From
// 'paid' on it is the renewal spine: RenewalService.issue issues what order-targets.ts says (the
// approved subject, the old notAfter), the assistant installs it, markInstalled revokes the old one.
import { parseCertificate } from '../pki/certificate.js';
import { nameToString } from '../pki/name.js';
import type { CertificateAuthority } from '../ca/authority.js';
import { appendAudit } from '../sa/audit.js';
import { certificateTypeForProfile, changePriceFen, enabledPaymentMethods } from '../sa/catalogue.js';
import type { CertificateRecord } from '../sa/certificates.js';
import {
  getChangeRequestRow,
  getChangeReview,
  insertChangeRequest,
  insertChangeReview,
  listChangeRequests,
  type ChangeRequestRow,
  type ChangeReviewState,
} from '../sa/change-requests.js';
import { writeTransaction, type Storage, type Tx } from '../sa/database.js';
import { addOrderEvent, getOrder, openOrderForCertificate, setOrderExpiry, transitionOrder, type Order } from '../sa/orders.js';
import { paymentForOrder } from '../sa/payments.js';
import type { HolderKind, PaymentMethod } from '../sa/schema.js';
import { uniqueIdOf } from './certificate-summary.js';
import { currentValues, fieldsFor, planChange, CHANGE_FIELDS, type ChangeField } from './change-subject.js';
import { checkDocument, storeDocument, type DocumentUpload } from './documents.js';
import { enqueueOrderNotice } from '../notify/order-notices.js';
import { RaError } from './errors.js';
import { openOrder } from './order-create.js';
import { parseServiceForm, typedText } from './order-form.js';
import { OPEN_STATES } from './order-states.js';
import { settleWithoutPayment } from './payment-ledger.js';

/** 营业执照 and 变更通知书, and room for one more page */
export const MAX_CHANGE_DOCUMENTS = 3;
export const MAX_CHANGE_REASON = 500;

export interface ChangeInput {
  /** the new values (left out or equal to the current one: unchanged), and the 唯一识别号 if the page sends it */
  asked: Partial<Record<ChangeField | 'uniqueId', unknown>>;
  reason: unknown;
  documents: DocumentUpload[];
  /** the order page: contact always; invoice mailing and payment method when a change is charged */
  form: unknown;
}

export interface ChangeTerms {
  certificate: CertificateRecord;
  kind: HolderKind;
  fields: ChangeField[];
  current: Record<ChangeField, string | null>;
  uniqueId: string | null;
  priceFen: number;
  paymentMethods: PaymentMethod[];
  /** the order that blocks a change now (a renewal, upgrade or change of this certificate) */
  openOrder: Order | undefined;
}

const KIND_ZH: Record<string, string> = { renewal: '更新证书', upgrade: '升级证书', change: '变更证书' };

const orderOpen = (o: Order): RaError =>
  new RaError(
    'order_open',
    `order ${o.id} (${KIND_ZH[o.kind] ?? o.kind}) for this certificate is still open (${o.state}): ` +
      'finish or cancel it before asking for a change',
    undefined,
    { orderId: o.id, orderKind: o.kind },
  );

export class ChangeRequests {
  constructor(
    readonly storage: Storage,
    readonly ca: CertificateAuthority,
    readonly opts: {
      onlineOrderTtlMs: number;
      offlineOrderTtlMs: number;
      /** how long a change waits for its review (and a ¥0 one for nothing else) before its order expires */
      reviewTtlMs: number;
    },
  ) {}

  private get db() {
    return this.storage.db;
  }

  /** Who may change what on this certificate, at what price, and what blocks it now. */
  async terms(certificate: CertificateRecord): Promise<ChangeTerms> {
    const kind = this.ca.profiles.get(certificate.profile)?.holderKind ?? 'org';
    const subject = parseCertificate(certificate.der).subject;
    return {
      certificate,
      kind,
      fields: fieldsFor(kind),
      current: currentValues(subject),
      uniqueId: uniqueIdOf(certificate.der, this.ca.config.uniqueIdOid),
      priceFen: await changePriceFen(this.db),
      paymentMethods: await enabledPaymentMethods(this.db),
      openOrder: await openOrderForCertificate(this.db, certificate.serial, OPEN_STATES),
    };
  }

  async submit(certificate: CertificateRecord, input: ChangeInput, actor: string): Promise<Order> {
    if (certificate.signing_serial !== null)
      throw new RaError('not_eligible', 'a change is asked with the signing certificate; log in with the signing certificate');
    if (certificate.status !== 'valid' || certificate.not_after <= Date.now())
      throw new RaError('not_eligible', 'only a valid certificate can be changed: renew it first (更新证书)');
    const terms = await this.terms(certificate);
    if (terms.openOrder) throw orderOpen(terms.openOrder);
    const type = await certificateTypeForProfile(this.db, certificate.profile);
    if (!type)
      throw new RaError(
        'not_eligible',
        `certificate type for profile ${certificate.profile} is not in the catalogue; a service point handles it`,
      );
    const subject = parseCertificate(certificate.der).subject;
    const plan = planChange({ kind: terms.kind, subject, uniqueId: terms.uniqueId, asked: input.asked });
    const profile = this.ca.profiles.get(certificate.profile);
    for (const c of plan.changes)
      if (c.attribute && profile && !profile.subject.allowed.includes(c.attribute))
        throw new RaError('not_eligible', `${CHANGE_FIELDS[c.field].label} is not part of a ${profile.name}`, c.field);
    const reasonCheck = typedText('变更原因').safeParse(typeof input.reason === 'string' ? input.reason : '');
    if (!reasonCheck.success) throw new RaError('invalid', reasonCheck.error.issues[0]!.message, 'reason');
    const reason = reasonCheck.data;
    if ([...reason].length > MAX_CHANGE_REASON)
      throw new RaError('invalid', `变更原因 is at most ${MAX_CHANGE_REASON} characters`, 'reason');
    if (input.documents.length === 0)
      throw new RaError(
        'invalid',
        'documents: upload the 营业执照 or 变更通知书 that shows the change (PDF, JPG or PNG)',
        'documents',
      );
    if (input.documents.length > MAX_CHANGE_DOCUMENTS)
      throw new RaError('invalid', `documents: at most ${MAX_CHANGE_DOCUMENTS} files`, 'documents');
    input.documents.forEach((d, i) => checkDocument(d, `documents[${i}]`));
    const charged = terms.priceFen > 0;
    const form = parseServiceForm(input.form, { charged });
    if (charged && !terms.paymentMethods.includes(form.paymentMethod!))
      throw new RaError('invalid', `支付方式 ${form.paymentMethod} is not available`, 'paymentMethod');
    const now = Date.now();
    const serial = certificate.serial;
    return openOrder(
      this.storage,
      {
        kind: 'change',
        holder_id: certificate.holder_id,
        certificate_serial: serial,
        type_code: type.code,
        type_name: type.name,
        type_name_en: type.name_en,
        organization: terms.current.organization ?? terms.current.personName ?? certificate.subject,
        // a change does not extend the term
        term_years: 0,
        amount_fen: terms.priceFen,
        payment_method: form.paymentMethod ?? 'online',
        recipient: form.recipient,
        phone: form.phone,
        address: form.address ?? '',
        postcode: form.postcode ?? '',
        state: 'awaiting_payment',
        created_at: now,
        updated_at: now,
        // the review comes first; a charged change's payment window opens at its approval
        expires_at: now + this.opts.reviewTtlMs,
        paid_at: null,
        issued_serial: null,
      },
      {
        prefix: 'C',
        actor,
        email: form.email,
        details: { changes: plan.changes.map((c) => c.field) },
        // re-checked under the write lock: a renewal opened meanwhile in another tab wins, and says so
        guard: async (tx) => {
          const open = await openOrderForCertificate(tx, serial, OPEN_STATES);
          if (open) throw orderOpen(open);
        },
        also: async (tx, order) => {
          const ids: string[] = [];
          for (const [i, upload] of input.documents.entries())
            ids.push(
              (
                await storeDocument(tx, {
                  holderId: certificate.holder_id,
                  purpose: `change:${order.id}`,
                  upload,
                  field: `documents[${i}]`,
                  actor,
                })
              ).id,
            );
          await insertChangeRequest(tx, {
            order_id: order.id,
            holder_id: certificate.holder_id,
            certificate_serial: serial,
            holder_kind: terms.kind,
            old_subject: JSON.stringify(subject),
            new_subject: JSON.stringify(plan.newSubject),
            changes: JSON.stringify(plan.changes),
            legal_representative: plan.legalRepresentative,
            reason,
            document_ids: JSON.stringify(ids),
            created_at: now,
            created_by: actor,
          });
        },
      },
    );
  }

  async request(orderId: string): Promise<ChangeRequestRow> {
    const r = await getChangeRequestRow(this.db, orderId);
    if (!r) throw new RaError('not_found', `no change request ${orderId}`);
    return r;
  }

  list(filter: { holderId?: number | null; certificateSerials?: string[]; reviewState?: ChangeReviewState[] }) {
    return listChangeRequests(this.db, filter);
  }

  /**
   * The reviewer's decision (变更审核). A rejection needs the reason the holder will read and cancels
   * the unpaid order; an approval of a ¥0 change makes its order paid at once, of a charged one
   * opens its payment window. The reviewer must not be who recorded its payment (four eyes).
   */
  async decide(orderId: string, decision: { approve: boolean; reason?: unknown }, reviewer: string): Promise<ChangeRequestRow> {
    const reason = typeof decision.reason === 'string' ? decision.reason.normalize('NFC').trim() : '';
    if (!decision.approve && !reason)
      throw new RaError('invalid', 'reason: a rejection needs the reason the holder will see', 'reason');
    if ([...reason].length > MAX_CHANGE_REASON)
      throw new RaError('invalid', `reason: at most ${MAX_CHANGE_REASON} characters`, 'reason');
    await this.request(orderId);
    await writeTransaction(this.storage, async (tx) => {
      const order = await getOrder(tx, orderId);
      if (!order) throw new RaError('not_found', `no order ${orderId}`);
      const decided = await getChangeReview(tx, orderId);
      if (decided) throw new RaError('invalid_state', `the change was already ${decided.decision}`);
      const payment = await paymentForOrder(tx, orderId);
      if (decision.approve && payment?.recorded_by === reviewer)
        throw new RaError(
          'four_eyes',
          `${reviewer} recorded the payment of change ${orderId}: another reviewer must approve it (four eyes)`,
          'order',
        );
      if (decision.approve && order.state !== 'awaiting_payment')
        throw new RaError('invalid_state', `order ${orderId} is ${order.state}: only an open change can be approved`);
      const state = decision.approve ? 'approved' : 'rejected';
      const at = Date.now();
      if (
        !(await insertChangeReview(tx, { order_id: orderId, decision: state, reason: reason || null, reviewer, decided_at: at }))
      )
        throw new RaError('invalid_state', 'the change was already decided');
      await addOrderEvent(tx, orderId, `change.${state}`, reviewer, reason ? { reason } : {});
      await appendAudit(tx, [{ actor: reviewer, action: `change.${state}`, target: orderId, details: reason ? { reason } : {} }]);
      await enqueueOrderNotice(tx, `change_${state}`, order, reason ? { reason } : {});
      if (decision.approve) await this.afterApproval(tx, order, reviewer, at);
      else if (await transitionOrder(tx, orderId, ['awaiting_payment'], 'cancelled'))
        await addOrderEvent(tx, orderId, 'cancelled', reviewer, { reason: 'change rejected' });
    });
    return this.request(orderId);
  }

  private async afterApproval(tx: Tx, order: Order, reviewer: string, at: number): Promise<void> {
    if (order.amount_fen === 0) {
      if (!(await settleWithoutPayment(tx, order, reviewer)))
        throw new RaError('invalid_state', `order ${order.id} changed state while it was approved`);
      return;
    }
    const ttl = order.payment_method === 'online' ? this.opts.onlineOrderTtlMs : this.opts.offlineOrderTtlMs;
    await setOrderExpiry(tx, order.id, at + ttl);
  }
}

/** The old and new subject of a request, RFC 4514, for display. */
export function subjectsOf(r: Pick<ChangeRequestRow, 'old_subject' | 'new_subject'>): { old: string; new: string } {
  return { old: nameToString(JSON.parse(r.old_subject)), new: nameToString(JSON.parse(r.new_subject)) };
}
