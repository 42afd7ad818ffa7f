// Issued certificates. Recording goes through CertificateWriter, which group-commits concurrent
// issuances (one transaction, one fsync for many certificates) so durability does not cap throughput.
import type { Selectable } from 'kysely';
import { appendAudit, type AuditEntry } from './audit.js';
import { isUniqueViolation, writeTransaction, type Executor, type Storage } from './database.js';
import type { CertificateStatus, CertificateTable } from './schema.js';

export type CertificateRecord = Selectable<CertificateTable>;

export class DuplicateCertificateError extends Error {
  constructor(readonly field: 'serial' | 'order_id') {
    super(`a certificate with this ${field} is already recorded`);
    this.name = 'DuplicateCertificateError';
  }
}

interface PendingWrite {
  row: CertificateRecord;
  audit: AuditEntry;
  resolve: () => void;
  reject: (e: unknown) => void;
}

const BATCH = 400;

export class CertificateWriter {
  private pending: PendingWrite[] = [];
  private running = false;

  constructor(private readonly storage: Storage) {}

  /** Resolves once the certificate and its audit entry are committed. */
  record(row: CertificateRecord, audit: AuditEntry): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ row, audit, resolve, reject });
      if (!this.running) {
        this.running = true;
        // Let the other issuances of this tick join the batch.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, BATCH);
        try {
          await this.write(batch);
          for (const p of batch) p.resolve();
        } catch (e) {
          if (batch.length === 1) {
            batch[0]!.reject(this.classify(e, batch[0]!.row));
            continue;
          }
          // Isolate the row that failed: write each on its own.
          for (const p of batch) {
            try {
              await this.write([p]);
              p.resolve();
            } catch (e2) {
              p.reject(this.classify(e2, p.row));
            }
          }
        }
      }
    } finally {
      this.running = false;
    }
  }

  private classify(e: unknown, row: CertificateRecord): unknown {
    if (!isUniqueViolation(e)) return e;
    const msg = String((e as Error).message);
    return new DuplicateCertificateError(row.order_id && /order_id/.test(msg) ? 'order_id' : 'serial');
  }

  private async write(batch: PendingWrite[]): Promise<void> {
    await writeTransaction(this.storage, async (tx) => {
      for (let i = 0; i < batch.length; i += 100) {
        await tx
          .insertInto('certificates')
          .values(batch.slice(i, i + 100).map((p) => p.row))
          .execute();
      }
      await appendAudit(
        tx,
        batch.map((p) => p.audit),
      );
    });
  }
}

export async function getCertificate(db: Executor, serial: string): Promise<CertificateRecord | undefined> {
  return db.selectFrom('certificates').selectAll().where('serial', '=', normaliseSerial(serial)).executeTakeFirst();
}

export async function getCertificateByOrder(db: Executor, orderId: string): Promise<CertificateRecord | undefined> {
  return db.selectFrom('certificates').selectAll().where('order_id', '=', orderId).executeTakeFirst();
}

/** Status fields only: what OCSP needs per request. */
export async function getCertificateStatus(
  db: Executor,
  serial: string,
): Promise<Pick<CertificateRecord, 'ca_id' | 'status' | 'revoked_at' | 'revocation_reason' | 'not_after'> | undefined> {
  return db
    .selectFrom('certificates')
    .select(['ca_id', 'status', 'revoked_at', 'revocation_reason', 'not_after'])
    .where('serial', '=', serial)
    .executeTakeFirst();
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
  if (f.subject) q = q.where('subject', 'like', `%${f.subject.replace(/[%_\\]/g, (c) => '\\' + c)}%`);
  return q
    .orderBy('issued_at', 'desc')
    .orderBy('serial')
    .limit(f.limit ?? 100)
    .offset(f.offset ?? 0)
    .execute();
}

export async function listRevoked(
  db: Executor,
  caId: string,
): Promise<Pick<CertificateRecord, 'serial' | 'revoked_at' | 'revocation_reason'>[]> {
  return db
    .selectFrom('certificates')
    .select(['serial', 'revoked_at', 'revocation_reason'])
    .where('ca_id', '=', caId)
    .where('status', '=', 'revoked')
    .orderBy('serial')
    .execute();
}

/** Lowercase hex without leading zeros, as stored. Accepts colons and a 0x prefix. */
export function normaliseSerial(s: string): string {
  const hex = s
    .trim()
    .replace(/^0x/i, '')
    .replace(/[:\s]/g, '')
    .toLowerCase()
    .replace(/^0+(?=.)/, '');
  return hex;
}
