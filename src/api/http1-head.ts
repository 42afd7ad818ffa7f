// A strict parser for the head of one HTTP/1.0 or 1.1 request (RFC 9112 §2–5), for the fast path
// (http1-front.ts). It accepts a narrow, unambiguous subset: CRLF line ends, one space between the
// request-line parts, token header names with no space before the colon, no obs-fold, no control
// characters in values. Whatever it does not accept is not refused here — the front hands such a
// request to Node's own HTTP parser, which answers it (usually 400) exactly as for any other URL.

export interface RequestHead {
  method: string;
  /** request-target as sent (origin-form) */
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1 */
  minor: 0 | 1;
  /** lowercase names; repeated fields joined with ", " (content-length may not repeat) */
  headers: Map<string, string>;
  /** bytes of the head including the final CRLF CRLF */
  length: number;
}

export type HeadResult = { kind: 'incomplete' } | { kind: 'unsupported'; reason: string } | { kind: 'head'; head: RequestHead };

/** Larger heads go to Node's parser (which allows 16 KiB and answers 431 beyond). */
export const MAX_HEAD = 8 * 1024;
const MAX_FIELDS = 64;

const REQUEST_LINE = /^([A-Z]{1,16}) (\/[!-~]*) HTTP\/1\.([01])$/;
const FIELD = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\0-\x08\x0a-\x1f\x7f]*?)[ \t]*$/;
const INCOMPLETE: HeadResult = { kind: 'incomplete' };

export function parseRequestHead(buf: Buffer): HeadResult {
  const end = buf.indexOf('\r\n\r\n', 0, 'latin1');
  if (end < 0) return buf.length >= MAX_HEAD ? { kind: 'unsupported', reason: 'head too large' } : INCOMPLETE;
  if (end + 4 > MAX_HEAD) return { kind: 'unsupported', reason: 'head too large' };
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const m = REQUEST_LINE.exec(lines[0]!);
  if (!m) return { kind: 'unsupported', reason: 'request line' };
  if (lines.length - 1 > MAX_FIELDS) return { kind: 'unsupported', reason: 'too many header fields' };
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const f = FIELD.exec(lines[i]!);
    if (!f) return { kind: 'unsupported', reason: 'header field' };
    const name = f[1]!.toLowerCase();
    const prev = headers.get(name);
    if (prev === undefined) headers.set(name, f[2]!);
    else if (name === 'content-length' || name === 'host') return { kind: 'unsupported', reason: `repeated ${name}` };
    else headers.set(name, `${prev}, ${f[2]!}`);
  }
  return { kind: 'head', head: { method: m[1]!, target: m[2]!, minor: m[3] === '1' ? 1 : 0, headers, length: end + 4 } };
}

/** Content-Length as a number, or undefined when absent; NaN when not 1–9 digits. */
export function contentLength(head: RequestHead): number | undefined {
  const v = head.headers.get('content-length');
  if (v === undefined) return undefined;
  return /^[0-9]{1,9}$/.test(v) ? Number(v) : NaN;
}

/** RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive". */
export function wantsKeepAlive(head: RequestHead): boolean {
  const tokens = (head.headers.get('connection') ?? '')
    .toLowerCase()
    .split(',')
    .map((t) => t.trim());
  if (tokens.includes('close')) return false;
  return head.minor === 1 || tokens.includes('keep-alive');
}
