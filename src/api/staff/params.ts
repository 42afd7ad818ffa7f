// Parsing of staff request parameters (paging, dates, lists, text, amounts), with errors that
// name the field in the staff member's language.
import type { FastifyRequest } from 'fastify';
import { checkFen, yuanToFen } from '../../ra/money.js';
import { TRANSITIONS } from '../../ra/order-states.js';
import type { OrderState, PaymentMethod } from '../../sa/schema.js';
import { invalid } from '../../staff/errors.js';

export type Q = Record<string, string | undefined>;
export type Body = Record<string, unknown>;

/** every order state: the state machine's own list */
export const ORDER_STATES = Object.keys(TRANSITIONS) as OrderState[];
export const METHODS: PaymentMethod[] = ['online', 'postal', 'bank'];

export function paging(q: Q): { limit: number; offset: number; page: number; pageSize: number } {
  const page = Math.max(1, Math.min(1_000_000, Number.parseInt(q.page ?? '1', 10) || 1));
  const pageSize = Math.max(1, Math.min(100, Number.parseInt(q.pageSize ?? '20', 10) || 20));
  return { limit: pageSize, offset: (page - 1) * pageSize, page, pageSize };
}

export function timeParam(v: string | undefined, field: string, endOfDay = false): number | undefined {
  if (!v) return undefined;
  // a bare date is a day in China time; `to` includes that whole day
  const m = /^\d{4}-\d{2}-\d{2}$/.test(v) ? Date.parse(`${v}T00:00:00+08:00`) + (endOfDay ? 86_400_000 : 0) : Date.parse(v);
  if (Number.isNaN(m))
    throw invalid(
      { en: `${field} must be a date (YYYY-MM-DD) or an ISO time`, zh: `${field} 须为日期（YYYY-MM-DD）或 ISO 时间` },
      field,
    );
  return m;
}

export function listParam<T extends string>(v: string | undefined, allowed: readonly T[], field: string): T[] | undefined {
  if (!v) return undefined;
  const list = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = list.filter((s) => !(allowed as readonly string[]).includes(s));
  if (bad.length)
    throw invalid({ en: `${field}: unknown ${bad.join(', ')}`, zh: `${field}：无效的取值 ${bad.join('、')}` }, field);
  return list as T[];
}

export function str(b: Body | undefined, field: string, required = true): string {
  const v = b?.[field];
  if (v === undefined || v === null || v === '') {
    if (required) throw invalid({ en: `${field} is required`, zh: `${field} 为必填项` }, field);
    return '';
  }
  if (typeof v !== 'string') throw invalid({ en: `${field} must be text`, zh: `${field} 须为文本` }, field);
  return v;
}

/** An amount as yuan text ("300.00", field `amount`) or integer fen (`amountFen`); positive, see ra/money.ts. */
export function amountOf(b: Body | undefined): number {
  if (b?.amountFen !== undefined) {
    try {
      return checkFen(b.amountFen);
    } catch {
      throw invalid({ en: 'amountFen must be whole fen, at least 1', zh: 'amountFen 须为正整数（单位：分）' }, 'amount');
    }
  }
  const text = str(b, 'amount');
  try {
    return yuanToFen(text);
  } catch (e) {
    throw invalid(
      { en: (e as Error).message, zh: `金额须为大于零的元数、最多两位小数（如 300.00），而不是 ${JSON.stringify(text)}` },
      'amount',
    );
  }
}

export const ip = (req: FastifyRequest): string => req.ip;
