// The renewal journal on disk: one JSON file per order under <dir>/renewals/ (the key's journal
// directory, journal-dirs.ts), replaced atomically after every finished step. Together with the labels on the token (pending:<order>,
// retired:<order>) it is enough for a restarted assistant to resume (see renewal.ts).
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ORDER_ID_PATTERN } from '../../pki/renewal-proof.js';
import { atomicWriteFile } from '../fsutil.js';
import type { TokenKind } from '../tokens/driver.js';
import { singleJournalDir, type JournalDirs } from './journal-dirs.js';

/**
 * Every step, in order; a renewal of an SM2 dual pair (an encryption certificate and KMC envelope
 * received with the signing certificate) has them all. Fault injection (CERTDESK_AGENT_CRASH_AFTER)
 * uses these names.
 */
export const DUAL_RENEWAL_STEPS = [
  'key-generated',
  'csr-built',
  'certificate-received',
  'encryption-key-stored',
  'certificate-written',
  'verified',
  'seals-written',
  'labels-switched',
  'confirmed',
  'old-retired',
] as const;
export type RenewalStep = (typeof DUAL_RENEWAL_STEPS)[number];
export type JournalStep = 'started' | RenewalStep;

/** The steps of a renewal of a single certificate: the dual pair's without the encryption key's. */
export const RENEWAL_STEPS: readonly RenewalStep[] = DUAL_RENEWAL_STEPS.filter((s) => s !== 'encryption-key-stored');

export const isRenewalStep = (s: string): s is RenewalStep => (DUAL_RENEWAL_STEPS as readonly string[]).includes(s);

export function stepIndex(s: JournalStep): number {
  return s === 'started' ? -1 : DUAL_RENEWAL_STEPS.indexOf(s);
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
    /** the SM2 encryption pair that went with the old signing certificate, when there was one (kept, never deleted) */
    encryption?: { keyId: string; certId: string; label: string; serial: string; certificate: string };
  };
  pending?: { id: string; label: string; keyType: string; spki: string };
  /** DER CSR and renewal proof, base64 */
  csr?: string;
  proof?: string;
  /** the issued certificate, DER base64 */
  certificate?: string;
  /** the issued SM2 encryption certificate and the KMC's envelope (null: policy reuses the key on the token) */
  encryption?: {
    certificate: string;
    envelope: string | null;
    /** where the encryption key and certificate are on the token (from "encryption-key-stored") */
    keyId?: string;
    certId?: string;
  };
  /**
   * The holder's electronic seals re-made for the new certificate (印章更新), received with it: esID
   * and SESeal DER base64. Written as pending:<order>:<esID> at "seals-written", switched in with the
   * certificate. Absent or empty: the holder has no seal bound to the certificate.
   */
  seals?: { esId: string; der: string }[];
  step: JournalStep;
  history: { step: JournalStep; at: string }[];
  /** the last error that stopped the renewal (cleared when a step succeeds) */
  lastError?: { code: string; message: string; at: string };
  createdAt: string;
  updatedAt: string;
}

export class JournalStore {
  private readonly dirs: JournalDirs;
  /** order id → the renewals/ directory its journal is in (found or created) */
  private readonly located = new Map<string, string>();

  constructor(dirs: JournalDirs | string) {
    this.dirs = typeof dirs === 'string' ? singleJournalDir(dirs) : dirs;
  }

  private static file(dir: string, orderId: string): string {
    if (!ORDER_ID_PATTERN.test(orderId)) throw new Error(`invalid order id ${JSON.stringify(orderId)}`);
    return path.join(dir, `${orderId}.json`);
  }

  private renewalDirs(): string[] {
    return this.dirs.all().map((d) => path.join(d, 'renewals'));
  }

  private read(dir: string, orderId: string): RenewalJournal | undefined {
    let text: string;
    try {
      text = readFileSync(JournalStore.file(dir, orderId), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    const j = JSON.parse(text) as RenewalJournal;
    if (j.v !== 1 || j.orderId !== orderId) throw new Error(`journal file for order ${orderId} is not a renewal journal`);
    this.located.set(orderId, dir);
    return j;
  }

  get(orderId: string): RenewalJournal | undefined {
    const known = this.located.get(orderId);
    if (known) return this.read(known, orderId);
    for (const dir of this.renewalDirs()) {
      const j = this.read(dir, orderId);
      if (j) return j;
    }
    return undefined;
  }

  list(): RenewalJournal[] {
    const out = new Map<string, RenewalJournal>();
    for (const dir of this.renewalDirs()) {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      for (const name of names) {
        const m = /^(.+)\.json$/.exec(name);
        if (!m || !ORDER_ID_PATTERN.test(m[1]!) || out.has(m[1]!)) continue;
        try {
          const j = this.read(dir, m[1]!);
          if (j) out.set(j.orderId, j);
        } catch {
          // unreadable entries are skipped (a renewal of a file that is not ours)
        }
      }
    }
    return [...out.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** The first write of a new renewal, into the journal directory of its key. */
  create(j: RenewalJournal, token: { kind: TokenKind; source: string }): void {
    const dir = path.join(this.dirs.forToken({ id: j.tokenId, ...token }), 'renewals');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.located.set(j.orderId, dir);
    this.save(j);
  }

  save(j: RenewalJournal): void {
    const dir = this.located.get(j.orderId);
    if (!dir) throw new Error(`renewal ${j.orderId} has no journal yet`);
    j.updatedAt = new Date().toISOString();
    atomicWriteFile(JournalStore.file(dir, j.orderId), JSON.stringify(j, null, 1) + '\n');
  }
}
