// Issued certificates: the record, its columns, and the queries on it. Recording is
// certificate-writer.ts (group commit); the OCSP status read is certificate-status.ts.
import { sql, type Selectable } from 'kysely';
import { PreparedQuery } from './compiled.js';
import type { Executor } from './database.js';
import type { CertificateStatus, CertificateTable } from './schema.js';
import { containsText } from './text-match.js';

export type CertificateRecord = Selectable<CertificateTable>;

/** Values per IN (…) list: one prepared statement per list length up to this. */
export const IN_LIST_CHUNK = 64;

/** Every column of a certificate row, in table order (bulk inserts here, and bench:seed-load's COPY). */
export const CERTIFICATE_COLUMNS = [
  'serial',
  'ca_id',
  'holder_id',
  'profile',
  'subject',
  'not_before',
  'not_after',
  'status',
  'revoked_at',
  'revocation_reason',
  'renews_serial',
  'order_id',
  'spki_sha256',
  'der',
  'issued_at',
  'signing_serial',
  'crl_shard',
] as const satisfies readonly (keyof CertificateRecord)[];

const certificateBySerial = new PreparedQuery(['serial'], (db, p) =>
  db.selectFrom('certificates').selectAll().where('serial', '=', p.serial),
);

export async function getCertificate(db: Executor, serial: string): Promise<CertificateRecord | undefined> {
  return certificateBySerial.first(db, { serial: normaliseSerial(serial) });
}

const revokeUpdate = new PreparedQuery(['serial', 'revokedAt', 'reason'], (db, p) =>
  db
    .updateTable('certificates')
    .set({ status: 'revoked', revoked_at: p.revokedAt, revocation_reason: p.reason })
    .where('serial', '=', p.serial),
);

/** Sets the certificate revoked (the CA checks first that it was not, in the same transaction). */
export async function markRevoked(tx: Executor, serial: string, revokedAt: number, reason: number): Promise<void> {
  await revokeUpdate.run(tx, { serial, revokedAt, reason });
}

const certificateByOrder = new PreparedQuery(['orderId'], (db, p) =>
  db.selectFrom('certificates').selectAll().where('order_id', '=', p.orderId),
);

export async function getCertificateByOrder(db: Executor, orderId: string): Promise<CertificateRecord | undefined> {
  return certificateByOrder.first(db, { orderId });
}

const encryptionPartner = new PreparedQuery(['signingSerial'], (db, p) =>
  db.selectFrom('certificates').selectAll().where('signing_serial', '=', p.signingSerial),
);

/** The encryption certificate paired with a signing certificate (SM2 dual pair), if any. */
export async function getEncryptionPartner(db: Executor, signingSerial: string): Promise<CertificateRecord | undefined> {
  return encryptionPartner.first(db, { signingSerial: normaliseSerial(signingSerial) });
}

/** The encryption partners of several signing certificates in one query, by signing serial. */
export async function getEncryptionPartners(db: Executor, signingSerials: string[]): Promise<Map<string, CertificateRecord>> {
  return new Map((await certificatesWhereIn(db, 'signing_serial', signingSerials)).map((r) => [r.signing_serial!, r]));
}

/** Several certificates by serial in one query (per 64), by serial; a serial not found is absent. */
export async function getCertificates(db: Executor, serials: string[]): Promise<Map<string, CertificateRecord>> {
  return new Map((await certificatesWhereIn(db, 'serial', serials.map(normaliseSerial))).map((r) => [r.serial, r]));
}

/**
 * The signing certificates still in force (not revoked, not expired at `now`; not the encryption
 * half of a pair) of these holders, newest first: what a 挂失 may mean.
 */
export async function liveSigningCertificatesOf(db: Executor, holderIds: number[], now: number): Promise<CertificateRecord[]> {
  return (
    await certificatesWhereIn(db, 'holder_id', holderIds, (q) =>
      q.where('status', '=', 'valid').where('signing_serial', 'is', null).where('not_after', '>', now),
    )
  ).sort((a, b) => b.issued_at - a.issued_at || (a.serial < b.serial ? 1 : -1));
}

type CertificateQuery = ReturnType<typeof allCertificates>;
const allCertificates = (db: Executor) => db.selectFrom('certificates').selectAll();

/** Rows whose `column` is one of `values`, in IN queries of IN_LIST_CHUNK values each (none: no query). */
async function certificatesWhereIn<C extends 'serial' | 'signing_serial' | 'holder_id'>(
  db: Executor,
  column: C,
  values: NonNullable<CertificateRecord[C]>[],
  also: (q: CertificateQuery) => CertificateQuery = (q) => q,
): Promise<CertificateRecord[]> {
  const unique = [...new Set(values)];
  const out: CertificateRecord[] = [];
  for (let i = 0; i < unique.length; i += IN_LIST_CHUNK)
    out.push(
      ...(await also(allCertificates(db))
        .where(column, 'in', unique.slice(i, i + IN_LIST_CHUNK) as never)
        .execute()),
    );
  return out;
}

export interface CertificateFilter {
  holderId?: number;
  status?: CertificateStatus;
  profile?: string;
  /** substring of the subject */
  subject?: string;
  limit?: number;
  offset?: number;
}

export async function listCertificates(db: Executor, f: CertificateFilter = {}): Promise<CertificateRecord[]> {
  let q = db.selectFrom('certificates').selectAll();
  if (f.holderId !== undefined) q = q.where('holder_id', '=', f.holderId);
  if (f.status) q = q.where('status', '=', f.status);
  if (f.profile) q = q.where('profile', '=', f.profile);
  if (f.subject) q = q.where(containsText('subject', f.subject));
  return q
    .orderBy('issued_at', 'desc')
    .orderBy('serial')
    .limit(f.limit ?? 100)
    .offset(f.offset ?? 0)
    .execute();
}

/** One revoked certificate as a CRL lists it: [serial hex, revoked_at ms, reason code or null]. */
export type CrlEntryRow = { serial: string; revoked_at: number | null; revocation_reason: number | null };

/**
 * The revoked certificates of a CA (`shard` null: all of them, for the full CRL; else those of one
 * shard) in batches of `batch`, by keyset on serial: each batch is one index range read
 * (certificates_crl_entries / certificates_crl_shard_entries, migration 0021), so 1M entries never
 * sit in memory as row objects at once.
 */
export async function* revokedBatches(
  db: Executor,
  caId: string,
  shard: number | null,
  batch = 10_000,
): AsyncGenerator<CrlEntryRow[]> {
  let after = '';
  for (;;) {
    const rows =
      shard === null
        ? await revokedOfCa.execute(db, { caId, after, batch })
        : await revokedOfShard.execute(db, { caId, shard, after, batch });
    if (rows.length) yield rows;
    if (rows.length < batch) return;
    after = rows[rows.length - 1]!.serial;
  }
}

const revokedQuery = (db: Executor, caId: string) =>
  db
    .selectFrom('certificates')
    .select(['serial', 'revoked_at', 'revocation_reason'])
    .where('ca_id', '=', caId)
    // a literal, so both databases match the partial indexes' predicate
    .where(sql<boolean>`status = 'revoked'`);
const revokedOfCa = new PreparedQuery(['caId', 'after', 'batch'], (db, p) =>
  revokedQuery(db, p.caId).where('serial', '>', p.after).orderBy('serial').limit(p.batch),
);
const revokedOfShard = new PreparedQuery(['caId', 'shard', 'after', 'batch'], (db, p) =>
  revokedQuery(db, p.caId).where('crl_shard', '=', p.shard).where('serial', '>', p.after).orderBy('serial').limit(p.batch),
);

/**
 * The one stored form of a serial: lowercase hex of the INTEGER's octets without leading zero octets
 * (what DER decoding yields and OpenSSL prints, e.g. "0cdd…"). Accepts colons, spaces, a 0x prefix.
 */
export function normaliseSerial(s: string): string {
  const hex = s
    .trim()
    .replace(/^0x/i, '')
    .replace(/[:\s]/g, '')
    .toLowerCase()
    .replace(/^0+(?=.)/, '');
  return hex.length % 2 ? '0' + hex : hex;
}

/** A serial as someone typed it (any spelling normaliseSerial takes), in stored form; undefined when it is not one (hex, 1–20 bytes). */
export function typedSerial(s: string): string | undefined {
  const serial = normaliseSerial(s);
  return /^[0-9a-f]{1,40}$/.test(serial) ? serial : undefined;
}
