// Dates as the CA's holders read them: the calendar day in Asia/Shanghai (China Standard Time, UTC+8
// all year; no daylight saving since 1991), whatever the time zone of the machine that shows them.
// Pure — no Node or DOM imports — so the CLI, the key assistant and the web app share it.
export const DISPLAY_TIME_ZONE = 'Asia/Shanghai';
const OFFSET_MS = 8 * 3_600_000;

export interface ChinaDateTime {
  year: number;
  /** 1–12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** A Date, ISO text or epoch milliseconds, read on the Shanghai clock. */
export function chinaDateTime(t: Date | string | number): ChinaDateTime {
  const ms = t instanceof Date ? t.getTime() : typeof t === 'number' ? t : Date.parse(t);
  if (!Number.isFinite(ms)) throw new RangeError(`not a date: ${String(t)}`);
  const s = new Date(ms + OFFSET_MS);
  return {
    year: s.getUTCFullYear(),
    month: s.getUTCMonth() + 1,
    day: s.getUTCDate(),
    hour: s.getUTCHours(),
    minute: s.getUTCMinutes(),
    second: s.getUTCSeconds(),
  };
}

const two = (n: number): string => String(n).padStart(2, '0');

/** 2028-01-01 for 2027-12-31T16:30:00Z. */
export function chinaDate(t: Date | string | number): string {
  const c = chinaDateTime(t);
  return `${c.year}-${two(c.month)}-${two(c.day)}`;
}

/** 2028-01-01 00:30:00 for 2027-12-31T16:30:00Z. */
export function chinaTime(t: Date | string | number): string {
  const c = chinaDateTime(t);
  return `${chinaDate(t)} ${two(c.hour)}:${two(c.minute)}:${two(c.second)}`;
}

const MONTHS_EN = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The portal's date: 2028年01月01日 / 1 Jan 2028. */
export function chinaDateText(lang: 'zh' | 'en', t: Date | string | number): string {
  const c = chinaDateTime(t);
  return lang === 'zh' ? `${c.year}年${two(c.month)}月${two(c.day)}日` : `${c.day} ${MONTHS_EN[c.month - 1]} ${c.year}`;
}

/** The portal's date and time: 2028-01-01 00:30:00 / 1 Jan 2028 00:30:00. */
export function chinaTimeText(lang: 'zh' | 'en', t: Date | string | number): string {
  if (lang === 'zh') return chinaTime(t);
  const c = chinaDateTime(t);
  return `${chinaDateText('en', t)} ${two(c.hour)}:${two(c.minute)}:${two(c.second)}`;
}
