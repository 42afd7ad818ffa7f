// The renewal install as a journaled transaction (docs/ARCHITECTURE "The renewal as a transaction"):
//
//   started → key-generated → csr-built ⇢ certificate-received → certificate-written → verified
//           → labels-switched ⇢ confirmed → old-retired (done)
//
// ⇢ marks where the assistant waits for the portal (the issued certificate; the server's "installed"
// acknowledgement). Every step is idempotent and is recorded in the journal only after its effect on
// the token is complete, so a crash anywhere leaves a journal that is at most one step behind the
// token, and redoing that step is harmless:
//   key-generated        adopts a key already labelled pending:<order> (generated, not yet journaled)
//   csr-built            signs again (nothing was sent yet)
//   certificate-written  writing the same certificate under the same id is a no-op
//   labels-switched      relabels by CKA_ID, old first, so a half-done switch still has both pairs
//   old-retired          deleting what is already gone deletes nothing
// The old pair stays usable until the new one is written, verified and switched in: at every moment
// the key holds at least one certificate whose private key is present and signs.
import { randomBytes, verify } from 'node:crypto';
import { keyTypeOfSpki, signatureAlgorithmFor, type KeyType, isKeyType } from '../../pki/algorithms.js';
import { parseCertificate, type ParsedCertificate } from '../../pki/certificate.js';
import { parseCsr } from '../../pki/csr.js';
import * as der from '../../pki/der.js';
import { derOrPem } from '../../pki/pem.js';
import { buildRenewalProof, ORDER_ID_PATTERN } from '../../pki/renewal-proof.js';
import { AgentError } from '../errors.js';
import { KeyedQueue } from '../fsutil.js';
import {
  keyForSpki,
  labelState,
  PENDING_PREFIX,
  RETIRED_PREFIX,
  TokenError,
  type TokenSession,
  type TokenSummary,
} from '../tokens/driver.js';
import { reached, type JournalStep, type JournalStore, type RenewalJournal, type RenewalStep } from './journal.js';

export interface RenewalEngineOptions {
  /** keep the old pair relabelled retired:<order> instead of deleting it */
  keepOld: boolean;
  /** called after each step is journaled (fault injection hooks in here) */
  afterStep?: (step: RenewalStep, journal: RenewalJournal) => void;
}

export function checkOrderId(orderId: unknown): string {
  if (typeof orderId !== 'string' || !ORDER_ID_PATTERN.test(orderId)) {
    throw new AgentError(
      400,
      'invalid_order_id',
      'orderId must be 1–64 letters, digits, dots, dashes or underscores, starting with a letter or digit',
      {
        field: 'orderId',
      },
    );
  }
  return orderId;
}

/** What the portal sees of a renewal (GET /v1/renewals/:orderId). */
export interface RenewalView {
  orderId: string;
  tokenId: string;
  step: JournalStep;
  status: 'in_progress' | 'done';
  /** what happens next and who does it */
  next: 'approve' | 'certificate' | 'confirm' | null;
  keepOld: boolean;
  oldSerial: string;
  newSerial: string | null;
  csr: string | null;
  proof: string | null;
  history: { step: JournalStep; at: string }[];
  lastError: RenewalJournal['lastError'] | null;
  createdAt: string;
  updatedAt: string;
}

export function renewalView(j: RenewalJournal): RenewalView {
  let next: RenewalView['next'] = 'approve';
  if (j.step === 'csr-built') next = 'certificate';
  else if (j.step === 'labels-switched') next = 'confirm';
  else if (j.step === 'old-retired') next = null;
  let newSerial: string | null = null;
  if (j.certificate) newSerial = parseCertificate(Buffer.from(j.certificate, 'base64')).serialHex.toUpperCase();
  return {
    orderId: j.orderId,
    tokenId: j.tokenId,
    step: j.step,
    status: j.step === 'old-retired' ? 'done' : 'in_progress',
    next,
    keepOld: j.keepOld,
    oldSerial: j.old.serial,
    newSerial,
    csr: j.csr ?? null,
    proof: j.proof ?? null,
    history: j.history,
    lastError: j.lastError ?? null,
    createdAt: j.createdAt,
    updatedAt: j.updatedAt,
  };
}

export class RenewalEngine {
  private readonly queue = new KeyedQueue();

  constructor(
    readonly store: JournalStore,
    private readonly opts: RenewalEngineOptions,
  ) {}

  get(orderId: string): RenewalJournal | undefined {
    return this.store.get(checkOrderId(orderId));
  }

  /** Serializes work on one order (two tabs, a retry racing the first try). */
  run<T>(orderId: string, fn: () => Promise<T>): Promise<T> {
    return this.queue.run(orderId, fn);
  }

  /**
   * Starts a renewal (journal at 'started') or returns the existing journal of this order, after
   * checking that it belongs to the same key and origin.
   */
  async begin(p: {
    orderId: string;
    origin: string;
    token: Pick<TokenSummary, 'id' | 'label' | 'kind' | 'source'>;
    session: TokenSession;
    certificateId?: string;
    keyType?: string;
  }): Promise<RenewalJournal> {
    const existing = this.store.get(p.orderId);
    if (existing) {
      this.checkOwner(existing, p.origin, p.token.id);
      return existing;
    }
    const certs = (await p.session.readCertificates()).filter((c) => labelState(c.label) === 'current');
    const keys = await p.session.listKeys();
    const usable = certs.flatMap((c) => {
      let parsed: ParsedCertificate;
      try {
        parsed = parseCertificate(c.der);
      } catch {
        return [];
      }
      const key = keyForSpki(keys, parsed.spki);
      return key ? [{ c, parsed, key }] : [];
    });
    let chosen = usable[0];
    const wanted = p.certificateId?.toLowerCase();
    if (wanted !== undefined) {
      chosen = usable.find((u) => u.c.id === wanted);
      if (!chosen) {
        throw new AgentError(
          404,
          'certificate_not_found',
          `no certificate with id ${p.certificateId} and its private key on this key`,
          {
            field: 'certificateId',
          },
        );
      }
    } else if (usable.length > 1) {
      throw new AgentError(
        400,
        'certificate_required',
        `this key holds ${usable.length} certificates; say which one to renew (certificateId)`,
        {
          field: 'certificateId',
        },
      );
    }
    if (!chosen)
      throw new AgentError(404, 'certificate_not_found', 'this key holds no certificate with its private key to renew');
    let keyType: KeyType = chosen.key.keyType;
    if (p.keyType !== undefined) {
      if (!isKeyType(p.keyType))
        throw new AgentError(400, 'invalid_key_type', `keyType ${JSON.stringify(p.keyType)} is not supported`, {
          field: 'keyType',
        });
      keyType = p.keyType;
    }
    const now = new Date().toISOString();
    const j: RenewalJournal = {
      v: 1,
      orderId: p.orderId,
      origin: p.origin,
      tokenId: p.token.id,
      tokenLabel: p.token.label,
      keepOld: this.opts.keepOld,
      old: {
        keyId: chosen.key.id,
        certId: chosen.c.id,
        label: chosen.c.label || chosen.key.label || 'certdesk',
        serial: chosen.parsed.serialHex.toUpperCase(),
        keyType,
        certificate: chosen.c.der.toString('base64'),
      },
      step: 'started',
      history: [{ step: 'started', at: now }],
      createdAt: now,
      updatedAt: now,
    };
    this.store.create(j, p.token);
    return j;
  }

  checkOwner(j: RenewalJournal, origin: string | undefined, tokenId?: string): void {
    if (origin !== undefined && j.origin !== origin) {
      throw new AgentError(
        403,
        'renewal_other_origin',
        `renewal ${j.orderId} was started by ${j.origin}; another site cannot drive it`,
      );
    }
    if (tokenId !== undefined && j.tokenId !== tokenId) {
      throw new AgentError(
        409,
        'renewal_other_token',
        `renewal ${j.orderId} is for key ${j.tokenId} (${j.tokenLabel}); insert that key`,
        {
          tokenId: j.tokenId,
        },
      );
    }
  }

  private commit(j: RenewalJournal, step: RenewalStep): void {
    j.step = step;
    j.history.push({ step, at: new Date().toISOString() });
    delete j.lastError;
    this.store.save(j);
    this.opts.afterStep?.(step, j);
  }

  private fail(j: RenewalJournal, e: unknown): never {
    const err = e instanceof AgentError ? e : e instanceof TokenError ? e : undefined;
    j.lastError = {
      code: err instanceof AgentError ? err.code : err instanceof TokenError ? err.code.toLowerCase() : 'internal_error',
      message: (e as Error)?.message ?? String(e),
      at: new Date().toISOString(),
    };
    try {
      this.store.save(j);
    } catch {
      // the original error matters more
    }
    if (e instanceof TokenError && e.code === 'TOKEN_REMOVED') {
      throw new AgentError(
        409,
        'token_removed',
        `the key was removed during the renewal; insert it again and approve once more: it resumes after step "${j.step}"`,
        {
          step: j.step,
        },
      );
    }
    throw e;
  }

  /** Runs every step that needs nothing but the token session; stops where the portal must act. */
  async advance(j: RenewalJournal, session: TokenSession): Promise<RenewalJournal> {
    if (session.tokenId !== j.tokenId) this.checkOwner(j, undefined, session.tokenId);
    try {
      for (;;) {
        switch (j.step) {
          case 'started':
            await this.generateKey(j, session);
            break;
          case 'key-generated':
            await this.buildCsr(j, session);
            break;
          case 'certificate-received':
            await this.writeCertificate(j, session);
            break;
          case 'certificate-written':
            await this.verifyInstalled(j, session);
            break;
          case 'verified':
            await this.switchLabels(j, session);
            break;
          case 'confirmed':
            await this.retireOld(j, session);
            break;
          case 'csr-built':
          case 'labels-switched':
          case 'old-retired':
            return j;
        }
      }
    } catch (e) {
      this.fail(j, e);
    }
  }

  private async generateKey(j: RenewalJournal, s: TokenSession): Promise<void> {
    const label = `${PENDING_PREFIX}${j.orderId}`;
    // A key generated before a crash that kept it out of the journal is adopted, not duplicated.
    let key = (await s.listKeys()).find((k) => k.label === label);
    key ??= await s.generateKeyPair({ label, keyType: j.old.keyType as KeyType });
    j.pending = { id: key.id, label, keyType: key.keyType, spki: key.spki.toString('base64') };
    this.commit(j, 'key-generated');
  }

  private async buildCsr(j: RenewalJournal, s: TokenSession): Promise<void> {
    const pending = j.pending!;
    const old = parseCertificate(Buffer.from(j.old.certificate, 'base64'));
    const spki = Buffer.from(pending.spki, 'base64');
    const alg = signatureAlgorithmFor(pending.keyType as KeyType);
    // The subject is copied byte for byte from the certificate being renewed.
    const info = der.seq(der.int(0), old.subjectDer, spki, der.explicit(0));
    const csr = der.seq(info, alg.algId, der.bitString(await s.sign(pending.id, info)));
    parseCsr(csr); // the token signed with the key it was asked to (throws otherwise)
    const proof = await buildRenewalProof(j.orderId, csr, (m) => s.sign(j.old.keyId, m));
    j.csr = csr.toString('base64');
    j.proof = proof.toString('base64');
    this.commit(j, 'csr-built');
  }

  /**
   * The issued certificate arrives from the portal. Checked against the pending key BEFORE anything
   * is written (no token access needed: the journal has the pending public key).
   */
  receiveCertificate(j: RenewalJournal, input: Buffer): RenewalJournal {
    let certDer: Buffer;
    let cert: ParsedCertificate;
    try {
      certDer = derOrPem(input, 'CERTIFICATE');
      cert = parseCertificate(certDer);
    } catch (e) {
      throw new AgentError(400, 'bad_certificate', `certificate is not a DER or PEM X.509 certificate: ${(e as Error).message}`, {
        field: 'certificate',
      });
    }
    if (j.certificate !== undefined) {
      if (j.certificate === certDer.toString('base64')) return j;
      throw new AgentError(409, 'certificate_conflict', `renewal ${j.orderId} already received a different certificate`, {
        step: j.step,
      });
    }
    if (!reached(j, 'csr-built')) {
      throw new AgentError(409, 'renewal_not_ready', `renewal ${j.orderId} has no CSR yet (step "${j.step}"); approve it first`, {
        step: j.step,
      });
    }
    if (!cert.spki.equals(Buffer.from(j.pending!.spki, 'base64'))) {
      throw new AgentError(
        422,
        'certificate_key_mismatch',
        "the certificate's public key is not the key generated for this renewal; nothing was written",
        {
          field: 'certificate',
        },
      );
    }
    if (cert.notAfter.getTime() <= Date.now()) {
      throw new AgentError(422, 'certificate_expired', 'the certificate has already expired; nothing was written', {
        field: 'certificate',
      });
    }
    j.certificate = certDer.toString('base64');
    this.commit(j, 'certificate-received');
    return j;
  }

  private async writeCertificate(j: RenewalJournal, s: TokenSession): Promise<void> {
    const pending = j.pending!;
    const certDer = Buffer.from(j.certificate!, 'base64');
    // Re-checked against the token itself: a certificate matching no key there is never written.
    const key = (await s.listKeys()).find((k) => k.id === pending.id);
    if (!key || !key.spki.equals(parseCertificate(certDer).spki)) {
      throw new AgentError(
        409,
        'pending_key_missing',
        `the key generated for renewal ${j.orderId} is no longer on the token; nothing was written`,
      );
    }
    await s.writeCertificate({ id: pending.id, label: pending.label, der: certDer });
    this.commit(j, 'certificate-written');
  }

  private async verifyInstalled(j: RenewalJournal, s: TokenSession): Promise<void> {
    const pending = j.pending!;
    const certDer = Buffer.from(j.certificate!, 'base64');
    const cert = parseCertificate(certDer);
    const stored = (await s.readCertificates()).find((c) => c.id === pending.id && c.der.equals(certDer));
    if (!stored) throw new AgentError(500, 'verification_failed', 'the certificate written to the key cannot be read back');
    const key = (await s.listKeys()).find((k) => k.id === pending.id);
    if (!key || !key.spki.equals(cert.spki))
      throw new AgentError(500, 'verification_failed', "the key's public key differs from the certificate's");
    const probe = Buffer.from(`certdesk-install-check\n${j.orderId}\n${randomBytes(16).toString('hex')}`);
    const sig = await s.sign(pending.id, probe);
    const { keyType, key: pub } = keyTypeOfSpki(cert.spki);
    if (!verify(signatureAlgorithmFor(keyType).digest, probe, pub, sig)) {
      throw new AgentError(
        500,
        'verification_failed',
        "a test signature by the new key does not verify with the certificate's public key",
      );
    }
    this.commit(j, 'verified');
  }

  private async switchLabels(j: RenewalJournal, s: TokenSession): Promise<void> {
    const retired = `${RETIRED_PREFIX}${j.orderId}`;
    await s.relabel(j.old.keyId, retired);
    if (j.old.certId !== j.old.keyId) await s.relabel(j.old.certId, retired);
    await s.relabel(j.pending!.id, j.old.label);
    this.commit(j, 'labels-switched');
  }

  /** The portal reports that the server acknowledged the installation. */
  confirm(j: RenewalJournal): RenewalJournal {
    if (reached(j, 'confirmed')) return j;
    if (!reached(j, 'labels-switched')) {
      throw new AgentError(409, 'renewal_not_ready', `renewal ${j.orderId} is not installed yet (step "${j.step}")`, {
        step: j.step,
      });
    }
    this.commit(j, 'confirmed');
    return j;
  }

  private async retireOld(j: RenewalJournal, s: TokenSession): Promise<void> {
    if (!j.keepOld) {
      await s.deleteObjects(j.old.keyId);
      if (j.old.certId !== j.old.keyId) await s.deleteObjects(j.old.certId);
    }
    this.commit(j, 'old-retired');
  }
}
