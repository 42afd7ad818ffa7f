// Bank statement import: a CSV export of the CA's account; every credit line whose memo (附言)
// carries an order's reference code (CD…) is recorded through the payment ledger. Idempotent:
// each line is remembered by its transaction id, so importing the same file again records nothing
// twice and says which lines were already processed.
//
// Columns (a header row is required; names are case-insensitive; order does not matter):
//   date            交易日期: 2026-11-25, 2026/11/25, 20261125, optionally with a time (China time)
//   amount          金额 in yuan, up to 2 decimals ("300.00", "¥1,234.50"); debits (≤ 0) are skipped
//   reference       附言/摘要/memo: free text; the reference code CD + 8 characters may be anywhere in it
//   payer           付款人/对方户名 (optional)
//   transaction_id  流水号: the bank's transaction number (optional; without it a line is identified
//                   by a hash of date, amount, memo and payer)
// UTF-8 with or without a byte-order mark; comma-separated; fields may be quoted ("…", "" inside).
import { createHash } from 'node:crypto';
import {
  finishStatementImport,
  getStatementLine,
  insertStatementImport,
  insertStatementLine,
  updateStatementLine,
  type StatementLine,
} from '../sa/backoffice.js';
import { appendAudit } from '../sa/audit.js';
import { isUniqueViolation, writeTransaction } from '../sa/database.js';
import { getOrderByReference } from '../sa/orders.js';
import { RaError } from '../ra/errors.js';
import { yuanToFen } from '../ra/money.js';
import { recordPayment } from '../ra/payment-ledger.js';
import type { Runtime } from '../runtime.js';
import type { StaffContext } from './accounts.js';
import { invalid } from './errors.js';

export const STATEMENT_SOURCE = 'bank';
export const MAX_STATEMENT_LINES = 20_000;

const HEADERS: Record<'date' | 'amount' | 'reference' | 'payer' | 'transaction_id', string[]> = {
  date: ['date', '日期', '交易日期', '记账日期'],
  amount: ['amount', '金额', '交易金额', '收入金额', '贷方金额'],
  reference: ['reference', 'memo', '附言', '摘要', '用途', '备注'],
  payer: ['payer', '付款人', '对方户名', '付款人名称', '对方账户名称'],
  transaction_id: ['transaction_id', 'transaction id', '流水号', '交易流水号', '交易流水'],
};

/** RFC 4180 CSV: quoted fields, "" escapes, CRLF or LF. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
      continue;
    }
    if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => r.some((f) => f.trim() !== ''));
}

export interface StatementEntry {
  line: number;
  date: string;
  paidAt: number;
  amountFen: number;
  memo: string;
  payer: string;
  transactionId: string;
}

export type LineOutcome =
  | 'recorded'
  | 'duplicate'
  | 'extra'
  | 'amount_mismatch'
  | 'not_payable'
  | 'no_reference'
  | 'unknown_reference'
  | 'ambiguous_reference'
  | 'online_order'
  | 'not_credit'
  | 'invalid';

export interface LineResult {
  line: number;
  transactionId: string | null;
  date: string;
  amountFen: number | null;
  payer: string;
  memo: string;
  reference: string | null;
  orderId: string | null;
  outcome: LineOutcome;
  /** true when an earlier import processed this line (nothing was recorded now) */
  already: boolean;
  message: string;
}

export interface ImportResult {
  importId: number;
  lines: number;
  matched: LineResult[];
  alreadyRecorded: LineResult[];
  /** money for an order already paid or closed: recorded as extra, to be refunded */
  extra: LineResult[];
  unmatched: LineResult[];
}

const REFERENCE = /CD[A-HJ-NP-Z2-9]{8}/gi;

export function referencesIn(memo: string): string[] {
  return [...new Set((memo.match(REFERENCE) ?? []).map((r) => r.toUpperCase()))];
}

function parseDate(text: string): number | undefined {
  const m = /^(\d{4})[-/.]?(\d{1,2})[-/.]?(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$/.exec(text.trim());
  if (!m) return undefined;
  const pad = (s: string | undefined) => (s ?? '0').padStart(2, '0');
  const t = Date.parse(`${m[1]}-${pad(m[2])}-${pad(m[3])}T${pad(m[4])}:${pad(m[5])}:${pad(m[6])}+08:00`);
  return Number.isNaN(t) ? undefined : t;
}

/** A statement's spelling (¥, thousands separators, a sign) reduced to yuan digits for yuanToFen; debits negative, zero 0. */
function parseAmount(text: string): number | undefined {
  const clean = text.replace(/[¥￥,\s]/g, '').replace(/^\+/, '');
  if (/^-?0(\.0{1,2})?$/.test(clean)) return 0;
  if (/^-/.test(clean)) {
    try {
      return -yuanToFen(clean.slice(1));
    } catch {
      return undefined;
    }
  }
  try {
    return yuanToFen(clean);
  } catch {
    return undefined;
  }
}

/** Parses the statement; throws `invalid` when the header lacks a required column. Bad lines come back as errors. */
export function parseStatement(csv: string): { entries: StatementEntry[]; errors: LineResult[] } {
  const rows = parseCsv(csv.replace(/^\uFEFF/, ''));
  const header = rows.shift();
  if (!header) throw invalid({ en: 'the statement is empty', zh: '对账单为空' }, 'file');
  const names = header.map((h) => h.trim().toLowerCase());
  const col = (k: keyof typeof HEADERS): number => names.findIndex((n) => HEADERS[k].includes(n));
  const idx = {
    date: col('date'),
    amount: col('amount'),
    reference: col('reference'),
    payer: col('payer'),
    transactionId: col('transaction_id'),
  };
  const missing = (['date', 'amount', 'reference'] as const).filter((k) => idx[k] < 0);
  if (missing.length)
    throw invalid(
      {
        en: `the statement's header must name the columns date, amount and reference (memo); missing: ${missing.join(', ')}`,
        zh: `对账单首行须包含 date（日期）、amount（金额）和 reference（附言）列；缺少：${missing.join('、')}`,
      },
      'file',
    );
  if (rows.length > MAX_STATEMENT_LINES)
    throw invalid(
      { en: `at most ${MAX_STATEMENT_LINES} lines per import`, zh: `每次最多导入 ${MAX_STATEMENT_LINES} 行` },
      'file',
    );
  const entries: StatementEntry[] = [];
  const errors: LineResult[] = [];
  rows.forEach((r, i) => {
    const line = i + 2;
    const get = (n: number): string => (n >= 0 ? (r[n] ?? '').trim() : '');
    const date = get(idx.date);
    const memo = get(idx.reference);
    const payer = get(idx.payer);
    const paidAt = parseDate(date);
    const amountFen = parseAmount(get(idx.amount));
    if (paidAt === undefined || amountFen === undefined) {
      errors.push({
        line,
        transactionId: get(idx.transactionId) || null,
        date,
        amountFen: amountFen ?? null,
        payer,
        memo,
        reference: null,
        orderId: null,
        outcome: 'invalid',
        already: false,
        message:
          paidAt === undefined
            ? `unreadable date ${JSON.stringify(date)}`
            : `unreadable amount ${JSON.stringify(get(idx.amount))}`,
      });
      return;
    }
    const transactionId =
      get(idx.transactionId) ||
      'h:' +
        createHash('sha256')
          .update(JSON.stringify([date, amountFen, memo, payer]))
          .digest('hex')
          .slice(0, 32);
    entries.push({ line, date, paidAt, amountFen, memo, payer, transactionId });
  });
  return { entries, errors };
}

const FINAL: LineOutcome[] = ['recorded', 'duplicate', 'extra', 'amount_mismatch'];

const MESSAGES: Record<LineOutcome, string> = {
  recorded: 'matched: the order is paid',
  duplicate: 'this payment was recorded before',
  extra: 'the order was already paid or closed: recorded as an extra payment, to be refunded',
  amount_mismatch: 'the amount differs from the order: not recorded (confirm by hand after checking)',
  not_payable:
    'the order cannot take this payment now (a change awaiting review, or approved by the importer): not recorded; import again or confirm by hand later',
  no_reference: 'no reference code (CD…) in the memo',
  unknown_reference: 'no order has this reference code',
  ambiguous_reference: 'the memo names more than one order',
  online_order: 'the reference belongs to an order paid online, not by transfer',
  not_credit: 'not a credit (amount ≤ 0): skipped',
  invalid: 'unreadable line',
};

export async function importStatement(rt: Runtime, ctx: StaffContext, filename: string, csv: string): Promise<ImportResult> {
  const { entries, errors } = parseStatement(csv);
  const sha256 = createHash('sha256').update(csv).digest('hex');
  const now = Date.now();
  const importId = await insertStatementImport(rt.storage.db, {
    filename: filename.slice(0, 200),
    sha256,
    lines: entries.length + errors.length,
    recorded: 0,
    unmatched: 0,
    imported_by: ctx.actor,
    imported_at: now,
  });
  const results: LineResult[] = [...errors];
  for (const e of entries) results.push(await importLine(rt, ctx, importId, e));
  results.sort((a, b) => a.line - b.line);
  const out: ImportResult = {
    importId,
    lines: results.length,
    matched: results.filter((r) => r.outcome === 'recorded' && !r.already),
    alreadyRecorded: results.filter((r) => r.already || r.outcome === 'duplicate'),
    extra: results.filter((r) => r.outcome === 'extra' && !r.already),
    unmatched: results.filter((r) => !r.already && !['recorded', 'duplicate', 'extra'].includes(r.outcome)),
  };
  await finishStatementImport(rt.storage.db, importId, {
    lines: out.lines,
    recorded: out.matched.length,
    unmatched: out.unmatched.length,
  });
  await writeTransaction(rt.storage, (tx) =>
    appendAudit(tx, [
      {
        actor: ctx.actor,
        action: 'statement.imported',
        target: `statement:${importId}`,
        details: {
          filename,
          sha256,
          lines: out.lines,
          matched: out.matched.map((m) => m.orderId),
          already: out.alreadyRecorded.length,
          extra: out.extra.length,
          unmatched: out.unmatched.length,
        },
      },
    ]),
  );
  return out;
}

async function importLine(rt: Runtime, ctx: StaffContext, importId: number, e: StatementEntry): Promise<LineResult> {
  const base = {
    line: e.line,
    transactionId: e.transactionId,
    date: e.date,
    amountFen: e.amountFen,
    payer: e.payer,
    memo: e.memo,
  };
  const previous = await getStatementLine(rt.storage.db, STATEMENT_SOURCE, e.transactionId);
  if (previous && FINAL.includes(previous.outcome as LineOutcome)) {
    const outcome = previous.outcome as LineOutcome;
    return {
      ...base,
      reference: referencesIn(previous.memo)[0] ?? null,
      orderId: previous.order_id,
      outcome,
      already: true,
      message: `processed by an earlier import: ${MESSAGES[outcome]}`,
    };
  }
  const refs = referencesIn(e.memo);
  let outcome: LineOutcome;
  let orderId: string | null = null;
  let message: string | undefined;
  if (e.amountFen <= 0) outcome = 'not_credit';
  else if (refs.length === 0) outcome = 'no_reference';
  else if (refs.length > 1) outcome = 'ambiguous_reference';
  else {
    const order = await getOrderByReference(rt.storage.db, refs[0]!);
    if (!order) outcome = 'unknown_reference';
    else if (order.payment_method === 'online') {
      outcome = 'online_order';
      orderId = order.id;
    } else {
      orderId = order.id;
      try {
        outcome = await recordPayment(rt.storage, {
          orderId: order.id,
          channel: order.payment_method,
          tradeNo: e.transactionId,
          amountFen: e.amountFen,
          paidAt: e.paidAt,
          raw: {
            statementImport: importId,
            line: e.line,
            date: e.date,
            memo: e.memo,
            payer: e.payer,
            transactionId: e.transactionId,
          },
          actor: ctx.actor,
        });
      } catch (err) {
        if (!(err instanceof RaError) || !['amount_mismatch', 'awaiting_review', 'four_eyes'].includes(err.code)) throw err;
        outcome = err.code === 'amount_mismatch' ? 'amount_mismatch' : 'not_payable';
        message = err.message;
      }
    }
  }
  await rememberLine(rt, previous, { importId, e, outcome, orderId });
  return { ...base, reference: refs[0] ?? null, orderId, outcome, already: false, message: message ?? MESSAGES[outcome] };
}

async function rememberLine(
  rt: Runtime,
  previous: StatementLine | undefined,
  r: { importId: number; e: StatementEntry; outcome: LineOutcome; orderId: string | null },
): Promise<void> {
  const values = {
    import_id: r.importId,
    line_date: r.e.date,
    amount_fen: r.e.amountFen,
    memo: r.e.memo,
    payer: r.e.payer,
    outcome: r.outcome,
    order_id: r.orderId,
    processed_at: Date.now(),
  };
  if (previous) return updateStatementLine(rt.storage.db, previous.id, values);
  try {
    await insertStatementLine(rt.storage.db, { source: STATEMENT_SOURCE, transaction_id: r.e.transactionId, ...values });
  } catch (err) {
    if (!isUniqueViolation(err)) throw err; // a concurrent import of the same line got there first
  }
}
