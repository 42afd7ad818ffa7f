// The audit log for auditors: filtered, keyset-paged browsing (newest first), CSV export of every
// matching entry (oldest first, streamed in pages) and the hash-chain check.
import { verifyAuditChain } from '../sa/audit.js';
import { searchAudit, type AuditSearch } from '../sa/backoffice.js';
import type { AuditTable } from '../sa/schema.js';
import type { Runtime } from '../runtime.js';

export type AuditFilter = Pick<AuditSearch, 'actor' | 'action' | 'target' | 'from' | 'to'>;

export const AUDIT_CSV_COLUMNS = ['seq', 'at', 'actor', 'action', 'target', 'details', 'prev_hash', 'hash'] as const;

/** A CSV field: quoted when needed; a leading = + - @ is prefixed with ' so spreadsheets do not run it as a formula. */
export function csvField(v: unknown): string {
  let s = v === null || v === undefined ? '' : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function auditCsvLine(r: AuditTable): string {
  return (
    [r.seq, new Date(r.at).toISOString(), r.actor, r.action, r.target, r.details, r.prev_hash, r.hash].map(csvField).join(',') +
    '\r\n'
  );
}

export class StaffAudit {
  constructor(readonly rt: Runtime) {}

  browse(f: AuditFilter & { beforeSeq?: number; limit: number }) {
    return searchAudit(this.rt.storage.db, { ...f, order: 'desc' });
  }

  /** CSV text in chunks (header first), oldest first; at most `max` entries. */
  async *exportCsv(f: AuditFilter, max = 1_000_000): AsyncGenerator<string> {
    yield '\uFEFF' + AUDIT_CSV_COLUMNS.join(',') + '\r\n';
    let after = 0;
    let sent = 0;
    for (;;) {
      const page = await searchAudit(this.rt.storage.db, { ...f, afterSeq: after, limit: 2000, order: 'asc' });
      if (page.length === 0) return;
      yield page.map(auditCsvLine).join('');
      sent += page.length;
      after = page[page.length - 1]!.seq;
      if (sent >= max) return;
    }
  }

  verify() {
    return verifyAuditChain(this.rt.storage.db);
  }
}
