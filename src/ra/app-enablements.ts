// 应用开通: enabling the holder's certificates for a relying application (e-tax, social insurance …)
// for a term. It is an order of kind 'app' (type_code = the application's id, term_years = the
// years bought), paid like any other; once paid, the order's paid → completed transition is the
// claim that creates the enablement in the same transaction, so it happens once, by whoever sees
// the payment first (the holder's next look, the order job). A renewal of an active enablement
// starts where the current one ends.
import { randomUUID } from 'node:crypto';
import { appendAudit } from '../sa/audit.js';
import { certificateTypeForProfile } from '../sa/catalogue.js';
import { getCertificate } from '../sa/certificates.js';
import { writeTransaction, type Storage } from '../sa/database.js';
import {
  activeRelyingApps,
  endEnablements,
  enablementByOrder,
  enablementsOf,
  getRelyingApp,
  insertEnablement,
  type AppEnablement,
  type RelyingApp,
} from '../sa/app-enablements.js';
import { addOrderEvent, getOrder, transitionOrder, type Order } from '../sa/orders.js';
import { enqueueEnablementEvent } from '../notify/webhooks.js';
import { RaError } from './errors.js';
import { openOrder, unpaidDraftFields } from './order-create.js';
import type { OrderForm } from './order-form.js';
import { settleWithoutPayment } from './payment-ledger.js';

const YEAR_MS = 365 * 86_400_000;
export const MAX_APP_YEARS = 5;

export interface AppOffer {
  app: RelyingApp;
  /** the holder's active enablement, if any */
  active: AppEnablement | undefined;
}

export const acceptedTypes = (app: RelyingApp): string[] => JSON.parse(app.accepted_types) as string[];

/** True when `e` is in force at `now`. */
export const inForce = (e: AppEnablement, now = Date.now()): boolean =>
  e.state === 'active' && e.starts_at <= now && now < e.ends_at;

export class AppEnablements {
  constructor(
    readonly storage: Storage,
    readonly policy: { onlineOrderTtlMs: number; offlineOrderTtlMs: number },
  ) {}

  private get db() {
    return this.storage.db;
  }

  /** The certificate type code of a certificate (the apps say which types they accept). */
  private async typeOf(serial: string): Promise<string | undefined> {
    const cert = await getCertificate(this.db, serial);
    return cert ? (await certificateTypeForProfile(this.db, cert.profile))?.code : undefined;
  }

  /** The applications open to the certificate the holder logged in with, and what is enabled. */
  async offers(holderId: number | null, serial: string): Promise<AppOffer[]> {
    const type = await this.typeOf(serial);
    const mine = holderId === null ? [] : await enablementsOf(this.db, holderId);
    return (await activeRelyingApps(this.db))
      .filter((a) => type !== undefined && acceptedTypes(a).includes(type))
      .map((app) => ({ app, active: mine.find((e) => e.app_id === app.id && e.state === 'active' && e.ends_at > Date.now()) }));
  }

  async enable(
    holderId: number | null,
    serial: string,
    appId: string,
    years: number,
    form: Omit<OrderForm, 'termYears'>,
    actor: string,
  ): Promise<Order> {
    if (holderId === null)
      throw new RaError('not_eligible', 'this certificate has no holder record; a service point registers the holder first');
    if (!Number.isInteger(years) || years < 1 || years > MAX_APP_YEARS)
      throw new RaError('invalid', `years must be a whole number from 1 to ${MAX_APP_YEARS}`, 'years');
    const offer = (await this.offers(holderId, serial)).find((o) => o.app.id === appId);
    if (!offer)
      throw new RaError('not_eligible', `application ${JSON.stringify(appId)} is not open to this certificate`, 'appId');
    const app = offer.app;
    const cert = await getCertificate(this.db, serial);
    const now = Date.now();
    const amount = app.fee_per_year_fen * years;
    const order = await openOrder(
      this.storage,
      {
        kind: 'app',
        holder_id: holderId,
        certificate_serial: serial,
        type_code: app.id,
        type_name: app.name,
        type_name_en: app.name_en,
        organization: cert?.subject ?? '',
        term_years: years,
        amount_fen: amount,
        ...unpaidDraftFields(form, this.policy, now),
      },
      {
        prefix: 'A',
        actor,
        email: form.email,
        details: { app: app.id, years },
        // a fee-free application needs no payment: paid at once, in the same transaction
        also: async (tx, o) => {
          if (amount === 0) await settleWithoutPayment(tx, o, actor);
        },
      },
    );
    await this.activateIfPaid(order.id, actor);
    return (await getOrder(this.db, order.id))!;
  }

  /**
   * Creates the enablement of a paid 应用开通 order, once: the paid → completed transition is the
   * claim, in the same transaction as the insert. A no-op for any other state.
   */
  async activateIfPaid(orderId: string, actor: string): Promise<AppEnablement | undefined> {
    const order = await getOrder(this.db, orderId);
    if (!order || order.kind !== 'app') return undefined;
    if (order.state !== 'paid') return enablementByOrder(this.db, orderId);
    await writeTransaction(this.storage, async (tx) => {
      if (!(await transitionOrder(tx, orderId, ['paid'], 'completed'))) return;
      const now = Date.now();
      // a renewal of an enablement in force starts where it ends
      const current = (await enablementsOf(tx, order.holder_id!, order.type_code)).find((e) => inForce(e, now));
      const starts = current ? current.ends_at : now;
      const row: AppEnablement = {
        id: randomUUID(),
        app_id: order.type_code,
        holder_id: order.holder_id!,
        order_id: orderId,
        starts_at: starts,
        ends_at: starts + order.term_years * YEAR_MS,
        state: 'active',
        created_at: now,
        ended_at: null,
      };
      await insertEnablement(tx, row);
      await enqueueEnablementEvent(tx, 'enablement.started', row);
      await addOrderEvent(tx, orderId, 'app.enabled', actor, {
        app: order.type_code,
        endsAt: new Date(row.ends_at).toISOString(),
      });
      await addOrderEvent(tx, orderId, 'completed', actor);
      await appendAudit(tx, [
        {
          actor,
          action: 'app.enabled',
          target: `app:${order.type_code}`,
          details: { order: orderId, holder: order.holder_id, endsAt: row.ends_at },
        },
      ]);
    });
    return enablementByOrder(this.db, orderId);
  }

  /** The order job: every paid 应用开通 order still without its enablement. */
  async activateDue(actor = 'system:app-enablement'): Promise<number> {
    const paid = await this.db.selectFrom('orders').select('id').where('kind', '=', 'app').where('state', '=', 'paid').execute();
    let n = 0;
    for (const { id } of paid) if (await this.activateIfPaid(id, actor)) n++;
    return n;
  }

  /** The holder ends an enablement (no refund). */
  async end(holderId: number | null, appId: string, actor: string): Promise<number> {
    if (holderId === null) throw new RaError('not_found', `no enablement of ${appId}`);
    const app = await getRelyingApp(this.db, appId);
    if (!app) throw new RaError('not_found', `no application ${appId}`, 'appId');
    let n = 0;
    await writeTransaction(this.storage, async (tx) => {
      const now = Date.now();
      const ending = (await enablementsOf(tx, holderId, appId)).filter((e) => e.state === 'active');
      n = await endEnablements(tx, holderId, appId, now);
      for (const e of ending) await enqueueEnablementEvent(tx, 'enablement.ended', { ...e, ended_at: Math.min(now, e.ends_at) });
      if (n > 0) await appendAudit(tx, [{ actor, action: 'app.ended', target: `app:${appId}`, details: { holder: holderId } }]);
    });
    if (n === 0) throw new RaError('not_found', `${app.name} is not enabled for this holder`, 'appId');
    return n;
  }
}
