// X.509 v2 CRLs (RFC 5280 §5): CRL number and AKI extensions, a critical issuingDistributionPoint
// on shard CRLs, a reasonCode entry extension for every reason other than unspecified. Entries
// arrive in batches and are written straight into one growing buffer (no TLV object per field), so
// a 1M-entry CRL costs about its own size in memory.
import * as der from '../pki/der.js';
import { OID } from '../pki/oids.js';
import type { Signer } from '../signer/signer.js';
import { assemble, canSignSync } from './certificate-builder.js';
import { authorityKeyIdentifier, crlNumber, extension, issuingDistributionPoint } from './extensions.js';

export interface RevokedEntry {
  serial: string;
  revokedAt: number;
  reason: number | null;
}

/** A batch of rows as the database returns them (sa/certificates.ts revokedBatches). */
export interface RevokedRow {
  serial: string;
  revoked_at: number | null;
  revocation_reason: number | null;
}

/** crlEntryExtensions with a reasonCode, per code (RFC 5280 §5.3.1: 0..10, 7 unused). */
const REASON_EXTENSIONS = Array.from({ length: 11 }, (_, code) => der.seq(extension(OID.cRLReason, false, der.enumerated(code))));

/** Encodes revokedCertificates entries into one buffer, growing it as needed. */
export class RevokedWriter {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private off = 0;
  count = 0;

  add(serial: string, revokedAt: number, reason: number | null): void {
    const hexLen = serial.length;
    if (hexLen === 0 || hexLen > 40) throw new Error(`CRL entry: serial ${JSON.stringify(serial)} is not 1–20 octets of hex`);
    const ext = reason !== null && reason !== 0 ? REASON_EXTENSIONS[reason] : undefined;
    if (reason !== null && reason !== 0 && !ext) throw new Error(`CRL entry ${serial}: reason code ${reason} is not a CRLReason`);
    const octets = (hexLen + 1) >> 1;
    // a leading zero octet when the serial's top bit is set (INTEGER is signed)
    const pad = parseInt(serial[0]!, 16) >= 8 && hexLen % 2 === 0 ? 1 : 0;
    const intLen = octets + pad;
    const time = timeOf(revokedAt);
    const bodyLen = 2 + intLen + time.length + (ext ? ext.length : 0);
    const need = der.headerLength(bodyLen) + bodyLen;
    if (this.off + need > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + need));
      this.buf.copy(grown, 0, 0, this.off);
      this.buf = grown;
    }
    const out = this.buf;
    let off = der.writeHeader(out, this.off, der.Tag.SEQUENCE, bodyLen);
    out[off++] = der.Tag.INTEGER;
    out[off++] = intLen;
    if (pad) out[off++] = 0;
    const written = out.write(hexLen % 2 ? '0' + serial : serial, off, 'hex');
    if (written !== octets) throw new Error(`CRL entry: serial ${JSON.stringify(serial)} is not hexadecimal`);
    off += written;
    off += time.copy(out, off);
    if (ext) off += ext.copy(out, off);
    this.off = off;
    this.count++;
  }

  addRows(rows: readonly RevokedRow[]): void {
    for (const r of rows) this.add(r.serial, r.revoked_at!, r.revocation_reason);
  }

  /** The entries written so far (a view of the buffer, valid until the next add). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.off);
  }
}

// Revocation times are whole seconds and many entries share one (a batch revocation): the last
// encoding is reused.
let lastTimeMs = NaN;
let lastTime: Buffer = Buffer.alloc(0);
function timeOf(ms: number): Buffer {
  if (ms !== lastTimeMs) {
    lastTime = der.time(new Date(ms));
    lastTimeMs = ms;
  }
  return lastTime;
}

export async function buildCrl(opts: {
  signer: Signer;
  issuerName: Buffer;
  issuerKeyId: Buffer;
  number: number;
  thisUpdate: Date;
  nextUpdate: Date;
  /** entries as a list, or batches from the database */
  revoked: RevokedEntry[] | AsyncIterable<readonly RevokedRow[]>;
  /** a shard CRL's scope: the URLs its certificates name in their CRL DP */
  distributionPoints?: string[];
}): Promise<{ der: Buffer; entries: number }> {
  const w = new RevokedWriter();
  if (Array.isArray(opts.revoked)) for (const r of opts.revoked) w.add(r.serial, r.revokedAt, r.reason);
  else for await (const rows of opts.revoked) w.addRows(rows);
  const extensions = der.explicit(
    0,
    der.seq(
      authorityKeyIdentifier(opts.issuerKeyId),
      crlNumber(opts.number),
      ...(opts.distributionPoints?.length ? [issuingDistributionPoint(opts.distributionPoints)] : []),
    ),
  );
  const head = Buffer.concat([
    der.int(1),
    opts.signer.algorithm.algId,
    opts.issuerName,
    der.time(opts.thisUpdate),
    der.time(opts.nextUpdate),
  ]);
  // TBSCertList written once: the entries (the bulk of a large CRL) are copied into it directly
  // rather than wrapped in a SEQUENCE and then again in the TBS
  const entries = w.bytes();
  // revokedCertificates is absent, not empty, when there are none (RFC 5280 §5.1.2.6)
  const listLen = w.count ? der.headerLength(entries.length) + entries.length : 0;
  const len = head.length + listLen + extensions.length;
  const tbs = Buffer.allocUnsafe(der.headerLength(len) + len);
  let off = der.writeHeader(tbs, 0, der.Tag.SEQUENCE, len);
  off += head.copy(tbs, off);
  if (w.count) {
    off = der.writeHeader(tbs, off, der.Tag.SEQUENCE, entries.length);
    off += entries.copy(tbs, off);
  }
  extensions.copy(tbs, off);
  // Signed where it stands: a CRL is built inside a write transaction, and a signature on libuv's
  // pool would hold that open across a turn of the event loop (on SQLite, every query behind it).
  const signature = canSignSync(opts.signer) ? opts.signer.signSync(tbs) : await opts.signer.sign(tbs);
  return { der: assemble(tbs, opts.signer.algorithm.algId, signature), entries: w.count };
}
