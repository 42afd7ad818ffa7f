// Catalogue and settings (admin): certificate types (证书种类) with their profile, renewal window,
// online renewal and a price per term; the enabled payment methods; the remittance instructions;
// who issues invoices. Orders copy price and type name when they are created, so a change applies
// to new orders only. Every change is audited with its before and after.
import { reminderDays } from '../notify/reminders.js';
import { appendAudit } from '../sa/audit.js';
import { changePriceFen, enabledPaymentMethods, getSetting, remittanceInfo, type RemittanceInfo } from '../sa/catalogue.js';
import { writeTransaction, type Tx } from '../sa/database.js';
import { invoiceIssuer, type InvoiceIssuer } from '../sa/invoices.js';
import type { PaymentMethod } from '../sa/schema.js';
import type { Runtime } from '../runtime.js';
import { getSealType, listSealTypes, upsertSealType } from '../sa/seal-applications.js';
import { sealTypeView } from '../shared/seal-views.js';
import { allUpgradePaths, saveUpgradePath } from '../sa/upgrade-paths.js';
import type { StaffContext } from './accounts.js';
import { conflict, invalid } from './errors.js';

export interface TypeInput {
  code: string;
  name: string;
  nameEn: string;
  profile: string;
  renewBeforeDays: number;
  renewAfterDays: number;
  onlineRenewal: boolean;
  /** refund the unused period when the holder revokes (default: no refund) */
  refundUnused?: boolean;
  /** term in years (1, 2, 3) → price in fen; a term left out is not offered */
  prices: Partial<Record<'1' | '2' | '3', number>>;
}

export interface SealTypeInput {
  code: string;
  name: string;
  nameEn: string;
  priceFen: number;
  validityDays: number;
  nameIsOrganization?: boolean;
  active?: boolean;
}

/** 升级证书: a path from one certificate type to another (new orders only; open orders keep what they were sold as). */
export interface UpgradePathInput {
  fromType: string;
  toType: string;
  priceFen: number;
  termYears: number;
  carryOver?: boolean;
  newKey?: boolean;
  active?: boolean;
}

const METHODS: PaymentMethod[] = ['online', 'postal', 'bank'];

const int = (v: unknown, field: string, min: number, max: number): number => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
    throw invalid(
      { en: `${field} must be a whole number from ${min} to ${max}`, zh: `${field} 须为 ${min} 到 ${max} 之间的整数` },
      field,
    );
  return v;
};
const text = (v: unknown, field: string, max: number): string => {
  if (typeof v !== 'string' || !v.trim() || v.trim().length > max)
    throw invalid(
      { en: `${field} is required (at most ${max} characters)`, zh: `${field} 为必填项（最多 ${max} 个字符）` },
      field,
    );
  return v.trim();
};

export class StaffCatalogue {
  constructor(readonly rt: Runtime) {}

  private get db() {
    return this.rt.storage.db;
  }

  async get() {
    const types = await this.db.selectFrom('certificate_types').selectAll().orderBy('code').execute();
    const prices = await this.db.selectFrom('prices').selectAll().orderBy('type_code').orderBy('term_years').execute();
    return {
      types: types.map((t) => ({
        code: t.code,
        name: t.name,
        nameEn: t.name_en,
        profile: t.profile,
        renewBeforeDays: t.renew_before_days,
        renewAfterDays: t.renew_after_days,
        onlineRenewal: t.online_renewal === 1,
        refundUnused: t.refund_unused === 1,
        updatedAt: new Date(t.updated_at).toISOString(),
        prices: Object.fromEntries(prices.filter((p) => p.type_code === t.code).map((p) => [String(p.term_years), p.price_fen])),
      })),
      profiles: [...this.rt.ca.profiles.values()].map((p) => ({ id: p.id, name: p.name })),
      paymentMethods: await enabledPaymentMethods(this.db),
      remittance: (await remittanceInfo(this.db)) ?? null,
      invoiceIssuer: await invoiceIssuer(this.db),
      sealTypes: (await listSealTypes(this.db)).map(sealTypeView),
      upgradePaths: (await allUpgradePaths(this.db)).map((p) => ({
        fromType: p.from_type,
        toType: p.to_type,
        priceFen: p.price_fen,
        termYears: p.term_years,
        carryOver: p.carry_over === 1,
        newKey: p.new_key === 1,
        active: p.active === 1,
        updatedAt: new Date(p.updated_at).toISOString(),
      })),
      changePriceFen: await changePriceFen(this.db),
    };
  }

  /** Creates or changes an upgrade path; a change of algorithm always needs a new key. */
  async saveUpgradePath(ctx: StaffContext, input: UpgradePathInput): Promise<void> {
    const fromType = text(input.fromType, 'fromType', 40);
    const toType = text(input.toType, 'toType', 40);
    if (fromType === toType)
      throw invalid({ en: 'toType: an upgrade goes to another type', zh: '升级目标须为另一证书类型' }, 'toType');
    const types = await this.db.selectFrom('certificate_types').selectAll().where('code', 'in', [fromType, toType]).execute();
    const from = types.find((t) => t.code === fromType);
    const to = types.find((t) => t.code === toType);
    if (!from) throw invalid({ en: `fromType: no certificate type ${fromType}`, zh: `没有证书类型 ${fromType}` }, 'fromType');
    if (!to) throw invalid({ en: `toType: no certificate type ${toType}`, zh: `没有证书类型 ${toType}` }, 'toType');
    const fromKeys = this.rt.ca.profiles.get(from.profile)?.keyTypes ?? [];
    const toKeys = this.rt.ca.profiles.get(to.profile)?.keyTypes ?? [];
    const sameAlgorithm =
      toKeys.some((k) => fromKeys.includes(k)) && this.rt.ca.profiles.get(to.profile)?.encryptionProfile === undefined;
    if (input.newKey === false && !sameAlgorithm)
      throw invalid(
        {
          en: 'newKey: a change of algorithm (or to a dual pair) always needs a new key',
          zh: '更换算法（或升级为双证书）必须生成新密钥',
        },
        'newKey',
      );
    const row = {
      from_type: fromType,
      to_type: toType,
      price_fen: int(input.priceFen, 'priceFen', 0, 100_000_000),
      term_years: int(input.termYears, 'termYears', 1, 10),
      carry_over: input.carryOver === false ? 0 : 1,
      new_key: input.newKey === false ? 0 : 1,
      active: input.active === false ? 0 : 1,
    };
    await writeTransaction(this.rt.storage, async (tx) => {
      const before = await tx
        .selectFrom('upgrade_paths')
        .selectAll()
        .where('from_type', '=', fromType)
        .where('to_type', '=', toType)
        .executeTakeFirst();
      await saveUpgradePath(tx, row);
      await appendAudit(tx, [
        {
          actor: ctx.actor,
          action: before ? 'catalogue.upgrade_path_updated' : 'catalogue.upgrade_path_created',
          target: `upgrade:${fromType}>${toType}`,
          details: { before: before ?? null, after: row },
        },
      ]);
    });
  }

  /** The days before expiry at which reminders are mailed (each once per certificate), e.g. [90, 60, 30, 7, 3]. */
  async setReminderDays(ctx: StaffContext, days: unknown): Promise<number[]> {
    if (!Array.isArray(days) || days.length > 20 || !days.every((d) => Number.isInteger(d) && d >= 1 && d <= 3650))
      throw invalid(
        {
          en: 'reminderDays must be a list of at most 20 whole numbers of days from 1 to 3650',
          zh: '提醒天数须为 1 到 3650 之间的整数列表（最多 20 个）',
        },
        'reminderDays',
      );
    const list = [...new Set(days as number[])].sort((a, b) => b - a);
    await this.setSetting(ctx, 'reminder_days', list, await reminderDays(this.db));
    return list;
  }

  /** What a change of certificate details (变更证书) costs from now on; 0: no payment step. Open orders keep their price. */
  async setChangePrice(ctx: StaffContext, priceFen: unknown): Promise<number> {
    const fen = int(priceFen, 'priceFen', 0, 100_000_000);
    await this.setSetting(ctx, 'change_price_fen', fen, await changePriceFen(this.db));
    return fen;
  }

  /** Creates or changes a seal type (印章种类); applications copy name and price, so it applies to new ones. */
  async saveSealType(ctx: StaffContext, input: SealTypeInput): Promise<void> {
    const code = text(input.code, 'code', 40);
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(code))
      throw invalid({ en: 'code: lowercase letters, digits, _ and -', zh: '代码只能包含小写字母、数字、_ 和 -' }, 'code');
    const row = {
      code,
      name: text(input.name, 'name', 20),
      name_en: text(input.nameEn, 'nameEn', 80),
      price_fen: int(input.priceFen, 'priceFen', 1, 100_000_000),
      validity_days: int(input.validityDays, 'validityDays', 1, 3660),
      name_is_organization: input.nameIsOrganization ? 1 : 0,
      active: input.active === false ? 0 : 1,
      updated_at: Date.now(),
    };
    await writeTransaction(this.rt.storage, async (tx) => {
      const before = await getSealType(tx, code);
      const clash = await tx
        .selectFrom('seal_types')
        .select('code')
        .where('name', '=', row.name)
        .where('code', '!=', code)
        .executeTakeFirst();
      if (clash)
        throw conflict(
          'name_taken',
          { en: `seal type ${clash.code} is already named ${row.name}`, zh: `印章种类 ${clash.code} 已使用名称 ${row.name}` },
          'name',
        );
      await upsertSealType(tx, row);
      await appendAudit(tx, [
        {
          actor: ctx.actor,
          action: before ? 'catalogue.seal_type_updated' : 'catalogue.seal_type_created',
          target: `seal-type:${code}`,
          details: { before: before ?? null, after: row },
        },
      ]);
    });
  }

  async saveType(ctx: StaffContext, input: TypeInput): Promise<void> {
    const code = text(input.code, 'code', 40);
    if (!/^[a-z0-9][a-z0-9-]*$/.test(code))
      throw invalid({ en: 'code: lowercase letters, digits and -', zh: '代码只能包含小写字母、数字和 -' }, 'code');
    const profile = text(input.profile, 'profile', 80);
    if (!this.rt.ca.profiles.has(profile))
      throw invalid(
        {
          en: `no certificate profile ${profile}; known: ${[...this.rt.ca.profiles.keys()].join(', ')}`,
          zh: `没有证书模板 ${profile}；现有模板：${[...this.rt.ca.profiles.keys()].join('、')}`,
        },
        'profile',
      );
    const row = {
      code,
      name: text(input.name, 'name', 50),
      name_en: text(input.nameEn, 'nameEn', 80),
      profile,
      renew_before_days: int(input.renewBeforeDays, 'renewBeforeDays', 0, 3650),
      renew_after_days: int(input.renewAfterDays, 'renewAfterDays', 0, 3650),
      online_renewal: input.onlineRenewal ? 1 : 0,
      refund_unused: input.refundUnused ? 1 : 0,
      updated_at: Date.now(),
    };
    const prices = Object.entries(input.prices ?? {})
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([term, fen]) => ({
        type_code: code,
        term_years: int(Number(term), 'prices', 1, 3),
        price_fen: int(fen, `prices.${term}`, 0, 100_000_000),
      }));
    if (prices.length === 0)
      throw invalid({ en: 'offer at least one term with a price', zh: '请至少为一个有效期设置价格' }, 'prices');
    await writeTransaction(this.rt.storage, async (tx) => {
      const before = await this.snapshot(tx, code);
      const clash = await tx
        .selectFrom('certificate_types')
        .select('code')
        .where('profile', '=', profile)
        .where('code', '!=', code)
        .executeTakeFirst();
      if (clash)
        throw conflict(
          'profile_taken',
          {
            en: `profile ${profile} already belongs to certificate type ${clash.code}`,
            zh: `证书模板 ${profile} 已被证书类型 ${clash.code} 使用`,
          },
          'profile',
        );
      if (before.type) await tx.updateTable('certificate_types').set(row).where('code', '=', code).execute();
      else await tx.insertInto('certificate_types').values(row).execute();
      await tx.deleteFrom('prices').where('type_code', '=', code).execute();
      await tx.insertInto('prices').values(prices).execute();
      await appendAudit(tx, [
        {
          actor: ctx.actor,
          action: before.type ? 'catalogue.type_updated' : 'catalogue.type_created',
          target: `type:${code}`,
          details: { before, after: { type: row, prices } },
        },
      ]);
    });
  }

  private async snapshot(tx: Tx, code: string) {
    const type = await tx.selectFrom('certificate_types').selectAll().where('code', '=', code).executeTakeFirst();
    const prices = await tx.selectFrom('prices').selectAll().where('type_code', '=', code).orderBy('term_years').execute();
    return { type: type ?? null, prices };
  }

  async setPaymentMethods(ctx: StaffContext, methods: unknown): Promise<PaymentMethod[]> {
    if (!Array.isArray(methods) || methods.some((m) => !METHODS.includes(m as PaymentMethod)))
      throw invalid(
        {
          en: 'payment methods: any of online, postal, bank',
          zh: '付款方式只能是 online（网银支付）、postal（邮政汇款）、bank（银行转帐）',
        },
        'paymentMethods',
      );
    const list = METHODS.filter((m) => (methods as string[]).includes(m));
    if (list.length === 0)
      throw invalid({ en: 'enable at least one payment method', zh: '请至少启用一种付款方式' }, 'paymentMethods');
    await this.setSetting(ctx, 'payment_methods', list, await enabledPaymentMethods(this.db));
    return list;
  }

  async setRemittance(ctx: StaffContext, v: Record<string, unknown>): Promise<RemittanceInfo> {
    const info: RemittanceInfo = {
      payee: text(v.payee, 'payee', 100),
      bank: text(v.bank, 'bank', 100),
      account: text(v.account, 'account', 60),
      postalAddress: text(v.postalAddress, 'postalAddress', 200),
      postcode: text(v.postcode, 'postcode', 6),
      note: typeof v.note === 'string' ? v.note.trim().slice(0, 300) : '',
    };
    await this.setSetting(ctx, 'remittance', info, await remittanceInfo(this.db));
    return info;
  }

  async setInvoiceIssuer(ctx: StaffContext, v: Record<string, unknown>): Promise<InvoiceIssuer> {
    const info: InvoiceIssuer = {
      name: text(v.name, 'name', 100),
      taxId: typeof v.taxId === 'string' ? v.taxId.trim().slice(0, 30) : '',
      address: typeof v.address === 'string' ? v.address.trim().slice(0, 200) : '',
      phone: typeof v.phone === 'string' ? v.phone.trim().slice(0, 40) : '',
      paper: v.paper !== false,
    };
    await this.setSetting(ctx, 'invoice_issuer', info, await getSetting(this.db, 'invoice_issuer', null));
    return info;
  }

  private async setSetting(ctx: StaffContext, key: string, value: unknown, before: unknown): Promise<void> {
    await writeTransaction(this.rt.storage, async (tx) => {
      const json = JSON.stringify(value);
      const r = await tx.updateTable('settings').set({ value: json }).where('key', '=', key).executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) await tx.insertInto('settings').values({ key, value: json }).execute();
      await appendAudit(tx, [
        { actor: ctx.actor, action: 'settings.updated', target: `setting:${key}`, details: { before, after: value } },
      ]);
    });
  }
}
