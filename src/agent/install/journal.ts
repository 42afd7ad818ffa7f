// The renewal journal on disk: one JSON file per order under <journal-dir>/renewals/, replaced
// atomically after every finished step. Together with the labels on the token (pending:<order>,
// retired:<order>) it is enough for a restarted assistant to resume (see renewal.ts).
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ORDER_ID_PATTERN } from '../../pki/renewal-proof.js';
import { atomicWriteFile } from '../fsutil.js';

/** The steps, in order. Fault injection (CERTDESK_AGENT_CRASH_AFTER) uses these names. */
export const RENEWAL_STEPS = [
  'key-generated',
  'csr-built',
  'certificate-received',
  'certificate-written',
  'verified',
  'labels-switched',
  'confirmed',
  'old-retired',
] as const;
export type RenewalStep = (typeof RENEWAL_STEPS)[number];
export type JournalStep = 'started' | RenewalStep;

export const isRenewalStep = (s: string): s is RenewalStep => (RENEWAL_STEPS as readonly string[]).includes(s);

export function stepIndex(s: JournalStep): number {
  return s === 'started' ? -1 : RENEWAL_STEPS.indexOf(s);
}

/** True when the journal has finished `step` (or a later one). */
export const reached = (j: { step: JournalStep }, step: RenewalStep): boolean => stepIndex(j.step) >= stepIndex(step);

export interface RenewalJournal {
  v: 1;
  orderId: string;
  /** the web origin that started the renewal; only it may drive it */
  origin: string;
  tokenId: string;
  tokenLabel: string;
  /** policy at start: keep the old pair (relabelled retired:<order>) instead of deleting it */
  keepOld: boolean;
  old: {
    keyId: string;
    certId: string;
    label: string;
    serial: string;
    keyType: string;
    /** DER certificate, base64 */
    certificate: string;
  };
  pending?: { id: string; label: string; keyType: string; spki: string };
  /** DER CSR and renewal proof, base64 */
  csr?: string;
  proof?: string;
  /** the issued certificate, DER base64 */
  certificate?: string;
  step: JournalStep;
  history: { step: JournalStep; at: string }[];
  /** the last error that stopped the renewal (cleared when a step succeeds) */
  lastError?: { code: string; message: string; at: string };
  createdAt: string;
  updatedAt: string;
}

export class JournalStore {
  readonly dir: string;

  constructor(journalDir: string) {
    this.dir = path.join(path.resolve(journalDir), 'renewals');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  private file(orderId: string): string {
    if (!ORDER_ID_PATTERN.test(orderId)) throw new Error(`invalid order id ${JSON.stringify(orderId)}`);
    return path.join(this.dir, `${orderId}.json`);
  }

  get(orderId: string): RenewalJournal | undefined {
    let text: string;
    try {
      text = readFileSync(this.file(orderId), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    const j = JSON.parse(text) as RenewalJournal;
    if (j.v !== 1 || j.orderId !== orderId) throw new Error(`journal file for order ${orderId} is not a renewal journal`);
    return j;
  }

  list(): RenewalJournal[] {
    const out: RenewalJournal[] = [];
    for (const name of readdirSync(this.dir)) {
      const m = /^(.+)\.json$/.exec(name);
      if (!m || !ORDER_ID_PATTERN.test(m[1]!)) continue;
      try {
        const j = this.get(m[1]!);
        if (j) out.push(j);
      } catch {
        // unreadable entries are skipped (a renewal of a file that is not ours)
      }
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  save(j: RenewalJournal): void {
    j.updatedAt = new Date().toISOString();
    atomicWriteFile(this.file(j.orderId), JSON.stringify(j, null, 1) + '\n');
  }
}
