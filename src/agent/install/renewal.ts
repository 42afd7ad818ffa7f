// The renewal install as a journaled transaction (docs/ARCHITECTURE "The renewal as a transaction"):
//
//   started → key-generated → csr-built ⇢ certificate-received [→ encryption-key-stored]
//           → certificate-written → verified → seals-written → labels-switched ⇢ confirmed
//           → old-retired (done)
//
// [ ] only for an SM2 dual pair: the portal hands over an encryption certificate and the KMC's
// SM2EnvelopedKey with the signing certificate; the token opens the envelope with the NEW signing key
// (it never leaves the token) and stores the encryption key. The old encryption key is never deleted:
// it becomes retired:<order>:enc, so old ciphertexts stay readable.
//
// 印章更新: the holder's seals re-made for the new certificate come with it; "seals-written" stores
// them as pending:<order>:<esID> once the new certificate is verified, and the switch retires the
// seals bound to the old certificate BEFORE the old certificate, and puts the new seals in AFTER the
// new certificate: at every moment each current seal's certificate is current on the key.
//
// ⇢ marks where the assistant waits for the portal (the issued certificate; the server's "installed"
// acknowledgement). Every step is idempotent and is recorded in the journal only after its effect on
// the token is complete, so a crash anywhere leaves a journal that is at most one step behind the
// token, and redoing that step is harmless:
//   key-generated        adopts a key already labelled pending:<order> (generated, not yet journaled)
//   encryption-key-stored adopts the encryption key already on the token with the certificate's public key
//   csr-built            signs again (nothing was sent yet)
//   certificate-written  writing the same certificate under the same id is a no-op
//   seals-written        writing the same seal under the same label is a no-op
//   labels-switched      relabels by CKA_ID, old first, so a half-done switch still has both pairs
//   old-retired          deleting what is already gone deletes nothing
// The old pair stays usable until the new one is written, verified and switched in: at every moment
// the key holds at least one certificate whose private key is present and signs.
import { randomBytes } from 'node:crypto';
import { keyTypeOfSpki, signatureAlgorithmFor, type KeyType, isKeyType, verifyWithAlgId } from '../../pki/algorithms.js';
import { parseCertificate, type ParsedCertificate } from '../../pki/certificate.js';
import { parseCsr } from '../../pki/csr.js';
import * as der from '../../pki/der.js';
import { derOrPem } from '../../pki/pem.js';
import { certificateUsage } from '../../pki/key-usage.js';
import { buildRenewalProof, ORDER_ID_PATTERN } from '../../pki/renewal-proof.js';
import { sm2Encrypt } from '../../pki/sm2-encrypt.js';
import { Sm2PublicKey } from '../../pki/sm2.js';
import { encryptionPartner } from '../cert-info.js';
import { checkSealFor, pendingSealLabel, retiredSealLabel, sealData } from '../seals.js';
import { parseSeal } from '../../pki/ses-seal.js';
import { AgentError, toAgentError } from '../errors.js';
import { KeyedQueue } from '../fsutil.js';
import {
  ENCRYPTION_LABEL_SUFFIX,
  keyForSpki,
  labelState,
  PENDING_PREFIX,
  RETIRED_PREFIX,
  SEAL_APPLICATION,
  TokenError,
  type StoredData,
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
  /** the new SM2 encryption certificate's serial (dual pair), once received */
  newEncryptionSerial: string | null;
  /** esIDs of the seals re-made for the new certificate (印章更新), once received */
  seals: string[];
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
  const newEncryptionSerial = j.encryption
    ? parseCertificate(Buffer.from(j.encryption.certificate, 'base64')).serialHex.toUpperCase()
    : null;
  return {
    orderId: j.orderId,
    tokenId: j.tokenId,
    step: j.step,
    status: j.step === 'old-retired' ? 'done' : 'in_progress',
    next,
    keepOld: j.keepOld,
    oldSerial: j.old.serial,
    newSerial,
    newEncryptionSerial,
    seals: (j.seals ?? []).map((x) => x.esId),
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
    // Signing certificates only: an SM2 encryption certificate is renewed with its signing partner.
    const usable = certs.flatMap((c) => {
      let parsed: ParsedCertificate;
      try {
        parsed = parseCertificate(c.der);
      } catch {
        return [];
      }
      const key = keyForSpki(keys, parsed.spki);
      return key && key.usage !== 'encryption' && certificateUsage(parsed) === 'signing' ? [{ c, parsed, key }] : [];
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
    const partner = encryptionPartner(chosen.c, certs);
    const partnerKey = partner && keyForSpki(keys, parseCertificate(partner.der).spki);
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
        ...(partner && partnerKey
          ? {
              encryption: {
                keyId: partnerKey.id,
                certId: partner.id,
                label: partner.label,
                serial: parseCertificate(partner.der).serialHex.toUpperCase(),
                certificate: partner.der.toString('base64'),
              },
            }
          : {}),
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
            if (j.encryption) await this.storeEncryptionKey(j, session);
            else await this.writeCertificate(j, session);
            break;
          case 'encryption-key-stored':
            await this.writeCertificate(j, session);
            break;
          case 'certificate-written':
            await this.verifyInstalled(j, session);
            break;
          case 'verified':
            await this.writeSeals(j, session);
            break;
          case 'seals-written':
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
   * The issued certificate (and, for an SM2 dual pair, the encryption certificate and the KMC's
   * envelope) arrives from the portal. Checked against the pending key BEFORE anything is written (no
   * token access needed: the journal has the pending public key). With a token session the envelope
   * is opened there too, without storing, so one for another signing key is refused at once.
   */
  async receiveCertificate(
    j: RenewalJournal,
    input: Buffer,
    parts: { encryption?: { certificate: Buffer; envelope: Buffer | null }; seals?: Buffer[] } = {},
    session?: TokenSession,
  ): Promise<RenewalJournal> {
    const { encryption, seals = [] } = parts;
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
      // The envelope may differ (made again for the same key); the certificates may not.
      const sameEnc = (j.encryption?.certificate ?? null) === (encryption ? encryption.certificate.toString('base64') : null);
      if (j.certificate === certDer.toString('base64') && (sameEnc || !encryption)) return j;
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
    // A dual pair is renewed as a pair: a signing certificate alone would leave the old encryption
    // certificate current and unpaired beside the new signing one.
    if (j.old.encryption && !encryption)
      throw new AgentError(
        422,
        'encryption_required',
        'the certificate being renewed is the signing half of an SM2 dual pair: the new encryption certificate (and the KMC envelope) must come with it; nothing was written',
        { field: 'encryption' },
      );
    if (encryption) await this.checkEncryption(j, cert, encryption, session);
    const esIds = new Set<string>();
    const checkedSeals = seals.map((d, i) => {
      const seal = checkSealFor(d, certDer, `seals[${i}]`);
      if (esIds.has(seal.esId))
        throw new AgentError(400, 'invalid_request', `seals[${i}]: esID ${seal.esId} is given twice`, { field: `seals[${i}]` });
      esIds.add(seal.esId);
      return { esId: seal.esId, der: d.toString('base64') };
    });
    if (checkedSeals.length > 0) j.seals = checkedSeals;
    j.certificate = certDer.toString('base64');
    if (encryption) {
      j.encryption = {
        certificate: encryption.certificate.toString('base64'),
        envelope: encryption.envelope?.toString('base64') ?? null,
      };
    }
    this.commit(j, 'certificate-received');
    return j;
  }

  /** Contract §3: the encryption certificate of the pair, checked before anything is journaled or written. */
  private async checkEncryption(
    j: RenewalJournal,
    signing: ParsedCertificate,
    e: { certificate: Buffer; envelope: Buffer | null },
    session?: TokenSession,
  ): Promise<void> {
    const refuse = (status: number, code: string, message: string, field = 'encryption.certificate'): never => {
      throw new AgentError(status, code, `${message}; nothing was written`, { field });
    };
    if (j.pending!.keyType !== 'sm2')
      refuse(422, 'encryption_not_supported', 'an encryption certificate goes only with an SM2 signing certificate');
    let enc: ParsedCertificate;
    try {
      enc = parseCertificate(e.certificate);
    } catch (err) {
      throw new AgentError(
        400,
        'bad_certificate',
        `encryption.certificate is not an X.509 certificate: ${(err as Error).message}`,
        {
          field: 'encryption.certificate',
        },
      );
    }
    let keyType: string | undefined;
    try {
      keyType = keyTypeOfSpki(enc.spki).keyType;
    } catch {
      keyType = undefined;
    }
    if (keyType !== 'sm2') refuse(422, 'encryption_key_mismatch', 'the encryption certificate is not for an SM2 key');
    if (certificateUsage(enc) !== 'encryption')
      refuse(422, 'encryption_certificate_usage', 'the encryption certificate does not have an encryption key usage only');
    if (!enc.subjectDer.equals(signing.subjectDer))
      refuse(422, 'encryption_subject_mismatch', 'the encryption certificate has another subject than the signing certificate');
    if (enc.notAfter.getTime() <= Date.now())
      refuse(422, 'certificate_expired', 'the encryption certificate has already expired');
    if (!session) return;
    if (e.envelope) {
      await session
        .unwrapSm2Key({
          unwrappingKeyId: j.pending!.id,
          envelope: e.envelope,
          label: `${PENDING_PREFIX}${j.orderId}${ENCRYPTION_LABEL_SUFFIX}`,
          expectedSpki: enc.spki,
          checkOnly: true,
        })
        .catch((err: unknown) => {
          throw toAgentError(err);
        });
    } else if (!keyForSpki(await session.listKeys(), enc.spki)) {
      refuse(
        422,
        'encryption_key_missing',
        'no envelope was given (the encryption key is reused) but its key is not on this token',
        'encryption.envelope',
      );
    }
  }

  /**
   * Opens the envelope in the token with the new signing key and stores the encryption key (or, with
   * no envelope, finds the reused one). Refused ⇒ nothing was written to the key: the renewal goes
   * back to "csr-built" so the portal can hand over the right pair.
   */
  private async storeEncryptionKey(j: RenewalJournal, s: TokenSession): Promise<void> {
    const enc = j.encryption!;
    const encCert = parseCertificate(Buffer.from(enc.certificate, 'base64'));
    let keyId: string;
    let certId: string;
    try {
      if (enc.envelope) {
        const key = await s.unwrapSm2Key({
          unwrappingKeyId: j.pending!.id,
          envelope: Buffer.from(enc.envelope, 'base64'),
          label: `${PENDING_PREFIX}${j.orderId}${ENCRYPTION_LABEL_SUFFIX}`,
          expectedSpki: encCert.spki,
        });
        keyId = certId = key.id;
      } else {
        const key = keyForSpki(await s.listKeys(), encCert.spki);
        if (!key) {
          throw new AgentError(
            422,
            'encryption_key_missing',
            'no envelope was given (the encryption key is reused) but its key is not on this token; nothing was written',
            { field: 'encryption.envelope' },
          );
        }
        keyId = key.id;
        // The reused key keeps its old certificate until the switch: the new one gets an id of its own.
        certId = randomBytes(16).toString('hex');
      }
    } catch (e) {
      const err = toAgentError(e);
      if (['envelope_wrong_key', 'encryption_key_mismatch', 'encryption_key_missing'].includes(err.code)) {
        delete j.certificate;
        delete j.encryption;
        j.step = 'csr-built';
        j.history.push({ step: 'csr-built', at: new Date().toISOString() });
      }
      throw err;
    }
    enc.keyId = keyId;
    enc.certId = certId;
    this.commit(j, 'encryption-key-stored');
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
    const enc = j.encryption;
    if (enc) {
      const encDer = Buffer.from(enc.certificate, 'base64');
      const encKey = (await s.listKeys()).find((k) => k.id === enc.keyId);
      if (!encKey || !encKey.spki.equals(parseCertificate(encDer).spki)) {
        throw new AgentError(
          409,
          'encryption_key_missing',
          `the encryption key stored for renewal ${j.orderId} is no longer on the token; the encryption certificate was not written`,
        );
      }
      await s.writeCertificate({ id: enc.certId!, label: `${pending.label}${ENCRYPTION_LABEL_SUFFIX}`, der: encDer });
    }
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
    // Through algorithms.ts, so an SM2 signature is checked with the default user ID.
    if (!verifyWithAlgId(der.parse(signatureAlgorithmFor(keyType).algId), pub, probe, sig)) {
      throw new AgentError(
        500,
        'verification_failed',
        "a test signature by the new key does not verify with the certificate's public key",
      );
    }
    if (j.encryption) await this.verifyEncryption(j, s, probe);
    this.commit(j, 'verified');
  }

  /** The encryption pair: certificate read back, its key the certificate's, and a probe encrypted to it decrypts in the token. */
  private async verifyEncryption(j: RenewalJournal, s: TokenSession, probe: Buffer): Promise<void> {
    const enc = j.encryption!;
    const encDer = Buffer.from(enc.certificate, 'base64');
    const encCert = parseCertificate(encDer);
    if (!(await s.readCertificates()).some((c) => c.id === enc.certId && c.der.equals(encDer)))
      throw new AgentError(500, 'verification_failed', 'the encryption certificate written to the key cannot be read back');
    const key = (await s.listKeys()).find((k) => k.id === enc.keyId);
    if (!key || !key.spki.equals(encCert.spki))
      throw new AgentError(
        500,
        'verification_failed',
        "the encryption key's public key differs from the encryption certificate's",
      );
    const plain = await s.decrypt(enc.keyId!, sm2Encrypt(Sm2PublicKey.fromSpki(encCert.spki), probe));
    if (!plain.equals(probe)) {
      throw new AgentError(
        500,
        'verification_failed',
        "a test message encrypted to the encryption certificate's key does not decrypt with the key on the token",
      );
    }
  }

  /** The re-made seals, pending beside the verified certificate, read back. */
  private async writeSeals(j: RenewalJournal, s: TokenSession): Promise<void> {
    const seals = (j.seals ?? []).map((x) => sealData(pendingSealLabel(j.orderId, x.esId), Buffer.from(x.der, 'base64')));
    for (const d of seals) await s.writeData(d);
    if (seals.length > 0) {
      const onKey = await s.readData(SEAL_APPLICATION);
      if (!seals.every((d) => onKey.some((o) => o.label === d.label && o.value.equals(d.value))))
        throw new AgentError(500, 'verification_failed', 'a seal written to the key cannot be read back');
    }
    this.commit(j, 'seals-written');
  }

  /**
   * Seals to retire with the old certificate: those bound to it (a seal not re-made is useless once it
   * is gone) and any other with the esID of a new one. Never the new seals themselves (a redo).
   */
  private async oldSeals(j: RenewalJournal, s: TokenSession): Promise<{ d: StoredData; esId: string }[]> {
    const oldCert = Buffer.from(j.old.certificate, 'base64');
    const fresh = (j.seals ?? []).map((x) => Buffer.from(x.der, 'base64'));
    const replaced = new Set((j.seals ?? []).map((x) => x.esId));
    const out: { d: StoredData; esId: string }[] = [];
    for (const d of await s.readData(SEAL_APPLICATION)) {
      if (labelState(d.label) !== 'current' || fresh.some((f) => f.equals(d.value))) continue;
      // parsed, not verified: an expired or damaged seal of the old certificate goes with it too
      let bound = false;
      try {
        bound = parseSeal(d.value).certList.some((c) => c.equals(oldCert));
      } catch {
        bound = false; // not a seal we can read: left alone
      }
      if (bound || replaced.has(d.label)) out.push({ d, esId: d.label });
    }
    return out;
  }

  private async switchLabels(j: RenewalJournal, s: TokenSession): Promise<void> {
    const retired = `${RETIRED_PREFIX}${j.orderId}`;
    // seals first out, last in: no current seal ever names a certificate that is not current
    for (const { d, esId } of await this.oldSeals(j, s)) await s.relabelData(d, retiredSealLabel(j.orderId, esId));
    await s.relabel(j.old.keyId, retired);
    if (j.old.certId !== j.old.keyId) await s.relabel(j.old.certId, retired);
    const oldEnc = j.old.encryption;
    const enc = j.encryption;
    // The old encryption pair is kept (old ciphertexts stay readable), relabelled retired:<order>:enc —
    // unless its key is the one reused, which stays as it is.
    if (enc && oldEnc && enc.keyId !== oldEnc.keyId) {
      await s.relabel(oldEnc.keyId, `${retired}${ENCRYPTION_LABEL_SUFFIX}`);
      if (oldEnc.certId !== oldEnc.keyId) await s.relabel(oldEnc.certId, `${retired}${ENCRYPTION_LABEL_SUFFIX}`);
    }
    await s.relabel(j.pending!.id, j.old.label);
    if (enc) {
      const encLabel = oldEnc?.label ?? `${j.old.label}${ENCRYPTION_LABEL_SUFFIX}`;
      if (enc.keyId !== oldEnc?.keyId) await s.relabel(enc.keyId!, encLabel);
      if (enc.certId !== enc.keyId) await s.relabel(enc.certId!, encLabel);
    }
    for (const x of j.seals ?? [])
      await s.relabelData(sealData(pendingSealLabel(j.orderId, x.esId), Buffer.from(x.der, 'base64')), x.esId);
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
      // An encryption key is never deleted; only the old certificate of a reused one goes.
      const oldEnc = j.old.encryption;
      if (oldEnc && j.encryption?.keyId === oldEnc.keyId)
        await s.deleteCertificate(oldEnc.certId, Buffer.from(oldEnc.certificate, 'base64'));
      const retiredSeals = `${RETIRED_PREFIX}${j.orderId}:`;
      for (const d of await s.readData(SEAL_APPLICATION)) if (d.label.startsWith(retiredSeals)) await s.deleteData(d);
    }
    this.commit(j, 'old-retired');
  }
}
