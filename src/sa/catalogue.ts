// The catalogue: certificate types (证书种类), prices per term, and settings such as the enabled
// payment methods and the remittance instructions.
import type { Selectable } from 'kysely';
import { PreparedQuery } from './compiled.js';
import type { Executor } from './database.js';
import type { CertificateTypeTable, PaymentMethod } from './schema.js';

export type CertificateType = Selectable<CertificateTypeTable>;

const typeByProfile = new PreparedQuery(['profile'], (db, p) =>
  db.selectFrom('certificate_types').selectAll().where('profile', '=', p.profile),
);

export async function certificateTypeForProfile(db: Executor, profile: string): Promise<CertificateType | undefined> {
  return typeByProfile.first(db, { profile });
}

export async function pricesFor(db: Executor, typeCode: string): Promise<{ termYears: number; priceFen: number }[]> {
  const rows = await pricesOfType.execute(db, { typeCode });
  return rows.map((r) => ({ termYears: r.term_years, priceFen: r.price_fen }));
}

const pricesOfType = new PreparedQuery(['typeCode'], (db, p) =>
  db.selectFrom('prices').select(['term_years', 'price_fen']).where('type_code', '=', p.typeCode).orderBy('term_years'),
);

const settingByKey = new PreparedQuery(['key'], (db, p) => db.selectFrom('settings').select('value').where('key', '=', p.key));

export async function getSetting<T>(db: Executor, key: string, fallback: T): Promise<T> {
  const row = await settingByKey.first(db, { key });
  return row ? (JSON.parse(row.value) as T) : fallback;
}

export async function enabledPaymentMethods(db: Executor): Promise<PaymentMethod[]> {
  return getSetting<PaymentMethod[]>(db, 'payment_methods', ['online']);
}

/** What a change of certificate details (变更证书) costs, in fen; 0 (the default): no payment step. */
export async function changePriceFen(db: Executor): Promise<number> {
  return getSetting<number>(db, 'change_price_fen', 0);
}

export interface RemittanceInfo {
  payee: string;
  bank: string;
  account: string;
  postalAddress: string;
  postcode: string;
  note: string;
}

export async function remittanceInfo(db: Executor): Promise<RemittanceInfo | undefined> {
  return getSetting<RemittanceInfo | undefined>(db, 'remittance', undefined);
}
