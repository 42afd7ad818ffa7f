// A small DER encoder/decoder. We build certificates, CRLs and OCSP responses by concatenating
// pre-encoded parts (see ca/template.ts); a generic ASN.1 object model is ~40× slower on the hot path.

export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  BMP_STRING: 0x1e,
  UNIVERSAL_STRING: 0x1c,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

/** Bytes taken by the tag and length octets of a TLV whose content is `len` bytes long. */
export function headerLength(len: number): number {
  return len < 0x80 ? 2 : len < 0x100 ? 3 : len < 0x10000 ? 4 : len < 0x1000000 ? 5 : 6;
}

/** Writes tag and length octets at `off`; returns the offset of the first content byte. */
export function writeHeader(out: Buffer, off: number, tag: number, len: number): number {
  out[off++] = tag;
  if (len < 0x80) out[off++] = len;
  else if (len < 0x100) {
    out[off++] = 0x81;
    out[off++] = len;
  } else if (len < 0x10000) {
    out[off++] = 0x82;
    out[off++] = len >> 8;
    out[off++] = len & 0xff;
  } else if (len < 0x1000000) {
    out[off++] = 0x83;
    out[off++] = len >> 16;
    out[off++] = (len >> 8) & 0xff;
    out[off++] = len & 0xff;
  } else {
    out[off++] = 0x84;
    out[off++] = (len >>> 24) & 0xff;
    out[off++] = (len >> 16) & 0xff;
    out[off++] = (len >> 8) & 0xff;
    out[off++] = len & 0xff;
  }
  return off;
}

/** Encodes one TLV whose content is the concatenation of `parts`. */
export function tlv(tag: number, ...parts: Uint8Array[]): Buffer {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = Buffer.allocUnsafe(headerLength(len) + len);
  let off = writeHeader(out, 0, tag, len);
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export const seq = (...parts: Uint8Array[]): Buffer => tlv(Tag.SEQUENCE, ...parts);

/** SET OF: DER requires the elements sorted by their encodings. */
export function setOf(...parts: Buffer[]): Buffer {
  // A set of one (every RDN we write) is already sorted.
  return tlv(Tag.SET, ...(parts.length < 2 ? parts : [...parts].sort(Buffer.compare)));
}

/** [n] EXPLICIT (constructed context tag wrapping a full TLV). */
export const explicit = (n: number, ...parts: Uint8Array[]): Buffer => tlv(0xa0 | n, ...parts);
/** [n] IMPLICIT primitive. */
export const implicitPrimitive = (n: number, content: Uint8Array): Buffer => tlv(0x80 | n, content);

/** INTEGER from unsigned big-endian magnitude bytes (a leading zero is added when the top bit is set). */
export function intFromUnsigned(bytes: Uint8Array): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const b = bytes.subarray(start);
  if (b.length === 0) return Buffer.from([Tag.INTEGER, 1, 0]);
  return (b[0]! & 0x80) !== 0 ? tlv(Tag.INTEGER, Buffer.from([0]), b) : tlv(Tag.INTEGER, b);
}

export function int(n: number | bigint): Buffer {
  let v = BigInt(n);
  if (v < 0n) throw new DerError('negative INTEGER not supported');
  const bytes: number[] = [];
  do {
    bytes.unshift(Number(v & 0xffn));
    v >>= 8n;
  } while (v > 0n);
  return intFromUnsigned(Buffer.from(bytes));
}

export const enumerated = (n: number): Buffer => tlv(Tag.ENUMERATED, Buffer.from([n]));
export const bool = (v: boolean): Buffer => Buffer.from([Tag.BOOLEAN, 1, v ? 0xff : 0]);
export const nullValue = (): Buffer => Buffer.from([Tag.NULL, 0]);
export const octetString = (b: Uint8Array): Buffer => tlv(Tag.OCTET_STRING, b);
export const bitString = (b: Uint8Array, unusedBits = 0): Buffer => tlv(Tag.BIT_STRING, Buffer.from([unusedBits]), b);
export const utf8String = (s: string): Buffer => tlv(Tag.UTF8_STRING, Buffer.from(s, 'utf8'));
export const printableString = (s: string): Buffer => tlv(Tag.PRINTABLE_STRING, Buffer.from(s, 'latin1'));
export const ia5String = (s: string): Buffer => tlv(Tag.IA5_STRING, Buffer.from(s, 'latin1'));

/** A named-bit BIT STRING (KeyUsage): bit 0 is the most significant bit of the first byte. */
export function namedBits(bits: number[]): Buffer {
  if (bits.length === 0) return bitString(Buffer.alloc(0));
  const max = Math.max(...bits);
  const bytes = Buffer.alloc((max >> 3) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  // DER: trailing zero bits are removed and counted as unused.
  let unused = 0;
  const last = bytes[bytes.length - 1]!;
  while (unused < 8 && (last & (1 << unused)) === 0) unused++;
  return bitString(bytes, unused);
}

const oidCache = new Map<string, Buffer>();
export function oid(dotted: string): Buffer {
  const hit = oidCache.get(dotted);
  if (hit) return hit;
  const arcs = dotted.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new DerError(`invalid OID ${dotted}`);
    return BigInt(a);
  });
  if (arcs.length < 2) throw new DerError(`invalid OID ${dotted}`);
  const body: number[] = [];
  const push = (v: bigint): void => {
    const tmp: number[] = [Number(v & 0x7fn)];
    v >>= 7n;
    while (v > 0n) {
      tmp.unshift(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    body.push(...tmp);
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  const enc = tlv(Tag.OID, Buffer.from(body));
  oidCache.set(dotted, enc);
  return enc;
}

/** RFC 5280: UTCTime through 2049, GeneralizedTime from 2050; seconds precision, Zulu. */
export function time(d: Date): Buffer {
  const y = d.getUTCFullYear();
  return y < 2050 && y >= 1950 ? utcTime(d) : generalizedTime(d);
}

function writeDigits(out: Buffer, off: number, n: number, width: number): number {
  for (let i = width - 1; i >= 0; i--) {
    out[off + i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  return off + width;
}

/** YYMMDDHHMMSSZ (UTCTime) or YYYYMMDDHHMMSSZ (GeneralizedTime), written straight into the TLV. */
function encodeTime(tag: number, d: Date, yearDigits: 2 | 4): Buffer {
  const ms = d.getTime();
  if (!Number.isFinite(ms)) throw new DerError('invalid date');
  const y = d.getUTCFullYear();
  if (y < 0 || y > 9999) throw new DerError(`year ${y} cannot be encoded`);
  const len = yearDigits + 11;
  const out = Buffer.allocUnsafe(2 + len);
  out[0] = tag;
  out[1] = len;
  let off = writeDigits(out, 2, yearDigits === 2 ? y % 100 : y, yearDigits);
  off = writeDigits(out, off, d.getUTCMonth() + 1, 2);
  off = writeDigits(out, off, d.getUTCDate(), 2);
  off = writeDigits(out, off, d.getUTCHours(), 2);
  off = writeDigits(out, off, d.getUTCMinutes(), 2);
  off = writeDigits(out, off, d.getUTCSeconds(), 2);
  out[off] = 0x5a; // Z
  return out;
}

export function utcTime(d: Date): Buffer {
  return encodeTime(Tag.UTC_TIME, d, 2);
}
export function generalizedTime(d: Date): Buffer {
  return encodeTime(Tag.GENERALIZED_TIME, d, 4);
}

// ---------------------------------------------------------------------------------------------
// Decoding

export interface Node {
  tag: number;
  /** offset of the tag byte in `buf` */
  start: number;
  /** offset of the first content byte */
  contentStart: number;
  /** offset one past the last content byte */
  end: number;
  buf: Buffer;
}

export function readNode(buf: Buffer, offset = 0, limit = buf.length): Node {
  if (offset + 2 > limit) throw new DerError('truncated DER: no room for tag and length');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('high-tag-number form is not supported');
  let p = offset + 1;
  const first = buf[p++]!;
  let len: number;
  if (first < 0x80) len = first;
  else {
    const n = first & 0x7f;
    if (n === 0) throw new DerError('indefinite length is not DER');
    if (n > 4) throw new DerError('length too large');
    if (p + n > limit) throw new DerError('truncated DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++]!;
    if (len < 0x80 || (n > 1 && buf[p - n] === 0)) throw new DerError('non-minimal DER length');
  }
  const end = p + len;
  if (end > limit) throw new DerError('truncated DER: content runs past the end');
  return { tag, start: offset, contentStart: p, end, buf };
}

/** Parses a buffer that must hold exactly one TLV. */
export function parse(buf: Buffer): Node {
  const n = readNode(buf, 0);
  if (n.end !== buf.length) throw new DerError('trailing bytes after DER value');
  return n;
}

export function children(n: Node): Node[] {
  if ((n.tag & 0x20) === 0) throw new DerError(`tag 0x${n.tag.toString(16)} is not constructed`);
  const out: Node[] = [];
  let p = n.contentStart;
  while (p < n.end) {
    const c = readNode(n.buf, p, n.end);
    out.push(c);
    p = c.end;
  }
  return out;
}

export const content = (n: Node): Buffer => n.buf.subarray(n.contentStart, n.end);
export const raw = (n: Node): Buffer => n.buf.subarray(n.start, n.end);

export function expect(n: Node | undefined, tag: number, what: string): Node {
  if (!n) throw new DerError(`${what}: missing`);
  if (n.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, got 0x${n.tag.toString(16)}`);
  return n;
}

export function decodeOid(n: Node): string {
  expect(n, Tag.OID, 'OBJECT IDENTIFIER');
  const b = content(n);
  if (b.length === 0) throw new DerError('empty OID');
  if ((b[b.length - 1]! & 0x80) !== 0) throw new DerError('OID ends inside a subidentifier');
  // Numbers while exact (every arc in practice; DER parsing meets OIDs on every certificate, CSR
  // and OCSP request), BigInt only for longer arcs such as 2.25's UUIDs.
  const arcs: (number | bigint)[] = [];
  let v = 0;
  let big: bigint | undefined;
  let start = true;
  for (const byte of b) {
    if (start && byte === 0x80) throw new DerError('OID subidentifier with a leading 0x80 (not minimal)');
    start = (byte & 0x80) === 0;
    if (big === undefined && v < 2 ** 45) v = v * 128 + (byte & 0x7f);
    else big = ((big ?? BigInt(v)) << 7n) | BigInt(byte & 0x7f);
    if (start) {
      arcs.push(big ?? v);
      v = 0;
      big = undefined;
    }
  }
  const first = arcs[0]!;
  if (typeof first === 'bigint') arcs.splice(0, 1, 2, first - 80n);
  else arcs.splice(0, 1, ...(first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80]));
  return arcs.join('.');
}

/** INTEGER content as unsigned hex (lowercase, no leading zero byte). */
export function decodeIntHex(n: Node): string {
  expect(n, Tag.INTEGER, 'INTEGER');
  let b = content(n);
  if (b.length === 0) throw new DerError('empty INTEGER');
  if ((b[0]! & 0x80) !== 0) throw new DerError('negative INTEGER');
  while (b.length > 1 && b[0] === 0) b = b.subarray(1);
  return b.toString('hex');
}

export function decodeSmallInt(n: Node): number {
  const hex = decodeIntHex(n);
  if (hex.length > 12) throw new DerError('INTEGER too large');
  return parseInt(hex, 16);
}

export function decodeString(n: Node): string {
  const b = content(n);
  switch (n.tag) {
    case Tag.UTF8_STRING:
      return b.toString('utf8');
    case Tag.PRINTABLE_STRING:
    case Tag.IA5_STRING:
    case Tag.T61_STRING:
      return b.toString('latin1');
    case Tag.BMP_STRING:
      return Buffer.from(b).swap16().toString('utf16le');
    case Tag.UNIVERSAL_STRING: {
      let s = '';
      for (let i = 0; i + 3 < b.length; i += 4) s += String.fromCodePoint(b.readUInt32BE(i));
      return s;
    }
    default:
      throw new DerError(`tag 0x${n.tag.toString(16)} is not a string type`);
  }
}

export function decodeTime(n: Node): Date {
  const s = content(n).toString('latin1');
  let m: RegExpExecArray | null;
  if (n.tag === Tag.UTC_TIME && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    const yy = Number(m[1]);
    return new Date(Date.UTC(yy >= 50 ? 1900 + yy : 2000 + yy, Number(m[2]) - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  }
  if (n.tag === Tag.GENERALIZED_TIME && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\.\d+)?Z$/.exec(s))) {
    return new Date(Date.UTC(+m[1]!, Number(m[2]) - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  }
  throw new DerError(`invalid time ${JSON.stringify(s)}`);
}

export function decodeBitString(n: Node): Buffer {
  expect(n, Tag.BIT_STRING, 'BIT STRING');
  const b = content(n);
  if (b.length === 0) throw new DerError('empty BIT STRING');
  return b.subarray(1);
}
