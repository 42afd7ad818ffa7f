// Money is integer fen (分) everywhere; these are the only conversions to and from text. An amount
// that moves money (a payment, an extra payment, a refund) is a whole positive number of fen of at
// most MAX_FEN, written as plain decimal digits: no sign, exponent, spaces, fraction of a fen or
// leading zero. Every way in — gateway notifications, staff confirmations, the CLI, bank
// statements, refunds — goes through parseFen / yuanToFen / checkFen below.

/** The largest amount accepted anywhere: ¥100,000,000.00 (far above any price, far below 2^53). */
export const MAX_FEN = 10_000_000_000;

export class AmountError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'AmountError';
  }
}

/** A number of fen that can move money: a safe whole number, 1 … MAX_FEN. */
export function checkFen(fen: unknown): number {
  if (typeof fen !== 'number' || !Number.isSafeInteger(fen) || fen <= 0 || fen > MAX_FEN)
    throw new AmountError(`amount must be a whole number of fen from 1 to ${MAX_FEN}, got ${JSON.stringify(fen)}`);
  return fen;
}

export function isFen(fen: unknown): fen is number {
  try {
    checkFen(fen);
    return true;
  } catch {
    return false;
  }
}

/** Fen as text on the wire ("30000"): decimal digits only, no leading zero. */
export function parseFen(text: unknown): number {
  if (typeof text !== 'string' || !/^[1-9][0-9]{0,10}$/.test(text))
    throw new AmountError(`amount must be whole fen written as digits, e.g. 30000, got ${JSON.stringify(text)}`);
  return checkFen(Number(text));
}

export function fenToYuan(fen: number): string {
  if (!Number.isSafeInteger(fen)) throw new RangeError('amount must be a whole number of fen');
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** Parses "300", "300.5", "300.50" (yuan) into fen exactly, without floating point; positive, ≤ MAX_FEN. */
export function yuanToFen(text: string): number {
  const m = /^(0|[1-9][0-9]{0,8})(?:\.([0-9]{1,2}))?$/.exec(text);
  if (!m) throw new AmountError(`amount must be yuan with at most 2 decimals, e.g. 300.00, got ${JSON.stringify(text)}`);
  return checkFen(Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0')));
}

const CAPITAL_DIGITS = ['零', '壹', '贰', '叁', '肆', '伍', '陆', '柒', '捌', '玖'];
const CAPITAL_UNITS = ['', '拾', '佰', '仟'];
const CAPITAL_GROUPS = ['', '万', '亿', '万亿'];

/** One group of up to four digits (0–9999) in capital numerals, with 零 for inner zeros. */
function capitalGroup(n: number): string {
  let out = '';
  let zero = false;
  for (let pos = 3; pos >= 0; pos--) {
    const d = Math.floor(n / 10 ** pos) % 10;
    if (d === 0) {
      if (out) zero = true;
      continue;
    }
    if (zero) out += '零';
    zero = false;
    out += CAPITAL_DIGITS[d]! + CAPITAL_UNITS[pos]!;
  }
  return out;
}

/**
 * The amount in Chinese capital numerals (大写金额) as written on invoices and receipts:
 * 30000 → 叁佰元整, 123456 → 壹仟贰佰叁拾肆元伍角陆分, 100005 → 壹仟元零伍分, 50 → 伍角整.
 * 整 follows an amount without 分; 零 marks skipped digits once.
 */
export function fenToChineseCapital(fen: number): string {
  if (!Number.isSafeInteger(fen)) throw new RangeError('amount must be a whole number of fen');
  if (fen < 0) return '负' + fenToChineseCapital(-fen);
  const yuan = Math.floor(fen / 100);
  const jiao = Math.floor(fen / 10) % 10;
  const cents = fen % 10;
  if (yuan >= 10_000 ** CAPITAL_GROUPS.length) throw new RangeError('amount too large for capital numerals');
  let out = '';
  if (yuan > 0) {
    const groups: number[] = [];
    for (let y = yuan; y > 0; y = Math.floor(y / 10_000)) groups.push(y % 10_000);
    let pendingZero = false;
    for (let g = groups.length - 1; g >= 0; g--) {
      const v = groups[g]!;
      if (v === 0) {
        pendingZero = out !== '';
        continue;
      }
      // a group below 1000 after a higher group leaves a gap: 壹万零伍佰
      if (out && (pendingZero || v < 1000)) out += '零';
      pendingZero = false;
      out += capitalGroup(v) + CAPITAL_GROUPS[g]!;
    }
    out += '元';
  }
  if (jiao === 0 && cents === 0) return (out || '零元') + '整';
  if (jiao > 0) out += CAPITAL_DIGITS[jiao]! + '角';
  else if (out) out += '零';
  if (cents > 0) out += CAPITAL_DIGITS[cents]! + '分';
  else out += '整';
  return out;
}
