// Money, dates and small display helpers.
import dayjs from 'dayjs';
import { chinaDateText, chinaTimeText } from '../../src/shared/china-date.js';
import type { Lang, Translate } from './i18n';

/** Integer fen to yuan with two decimals: 30000 → "300.00". */
export function yuan(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(Math.round(fen));
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

export const money = (t: Translate, fen: number): string => t('yuan', { amount: yuan(fen) });

/** The header date, as in the seed manual: 2016年06月23日 星期四. */
export function headerDate(lang: Lang, d: Date = new Date()): string {
  return lang === 'zh'
    ? dayjs(d).locale('zh-cn').format('YYYY年MM月DD日 dddd')
    : dayjs(d).locale('en').format('dddd, D MMMM YYYY');
}

/** The calendar day in Asia/Shanghai, as `certdesk token list` shows it, whatever the browser's time zone. */
export function fmtDate(lang: Lang, iso: string | null | undefined): string {
  if (!iso) return '—';
  return Number.isFinite(Date.parse(iso)) ? chinaDateText(lang, iso) : iso;
}

/** Date and time on the Shanghai clock. */
export function fmtTime(lang: Lang, iso: string | null | undefined): string {
  if (!iso) return '—';
  return Number.isFinite(Date.parse(iso)) ? chinaTimeText(lang, iso) : iso;
}

/** 一年 / 二年 / 三年 */
export function termLabel(t: Translate, years: number): string {
  if (years === 1) return t('term1');
  if (years === 2) return t('term2');
  if (years === 3) return t('term3');
  return t('termN', { n: years });
}

/** A catalogue name (证书种类, the product) in the page's language: Chinese unless English is shown and known. */
export const named = (lang: Lang, zh: string, en: string | null | undefined): string => (lang === 'en' && en ? en : zh);
