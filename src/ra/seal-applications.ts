// Seal applications (印章申请): the holder picks a seal type, names the seal, gives a picture
// (generated or uploaded) and the supporting document; that is an order of kind 'seal' paid like a
// renewal, and a reviewer approves or rejects it. The seal is made only when the application is
// approved AND the order is paid, by whoever sees both first (approval, the holder's next visit, the
// order job) — and once: the order's paid → issuing transition is the claim, and the seal maker is
// given the order id, so a retry after a crash returns the same seal rather than a second one.
import { parseCertificate } from '../pki/certificate.js';
import { appendAudit } from '../sa/audit.js';
import { enabledPaymentMethods } from '../sa/catalogue.js';
import { getCertificate, type CertificateRecord } from '../sa/certificates.js';
import { writeTransaction, type Storage } from '../sa/database.js';
import { addOrderEvent, getOrder, transitionOrder, type Order } from '../sa/orders.js';
import {
  decideSealApplication,
  getSealApplication,
  getSealType,
  insertSealApplication,
  listSealTypes,
  recordSealMade,
  sealApplicationsToMake,
  type SealApplication,
  type SealType,
} from '../sa/seal-applications.js';
import { checkSealPng, renderSealPicture, type SealPicture } from '../seal/seal-picture.js';
import { checkDocument, storeDocument, type DocumentUpload } from './documents.js';
import { enqueueOrderNotice } from '../notify/order-notices.js';
import { RaError } from './errors.js';
import { openOrder } from './order-create.js';
import type { OrderForm } from './order-form.js';

/** The seal maker (src/seal/seal-service.ts makeSeal): one seal per orderId, however often asked. */
export type MakeSeal = (input: {
  holderSigningCertDer: Buffer;
  type: string;
  name: string;
  picture: SealPicture;
  days?: number;
  orderId?: string;
}) => Promise<{ esId: string }>;

export type SealPictureInput = { source: 'generated' } | { source: 'uploaded'; png: Buffer };

export interface SealApplicationInput {
  typeCode: string;
  name: string;
  picture: SealPictureInput;
  document: DocumentUpload;
  /** payment and invoice mailing, as on the renewal order page (termYears is not asked: the type's validity applies) */
  form: Omit<OrderForm, 'termYears'>;
}

export const MAX_SEAL_NAME = 24;

export class SealApplications {
  constructor(
    readonly storage: Storage,
    readonly opts: {
      onlineOrderTtlMs: number;
      offlineOrderTtlMs: number;
      makeSeal?: MakeSeal;
      log?: (msg: string, err?: unknown) => void;
    },
  ) {}

  private get db() {
    return this.storage.db;
  }

  async types(): Promise<SealType[]> {
    return listSealTypes(this.db, { activeOnly: true });
  }

  paymentMethods() {
    return enabledPaymentMethods(this.db);
  }

  private async activeType(code: string): Promise<SealType> {
    const type = typeof code === 'string' ? await getSealType(this.db, code) : undefined;
    if (!type || type.active !== 1)
      throw new RaError('invalid', `typeCode: no seal type ${JSON.stringify(code)} is offered`, 'typeCode');
    return type;
  }

  /** The seal name, checked: a 单位公章's name is the organisation (O) on the holder's certificate. */
  private checkName(type: SealType, name: unknown, certificate: CertificateRecord): string {
    if (typeof name !== 'string' || !name.trim()) throw new RaError('invalid', 'name: the seal name is required', 'name');
    const text = name.normalize('NFC').trim();
    if ([...text].length > MAX_SEAL_NAME)
      throw new RaError('invalid', `name: a seal name is at most ${MAX_SEAL_NAME} characters`, 'name');
    if (type.name_is_organization === 1) {
      const org = parseCertificate(certificate.der).subject.find((a) => a.type === 'O')?.value;
      if (!org)
        throw new RaError(
          'invalid',
          `name: a ${type.name} needs an organisation certificate; this one names no organisation`,
          'name',
        );
      if (text !== org.normalize('NFC').trim())
        throw new RaError(
          'invalid',
          `name: a ${type.name}'s name must be the organisation on your certificate, “${org}”`,
          'name',
        );
    }
    return text;
  }

  /** The generated picture for a type and name, as the holder sees it before applying. */
  async preview(certificate: CertificateRecord, typeCode: string, name: unknown): Promise<SealPicture> {
    const type = await this.activeType(typeCode);
    return renderSealPicture({ name: this.checkName(type, name, certificate), typeLabel: type.name });
  }

  async apply(certificate: CertificateRecord, input: SealApplicationInput, actor: string): Promise<Order> {
    if (certificate.signing_serial !== null)
      throw new RaError('not_eligible', 'a seal is bound to a signing certificate; log in with the signing certificate');
    if (certificate.status !== 'valid' || certificate.not_after <= Date.now())
      throw new RaError('not_eligible', 'a seal needs a valid certificate: renew it first (更新证书)');
    const type = await this.activeType(input.typeCode);
    const name = this.checkName(type, input.name, certificate);
    let picture: SealPicture;
    if (input.picture.source === 'generated') picture = renderSealPicture({ name, typeLabel: type.name });
    else {
      checkSealPng(input.picture.png, 'picture');
      // an uploaded round seal is shown at the size the generated one is
      picture = { png: input.picture.png, widthMm: 42, heightMm: 42 };
    }
    checkDocument(input.document, 'document');
    if (!(await this.paymentMethods()).includes(input.form.paymentMethod))
      throw new RaError('invalid', `支付方式 ${input.form.paymentMethod} is not available`, 'paymentMethod');
    const now = Date.now();
    const ttl = input.form.paymentMethod === 'online' ? this.opts.onlineOrderTtlMs : this.opts.offlineOrderTtlMs;
    const organization = parseCertificate(certificate.der).subject.find((a) => a.type === 'O')?.value ?? name;
    return openOrder(
      this.storage,
      {
        kind: 'seal',
        holder_id: certificate.holder_id,
        certificate_serial: certificate.serial,
        type_code: type.code,
        type_name: type.name,
        type_name_en: type.name_en,
        organization,
        term_years: Math.min(3, Math.max(1, Math.round(type.validity_days / 365))),
        amount_fen: type.price_fen,
        payment_method: input.form.paymentMethod,
        recipient: input.form.recipient,
        phone: input.form.phone,
        address: input.form.address,
        postcode: input.form.postcode,
        state: 'awaiting_payment',
        created_at: now,
        updated_at: now,
        expires_at: now + ttl,
        paid_at: null,
        issued_serial: null,
      },
      {
        prefix: 'S',
        actor,
        email: input.form.email,
        details: { sealType: type.code, sealName: name },
        also: async (tx, order) => {
          const doc = await storeDocument(tx, {
            holderId: certificate.holder_id,
            purpose: `seal:${order.id}`,
            upload: input.document,
            field: 'document',
            actor,
          });
          await insertSealApplication(tx, {
            order_id: order.id,
            holder_id: certificate.holder_id,
            certificate_serial: certificate.serial,
            type_code: type.code,
            type_name: type.name,
            seal_name: name,
            picture_png: picture.png,
            picture_width_mm: picture.widthMm,
            picture_height_mm: picture.heightMm,
            picture_source: input.picture.source,
            validity_days: type.validity_days,
            document_id: doc.id,
            review_state: 'pending',
            reviewer: null,
            reviewed_at: null,
            reason: null,
            es_id: null,
            made_at: null,
            created_at: now,
          });
        },
      },
    );
  }

  async application(orderId: string): Promise<SealApplication> {
    const a = await getSealApplication(this.db, orderId);
    if (!a) throw new RaError('not_found', `no seal application ${orderId}`);
    return a;
  }

  /**
   * The reviewer's decision (印章审核). A rejection needs the reason the holder will read; an
   * unpaid order of a rejected application is cancelled (a paid one stays paid, for a refund).
   */
  async decide(orderId: string, decision: { approve: boolean; reason?: unknown }, reviewer: string): Promise<SealApplication> {
    const reason = typeof decision.reason === 'string' ? decision.reason.trim() : '';
    if (!decision.approve && !reason)
      throw new RaError('invalid', 'reason: a rejection needs the reason the holder will see', 'reason');
    if (reason.length > 500) throw new RaError('invalid', 'reason: at most 500 characters', 'reason');
    const app = await this.application(orderId);
    await writeTransaction(this.storage, async (tx) => {
      const state = decision.approve ? 'approved' : 'rejected';
      if (!(await decideSealApplication(tx, orderId, { state, reviewer, reason: reason || null, at: Date.now() })))
        throw new RaError('invalid_state', `the application was already ${app.review_state}`);
      await addOrderEvent(tx, orderId, `seal.${state}`, reviewer, reason ? { reason } : {});
      if (!decision.approve && (await transitionOrder(tx, orderId, ['awaiting_payment'], 'cancelled')))
        await addOrderEvent(tx, orderId, 'cancelled', reviewer, { reason: 'seal application rejected' });
      await appendAudit(tx, [{ actor: reviewer, action: `seal.${state}`, target: orderId, details: reason ? { reason } : {} }]);
      const order = await getOrder(tx, orderId);
      if (order) await enqueueOrderNotice(tx, `seal_${state}`, order, reason ? { reason } : {});
    });
    // the decision stands even when making fails now: the order job retries the making
    if (decision.approve)
      await this.makeIfReady(orderId, reviewer).catch((e: unknown) =>
        this.opts.log?.('making the seal failed; the order job retries', e),
      );
    return this.application(orderId);
  }

  /**
   * Makes the seal when the application is approved and the order paid; a no-op otherwise, and
   * when another caller holds the claim. `recover` (the order job) also finishes an order left in
   * 'issuing' by a crash: the maker returns the seal it made for that order, if it made one.
   */
  async makeIfReady(orderId: string, actor: string, opts: { recover?: boolean } = {}): Promise<SealApplication | undefined> {
    const app = await getSealApplication(this.db, orderId);
    const order = await getOrder(this.db, orderId);
    if (!app || !order || app.review_state !== 'approved' || app.es_id) return app;
    if (!this.opts.makeSeal) return app; // this instance cannot make seals (no seal maker configured)
    // the claim and its event commit together: an order is never 'issuing' without its history saying so
    const claimed = await writeTransaction(this.storage, async (tx) => {
      if (!(await transitionOrder(tx, orderId, ['paid'], 'issuing'))) return false;
      await addOrderEvent(tx, orderId, 'issuing', actor);
      return true;
    });
    if (!claimed && !(opts.recover && order.state === 'issuing')) return app;
    const cert = await getCertificate(this.db, app.certificate_serial);
    if (!cert) throw new RaError('not_found', `the certificate ${app.certificate_serial} the seal binds to is not on record`);
    const made = await this.opts.makeSeal({
      holderSigningCertDer: Buffer.from(cert.der),
      type: app.type_name,
      name: app.seal_name,
      picture: { png: Buffer.from(app.picture_png), widthMm: app.picture_width_mm, heightMm: app.picture_height_mm },
      days: app.validity_days,
      orderId,
    });
    await writeTransaction(this.storage, async (tx) => {
      if (await recordSealMade(tx, orderId, made.esId, Date.now())) {
        await addOrderEvent(tx, orderId, 'seal.made', actor, { esId: made.esId });
        await appendAudit(tx, [{ actor, action: 'seal.made', target: orderId, details: { esId: made.esId } }]);
      }
      if (await transitionOrder(tx, orderId, ['issuing'], 'issued'))
        await addOrderEvent(tx, orderId, 'issued', actor, { esId: made.esId });
    });
    return getSealApplication(this.db, orderId);
  }

  /** The assistant wrote the seal to the key: the order is complete. */
  async markWritten(orderId: string, actor: string): Promise<void> {
    const order = await getOrder(this.db, orderId);
    if (!order || order.kind !== 'seal') throw new RaError('not_found', `no seal order ${orderId}`);
    if (order.state === 'completed') return;
    if (order.state !== 'issued' && order.state !== 'installed')
      throw new RaError('invalid_state', `order is ${order.state}; the seal must be made first`);
    await writeTransaction(this.storage, async (tx) => {
      if (await transitionOrder(tx, orderId, ['issued'], 'installed')) await addOrderEvent(tx, orderId, 'installed', actor);
      if (await transitionOrder(tx, orderId, ['installed'], 'completed')) {
        await addOrderEvent(tx, orderId, 'completed', actor);
        await appendAudit(tx, [
          {
            actor,
            action: 'order.completed',
            target: orderId,
            details: { esId: (await getSealApplication(tx, orderId))?.es_id },
          },
        ]);
      }
    });
  }

  /** The order job: every approved, paid application still without its seal. */
  async makeDue(actor = 'system:seal-maker'): Promise<number> {
    let n = 0;
    for (const id of await sealApplicationsToMake(this.db))
      if ((await this.makeIfReady(id, actor, { recover: true }))?.es_id) n++;
    return n;
  }
}
