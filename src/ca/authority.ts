// The certificate authority: turns a checked request and a profile into a recorded certificate,
// revokes, and produces CRLs. It knows nothing of orders or HTTP; keys are reached only via Signers.
import { hash, randomInt } from 'node:crypto';
import type { Config } from '../config/config.js';
import { AlgorithmError, keyIdentifier, keyTypeOfSpki, type KeyType } from '../pki/algorithms.js';
import { identityExtensionOid } from '../pki/holder-identity.js';
import { parseCertificate, type ParsedCertificate } from '../pki/certificate.js';
import { CsrError, parseCsr, type ParsedCsr } from '../pki/csr.js';
import {
  ATTRIBUTE_ORDER,
  attributeValue,
  canonicalOrder,
  encodeName,
  NameError,
  nameToString,
  type NameAttribute,
} from '../pki/name.js';
import { revokeSeals } from '../sa/seals.js';
import { appendAudit, type AuditEntry } from '../sa/audit.js';
import { listCas, replaceCa, type CaRecord } from '../sa/cas.js';
import {
  getCertificate,
  getCertificateByOrder,
  getEncryptionPartner,
  markRevoked,
  normaliseSerial,
  type CertificateRecord,
} from '../sa/certificates.js';
import { CertificateWriter, DuplicateCertificateError, recordCertificateWith } from '../sa/certificate-writer.js';
import { latestCrl, oweCrl, type StoredCrl } from '../sa/crls.js';
import { tryInSavepoint, writeTransaction, type Storage, type Tx } from '../sa/database.js';
import { ensureHolder } from '../sa/holders.js';
import type { KeyRef, Signer } from '../signer/signer.js';
import {
  assemble,
  buildTbs,
  makeTemplate,
  randomSerial,
  SignatureBatcher,
  wholeSeconds,
  type TbsTemplate,
} from './certificate-builder.js';
import { publishCrl, publishCrlIn } from './crl-publisher.js';
import { CaError } from './errors.js';
import * as ext from './extensions.js';
import { caFamily, caId, caRecord, certifyOcspResponder, RESPONDER_RENEW_BEFORE_DAYS, type CaFamily } from './hierarchy.js';
import { caUrls, shardCrlUrl } from './urls.js';
import { recordPkiUrlInUse } from './pki-url-history.js';
import type { Profile } from './profiles.js';
import { reasonCode } from '../shared/revocation-reasons.js';

export interface LoadedCa {
  record: CaRecord;
  cert: ParsedCertificate;
  signer: Signer;
  keyId: Buffer;
}

export interface IssueRequest {
  csr: Buffer | ParsedCsr;
  profileId: string;
  /** replaces the CSR's subject */
  subject?: NameAttribute[];
  days?: number;
  /** explicit end of validity (renewal stacking); takes precedence over days */
  notAfter?: Date;
  /** the holder's 唯一识别号; written into the certificate and linked to a holder record */
  uniqueId?: string;
  renewsSerial?: string;
  /** issuing for an order is idempotent: the same order always yields the same certificate */
  orderId?: string;
  actor: string;
  /**
   * Runs in the transaction that records the certificate (the RA moves its order with it: both or
   * neither). When it throws, nothing is recorded and the signed certificate is discarded unseen.
   */
  also?: (tx: Tx, record: CertificateRecord) => Promise<void>;
}

/** The encryption certificate of an SM2 dual pair, for a public key the KMC made (no CSR). */
export interface EncryptionIssueRequest {
  /** the pair's signing certificate, already recorded: subject, 唯一识别号, validity and issuer come from it */
  signing: CertificateRecord;
  /** SubjectPublicKeyInfo (DER) of the encryption key, trusted from the RA (the KMC made it) */
  spki: Buffer;
  /** the encryption certificate this one replaces (a renewal) */
  renewsSerial?: string | null;
  /** the KMC's id of the key, for the audit log */
  kmcKeyId?: string;
  actor: string;
}

export interface IssuedCertificate {
  record: CertificateRecord;
  der: Buffer;
  /** false when an earlier issuance for the same order was returned */
  fresh: boolean;
}

const BACKDATE_MS = 60_000;
const DAY_MS = 86_400_000;

export type SignerOpener = (ref: KeyRef) => Promise<Signer>;

/**
 * The subject with the 唯一识别号 as its serialNumber attribute. A requested serialNumber that says
 * something else is refused: one attribute cannot carry two identifiers.
 */
function withUniqueId(subject: NameAttribute[], uniqueId: string | undefined): NameAttribute[] {
  if (!uniqueId) return subject;
  const own = subject.filter((a) => a.type === 'serialNumber');
  if (own.some((a) => a.value !== uniqueId))
    throw new CaError(
      'bad_subject',
      `subject serialNumber carries the 唯一识别号 (${uniqueId}); the request's serialNumber ${JSON.stringify(own[0]!.value)} differs`,
      'subject.serialNumber',
    );
  return own.length ? subject : [...subject, { type: 'serialNumber', value: uniqueId }];
}

/** True when canonicalOrder() would return `attrs` in the order they are in (its sort is stable). */
function inCanonicalOrder(attrs: NameAttribute[]): boolean {
  let last = 0;
  for (const a of attrs) {
    const i = ATTRIBUTE_ORDER.indexOf(a.type);
    const rank = i < 0 ? ATTRIBUTE_ORDER.length : i;
    if (rank < last) return false;
    last = rank;
  }
  return true;
}

export class CertificateAuthority {
  private readonly writer: CertificateWriter;
  /** Bumped whenever a CA is added or (de)activated, so the OCSP responder rebuilds its issuer table. */
  generation = 0;
  private readonly templates = new Map<string, TbsTemplate>();
  private readonly batchers = new Map<Signer, SignatureBatcher>();
  private pkiUrlRecorded: Promise<void> | undefined;

  private constructor(
    readonly storage: Storage,
    readonly config: Config,
    readonly profiles: Map<string, Profile>,
    /** every CA we hold a key for, by id */
    readonly cas: Map<string, LoadedCa>,
    private readonly open: SignerOpener,
  ) {
    this.writer = new CertificateWriter(storage);
  }

  static async load(
    storage: Storage,
    config: Config,
    profiles: Map<string, Profile>,
    open: SignerOpener,
  ): Promise<CertificateAuthority> {
    const records = await listCas(storage.db);
    if (!records.some((r) => r.kind === 'issuing' && r.active)) {
      throw new CaError(
        'not_initialised',
        'no issuing CA in the database: run `certdesk ca init` (or start `certdesk serve` once with an empty DATA_DIR)',
      );
    }
    const cas = new Map<string, LoadedCa>();
    for (const record of records) {
      const signer = await open(JSON.parse(record.key_ref) as KeyRef);
      const cert = parseCertificate(record.cert_der);
      cas.set(record.id, { record, cert, signer, keyId: keyIdentifier(cert.spki) });
    }
    return new CertificateAuthority(storage, config, profiles, cas, open);
  }

  /** The active CA of a kind and family, if this instance has that hierarchy. */
  private active(kind: 'root' | 'issuing', family: CaFamily): LoadedCa | undefined {
    for (const ca of this.cas.values())
      if (ca.record.kind === kind && ca.record.active && caFamily(ca.record.key_type) === family) return ca;
    return undefined;
  }

  /** The families of the hierarchies this instance holds (RSA/ECDSA first). */
  families(): CaFamily[] {
    return (['rsa-ecdsa', 'sm2'] as const).filter((f) => this.active('issuing', f));
  }

  /** The active issuing CA of a family; a clear error when the instance has no such hierarchy. */
  issuingFor(family: CaFamily): LoadedCa {
    const ca = this.active('issuing', family);
    if (!ca)
      throw new CaError(
        'not_initialised',
        `no active ${family === 'sm2' ? 'SM2' : 'RSA/ECDSA'} issuing CA: run \`certdesk ca init --key-type ${family === 'sm2' ? 'sm2' : 'ec-p256'}\` to add that hierarchy`,
      );
    return ca;
  }

  rootFor(family: CaFamily): LoadedCa {
    const ca = this.active('root', family);
    if (!ca) throw new CaError('not_initialised', `no active ${family === 'sm2' ? 'SM2' : 'RSA/ECDSA'} root CA`);
    return ca;
  }

  /** The primary issuing CA: the RSA/ECDSA one when there is one, else the SM2 one. */
  get issuing(): LoadedCa {
    return this.issuingFor(this.families()[0] ?? 'rsa-ecdsa');
  }

  /** The root above `issuing`. */
  get root(): LoadedCa {
    return this.rootFor(this.families()[0] ?? 'rsa-ecdsa');
  }

  /**
   * The issuing CA for a profile and subject key: the profile's hierarchy when it names one, else
   * the hierarchy of the key's family, else (an instance with one hierarchy) that one.
   */
  issuerFor(profile: Profile, keyType: KeyType): LoadedCa {
    if (profile.hierarchy) return this.issuingFor(profile.hierarchy);
    return this.active('issuing', caFamily(keyType)) ?? this.issuing;
  }

  /** The active delegated OCSP responder for an issuing CA. */
  responderFor(caId: string): LoadedCa | undefined {
    for (const ca of this.cas.values())
      if (ca.record.kind === 'ocsp' && ca.record.parent_id === caId && ca.record.active) return ca;
    return undefined;
  }

  /**
   * Picks up CA rows another process added or (de)activated since this one loaded them, such as a
   * responder rotated by `certdesk ca rotate-responder`. Returns true when anything changed.
   */
  async reloadCas(): Promise<boolean> {
    let changed = false;
    for (const record of await listCas(this.storage.db)) {
      const loaded = this.cas.get(record.id);
      if (!loaded) {
        const signer = await this.open(JSON.parse(record.key_ref) as KeyRef);
        const cert = parseCertificate(record.cert_der);
        this.cas.set(record.id, { record, cert, signer, keyId: keyIdentifier(cert.spki) });
        changed = true;
      } else if (loaded.record.active !== record.active) {
        loaded.record.active = record.active;
        changed = true;
      }
    }
    if (changed) this.generation++;
    return changed;
  }

  /** True when the issuing CA's responder certificate is missing or within RESPONDER_RENEW_BEFORE_DAYS of its end, and a new one would outlast it. */
  responderDue(issuingId: string, now = Date.now()): boolean {
    const issuing = this.cas.get(issuingId);
    const responder = this.responderFor(issuingId);
    if (!issuing || issuing.record.kind !== 'issuing' || issuing.record.not_after <= now) return false;
    if (!responder) return true;
    return (
      responder.record.not_after - now < RESPONDER_RENEW_BEFORE_DAYS * DAY_MS &&
      issuing.record.not_after > responder.record.not_after
    );
  }

  /**
   * Replaces the issuing CA's delegated OCSP responder with a new certificate for `key` (a fresh key
   * where the old one lived). The old responder is deactivated in the same transaction; if another
   * process replaced it meanwhile, nothing changes and a `conflict` error says so.
   */
  async rotateResponder(issuingId: string, key: Signer, opts: { days: number; actor: string }): Promise<LoadedCa> {
    const issuing = this.cas.get(issuingId);
    if (!issuing || issuing.record.kind !== 'issuing' || !issuing.record.active)
      throw new CaError('not_found', `no active issuing CA ${issuingId}`, 'issuing');
    const previous = this.responderFor(issuingId);
    const org = issuing.cert.subject.filter((a) => a.type === 'C' || a.type === 'O');
    const cert = await certifyOcspResponder(
      { signer: issuing.signer, subjectDer: issuing.cert.subjectDer, notAfter: issuing.cert.notAfter, id: issuingId },
      key,
      opts.days,
      org,
    );
    const record = caRecord(caId('ocsp', key), 'ocsp', issuingId, `OCSP Responder (${issuingId})`, key, cert);
    const replaced = await writeTransaction(this.storage, async (tx) => {
      if (!(await replaceCa(tx, previous?.record.id, record))) return false;
      await appendAudit(tx, [
        {
          actor: opts.actor,
          action: 'ca.responder_rotated',
          target: record.id,
          details: {
            issuing: issuingId,
            previous: previous?.record.id ?? null,
            notAfter: new Date(record.not_after).toISOString(),
            keyType: record.key_type,
            key: JSON.parse(record.key_ref) as unknown,
          },
        },
      ]);
      return true;
    });
    if (!replaced) {
      await this.reloadCas();
      throw new CaError('conflict', `the responder of ${issuingId} was replaced by another process meanwhile; nothing changed`);
    }
    if (previous) previous.record.active = 0;
    const loaded: LoadedCa = { record, cert: parseCertificate(record.cert_der), signer: key, keyId: keyIdentifier(key.spki) };
    this.cas.set(record.id, loaded);
    this.generation++;
    return loaded;
  }

  profile(id: string): Profile {
    const p = this.profiles.get(id);
    if (!p)
      throw new CaError(
        'unknown_profile',
        `unknown profile ${JSON.stringify(id)}; known: ${[...this.profiles.keys()].join(', ')}`,
        'profile',
      );
    return p;
  }

  private batcher(signer: Signer): SignatureBatcher {
    let b = this.batchers.get(signer);
    if (!b) this.batchers.set(signer, (b = new SignatureBatcher(signer)));
    return b;
  }

  /** One template per profile, issuer and CRL shard: the shard's URL is the CRL DP. */
  private template(profile: Profile, issuer: LoadedCa, shard: number): TbsTemplate {
    const key = `${profile.id}/${issuer.record.id}/${shard}`;
    let t = this.templates.get(key);
    if (!t) {
      const urls = caUrls(this.config.pkiUrl, issuer.record.id);
      t = makeTemplate({ signer: issuer.signer, subjectDer: issuer.cert.subjectDer }, [
        ext.basicConstraints(false),
        ext.keyUsage(profile.keyUsage),
        ...(profile.extendedKeyUsage.length ? [ext.extKeyUsage(profile.extendedKeyUsage)] : []),
        ext.authorityKeyIdentifier(issuer.keyId),
        ...(profile.policies.length ? [ext.certificatePolicies(profile.policies)] : []),
        ext.crlDistributionPoints(shardCrlUrl(this.config.pkiUrl, issuer.record.id, shard)),
        ext.authorityInfoAccess(urls.ocsp, urls.caIssuers),
      ]);
      this.templates.set(key, t);
    }
    return t;
  }

  /**
   * The extensions that carry the 唯一识别号 besides the subject serialNumber: GM/T 0015's identity
   * extension when it is a 统一社会信用代码 / 居民身份证号, and the operator's UNIQUE_ID_OID if set.
   */
  private uniqueIdExtensions(profile: Profile, uniqueId: string): Buffer[] {
    const out: Buffer[] = [];
    const gmt = identityExtensionOid(profile.holderKind, uniqueId);
    if (gmt) out.push(ext.identityCode(gmt, uniqueId));
    if (this.config.uniqueIdOid && this.config.uniqueIdOid !== gmt) out.push(ext.identityCode(this.config.uniqueIdOid, uniqueId));
    return out;
  }

  /** Checks a request against its profile; every refusal names the field at fault. */
  check(req: IssueRequest): { profile: Profile; csr: ParsedCsr; subject: NameAttribute[]; subjectDer: Buffer } {
    const profile = this.profile(req.profileId);
    if (profile.usage === 'encryption')
      throw new CaError(
        'unknown_profile',
        `profile ${profile.id} is for the encryption certificate of an SM2 dual pair: it is issued with its signing certificate, for a key the KMC made, not from a CSR`,
        'profile',
      );
    if (req.uniqueId !== undefined && !/^[A-Za-z0-9-]{1,64}$/.test(req.uniqueId)) {
      throw new CaError('bad_subject', '唯一识别号 (unique ID) must be 1–64 letters, digits or dashes', 'uniqueId');
    }
    let csr: ParsedCsr;
    try {
      csr = Buffer.isBuffer(req.csr) ? parseCsr(req.csr) : req.csr;
    } catch (e) {
      if (e instanceof CsrError) throw new CaError('bad_csr', e.message, 'csr');
      throw e;
    }
    if (!profile.keyTypes.includes(csr.keyType)) {
      throw new CaError(
        'key_not_allowed',
        `key type ${csr.keyType} is not allowed by profile ${profile.id} (allowed: ${profile.keyTypes.join(', ')})`,
        'csr',
      );
    }
    const requested = withUniqueId(req.subject ?? csr.subject, req.uniqueId);
    // Most subjects arrive in canonical order already; sorting them would only copy them.
    const subject = inCanonicalOrder(requested) ? requested : canonicalOrder(requested);
    for (const a of subject) {
      // serialNumber carries the 唯一识别号 whatever the profile lets a requester put in the subject
      if (!profile.subject.allowed.includes(a.type) && !(a.type === 'serialNumber' && req.uniqueId)) {
        throw new CaError(
          'bad_subject',
          `subject attribute ${a.type} is not allowed by profile ${profile.id} (allowed: ${profile.subject.allowed.join(', ')})`,
          `subject.${a.type}`,
        );
      }
    }
    for (const r of profile.subject.required) {
      if (!attributeValue(subject, r))
        throw new CaError('bad_subject', `subject attribute ${r} is required by profile ${profile.id}`, `subject.${r}`);
    }
    let subjectDer: Buffer;
    try {
      subjectDer = encodeName(subject);
    } catch (e) {
      if (e instanceof NameError) throw new CaError('bad_subject', e.message, e.field ? `subject.${e.field}` : 'subject');
      throw e;
    }
    return { profile, csr, subject, subjectDer };
  }

  async issue(req: IssueRequest): Promise<IssuedCertificate> {
    if (req.orderId) {
      const existing = await getCertificateByOrder(this.storage.db, req.orderId);
      if (existing) return { record: existing, der: existing.der, fresh: false };
    }
    const { profile, csr, subject, subjectDer } = this.check(req);
    const issuer = this.issuerFor(profile, csr.keyType);
    const now = Date.now();
    const notBefore = wholeSeconds(now - BACKDATE_MS);
    let notAfter: Date;
    if (req.notAfter) notAfter = wholeSeconds(req.notAfter.getTime());
    else {
      const days = req.days ?? profile.validityDays;
      if (!Number.isInteger(days) || days < 1)
        throw new CaError('bad_validity', `days must be a whole number ≥ 1, got ${days}`, 'days');
      notAfter = wholeSeconds(now + days * DAY_MS);
    }
    const lifetimeDays = (notAfter.getTime() - now) / DAY_MS;
    if (lifetimeDays <= 0) throw new CaError('bad_validity', 'notAfter is in the past', 'notAfter');
    if (lifetimeDays > profile.maxValidityDays) {
      throw new CaError(
        'bad_validity',
        `validity of ${Math.ceil(lifetimeDays)} days exceeds profile ${profile.id}'s maximum of ${profile.maxValidityDays}`,
        'days',
      );
    }
    if (notAfter > issuer.cert.notAfter) {
      throw new CaError(
        'bad_validity',
        `validity would end after the issuing CA's own (${issuer.cert.notAfter.toISOString()})`,
        'days',
      );
    }
    let holderId: number | null = null;
    if (req.uniqueId) {
      const name = attributeValue(subject, profile.holderKind === 'org' ? 'O' : 'CN') ?? attributeValue(subject, 'CN')!;
      holderId = (await ensureHolder(this.storage.db, { kind: profile.holderKind, name, uniqueId: req.uniqueId })).id;
    }
    const extra = req.uniqueId ? this.uniqueIdExtensions(profile, req.uniqueId) : [];
    return this.signAndRecord(issuer, profile, {
      notBefore,
      notAfter,
      subjectDer,
      spki: csr.spki,
      extra,
      row: {
        holder_id: holderId,
        subject: nameToString(subject),
        renews_serial: req.renewsSerial ? normaliseSerial(req.renewsSerial) : null,
        order_id: req.orderId ?? null,
        signing_serial: null,
      },
      audit: { orderId: req.orderId },
      actor: req.actor,
      ...(req.also ? { also: req.also } : {}),
      existing: async (e) =>
        e.field === 'order_id' && req.orderId ? getCertificateByOrder(this.storage.db, req.orderId) : undefined,
    });
  }

  /**
   * Issues the encryption certificate of an SM2 dual pair for `req.spki` (the KMC's key): same
   * subject, 唯一识别号 and validity as the signing certificate, by the same CA, under the signing
   * profile's `encryptionProfile`. Idempotent: one encryption certificate per signing certificate
   * (so per order); asking again returns it.
   */
  async issueEncryption(req: EncryptionIssueRequest): Promise<IssuedCertificate> {
    const signing = req.signing;
    const existing = await getEncryptionPartner(this.storage.db, signing.serial);
    if (existing) return { record: existing, der: existing.der, fresh: false };
    const signingProfile = this.profile(signing.profile);
    if (!signingProfile.encryptionProfile)
      throw new CaError(
        'not_dual',
        `profile ${signing.profile} is not a dual-pair profile (it names no encryptionProfile)`,
        'profile',
      );
    const profile = this.profile(signingProfile.encryptionProfile);
    let keyType: KeyType;
    try {
      keyType = keyTypeOfSpki(req.spki).keyType;
    } catch (e) {
      if (e instanceof AlgorithmError) throw new CaError('bad_key', `encryption public key: ${e.message}`, 'spki');
      throw e;
    }
    if (!profile.keyTypes.includes(keyType))
      throw new CaError(
        'key_not_allowed',
        `key type ${keyType} is not allowed by profile ${profile.id} (allowed: ${profile.keyTypes.join(', ')})`,
        'spki',
      );
    const issuer = this.cas.get(signing.ca_id);
    if (!issuer || issuer.record.kind !== 'issuing' || !issuer.record.active)
      throw new CaError(
        'not_found',
        `the issuing CA of signing certificate ${signing.serial} (${signing.ca_id}) is not active here`,
      );
    const parsed = parseCertificate(signing.der);
    const uniqueId = attributeValue(parsed.subject, 'serialNumber');
    return this.signAndRecord(issuer, profile, {
      notBefore: parsed.notBefore,
      notAfter: parsed.notAfter,
      subjectDer: parsed.subjectDer,
      spki: req.spki,
      extra: uniqueId ? this.uniqueIdExtensions(profile, uniqueId) : [],
      row: {
        holder_id: signing.holder_id,
        subject: signing.subject,
        renews_serial: req.renewsSerial ? normaliseSerial(req.renewsSerial) : null,
        order_id: null,
        signing_serial: signing.serial,
      },
      audit: {
        usage: 'encryption',
        signingSerial: signing.serial,
        orderId: signing.order_id ?? undefined,
        kmcKeyId: req.kmcKeyId,
      },
      actor: req.actor,
      existing: async (e) => (e.field === 'signing_serial' ? getEncryptionPartner(this.storage.db, signing.serial) : undefined),
    });
  }

  /**
   * The TBSCertificate the issuance path would sign for these values (the profile's template under
   * its issuing CA, the 唯一识别号 extensions), with the issuer that signs it. Only for the load
   * seeder (bench/seed-load.ts), which signs and records load data in bulk, outside the RA.
   */
  loadTbs(
    profileId: string,
    keyType: KeyType,
    v: { serial: Buffer; notBefore: Date; notAfter: Date; subjectDer: Buffer; spki: Buffer; uniqueId?: string },
  ): { tbs: Buffer; issuer: LoadedCa; shard: number } {
    const profile = this.profile(profileId);
    const issuer = this.issuerFor(profile, keyType);
    const extra = v.uniqueId ? this.uniqueIdExtensions(profile, v.uniqueId) : [];
    const shard = randomInt(this.config.crlShards);
    return { tbs: buildTbs(this.template(profile, issuer, shard), { ...v, extraExtensions: extra }), issuer, shard };
  }

  /**
   * Settles once this instance's PKI_URL is recorded as one certificates name (pki-url-history.ts):
   * before the first certificate this process signs, and at server start. A failure is tried again.
   */
  recordPkiUrl(): Promise<void> {
    this.pkiUrlRecorded ??= recordPkiUrlInUse(
      this.storage,
      this.config.pkiUrl,
      [...this.cas.values()].filter((c) => c.record.kind === 'issuing').map((c) => c.record.id),
      (caId, shard) => this.generateCrl(caId, 'system:pki-url', shard),
    ).catch((e: unknown) => {
      this.pkiUrlRecorded = undefined;
      throw e;
    });
    return this.pkiUrlRecorded;
  }

  /** Signs the certificate and records it with its audit entry; a duplicate of `existing` returns that one. */
  private async signAndRecord(
    issuer: LoadedCa,
    profile: Profile,
    c: {
      notBefore: Date;
      notAfter: Date;
      subjectDer: Buffer;
      spki: Buffer;
      extra: Buffer[];
      row: Pick<CertificateRecord, 'holder_id' | 'subject' | 'renews_serial' | 'order_id' | 'signing_serial'>;
      audit: Record<string, unknown>;
      actor: string;
      also?: (tx: Tx, record: CertificateRecord) => Promise<void>;
      existing: (e: DuplicateCertificateError) => Promise<CertificateRecord | undefined>;
    },
  ): Promise<IssuedCertificate> {
    // the certificate names its CRL under PKI_URL: that one's shard CRLs must name it too
    await this.recordPkiUrl();
    // the shard is fixed here for the certificate's lifetime; a later CRL_SHARDS applies to new ones
    const shard = randomInt(this.config.crlShards);
    const template = this.template(profile, issuer, shard);
    const spkiHash = hash('sha256', c.spki, 'hex');
    const now = Date.now();
    for (let attempt = 0; ; attempt++) {
      const serial = randomSerial();
      const tbs = buildTbs(template, {
        serial,
        notBefore: c.notBefore,
        notAfter: c.notAfter,
        subjectDer: c.subjectDer,
        spki: c.spki,
        extraExtensions: c.extra,
      });
      // Concurrent issuances are signed back to back (software keys; see SignatureBatcher).
      const der = assemble(tbs, issuer.signer.algorithm.algId, await this.batcher(issuer.signer).sign(tbs));
      const record: CertificateRecord = {
        // randomSerial's first octet is never zero, so its hex is already the stored form
        serial: serial[0] !== 0 ? serial.toString('hex') : normaliseSerial(serial.toString('hex')),
        ca_id: issuer.record.id,
        profile: profile.id,
        not_before: c.notBefore.getTime(),
        not_after: c.notAfter.getTime(),
        status: 'valid',
        revoked_at: null,
        revocation_reason: null,
        spki_sha256: spkiHash,
        der,
        issued_at: now,
        crl_shard: shard,
        ...c.row,
      };
      try {
        // Recorded (committed) before anyone sees it: a crash before this line leaves no certificate anywhere.
        const audit: AuditEntry = {
          actor: c.actor,
          action: 'certificate.issued',
          target: record.serial,
          details: {
            profile: profile.id,
            subject: record.subject,
            notAfter: c.notAfter.toISOString(),
            renews: record.renews_serial,
            ...c.audit,
          },
        };
        if (c.also) await recordCertificateWith(this.storage, { row: record, audit }, c.also);
        else await this.writer.record(record, audit);
        return { record, der, fresh: true };
      } catch (e) {
        if (e instanceof DuplicateCertificateError && e.field !== 'serial') {
          const existing = await c.existing(e);
          if (existing) return { record: existing, der: existing.der, fresh: false };
        }
        if (e instanceof DuplicateCertificateError && e.field === 'serial' && attempt < 3) continue;
        throw e;
      }
    }
  }

  /**
   * Revokes a certificate and publishes the CRL that lists it (its shard's, or its CA's full CRL for
   * one from before shards), normally in one transaction. A CRL that cannot be signed there (the CA
   * key unavailable) does not hold the revocation back — OCSP answers revoked at once — and is tried
   * again after the commit, whose error the caller gets. `also` runs in the transaction (the RA
   * stores the evidence a revocation rests on with it, and moves its order: both or neither).
   */
  async revoke(
    serialInput: string,
    reason: string,
    actor: string,
    at = Date.now(),
    also?: (tx: Tx, cert: CertificateRecord) => Promise<void>,
  ): Promise<CertificateRecord> {
    const serial = normaliseSerial(serialInput);
    if (!/^[0-9a-f]{1,40}$/.test(serial))
      throw new CaError('not_found', `serial must be hexadecimal, got ${JSON.stringify(serialInput)}`, 'serial');
    let code: number;
    try {
      code = reasonCode(reason);
    } catch (e) {
      throw new CaError('bad_reason', (e as Error).message, 'reason');
    }
    const revokedAt = wholeSeconds(at).getTime();
    const updated = await writeTransaction(this.storage, async (tx) => {
      const cert = await getCertificate(tx, serial);
      if (!cert) throw new CaError('not_found', `no certificate with serial ${serial}`, 'serial');
      if (cert.status === 'revoked') throw new CaError('already_revoked', `certificate ${serial} is already revoked`, 'serial');
      await markRevoked(tx, serial, revokedAt, code);
      await appendAudit(tx, [{ actor, action: 'certificate.revoked', target: serial, details: { reason, code }, at: revokedAt }]);
      // a superseded certificate's seals were re-made for its successor (印章更新); any other reason ends them
      if (reason !== 'superseded') {
        const seals = await revokeSeals(tx, { boundSerial: serial }, `certificate ${reason}`, revokedAt);
        if (seals.length)
          await appendAudit(tx, [{ actor, action: 'seal.revoked', target: serial, details: { seals, reason }, at: revokedAt }]);
      }
      const revoked = { ...cert, status: 'revoked' as const, revoked_at: revokedAt, revocation_reason: code };
      if (also) await also(tx, revoked);
      // only the CRL the certificate names: its shard, or the full CRL for one from before shards
      const issuer = this.crlIssuerOf(revoked);
      const crl = issuer && (await tryInSavepoint(tx, () => publishCrlIn(tx, this.config, issuer, revoked.crl_shard, actor)));
      const published = crl !== undefined && 'value' in crl;
      // remembered with the revocation, so the refresher signs it soon even if the retry below fails
      if (!published) await oweCrl(tx, revoked.ca_id, revoked.crl_shard, revokedAt);
      return { revoked, published };
    });
    // not published with it (no key for that CA here, or signing failed): generateCrl tries, or says why
    if (!updated.published) await this.generateCrl(updated.revoked.ca_id, actor, updated.revoked.crl_shard);
    return updated.revoked;
  }

  /** The loaded CA that signs the CRL naming `cert`, when this process holds its key. */
  private crlIssuerOf(cert: CertificateRecord): LoadedCa | undefined {
    const ca = this.cas.get(cert.ca_id);
    return ca && (cert.crl_shard === null || ca.record.kind === 'issuing') ? ca : undefined;
  }

  /** Signs and stores the next CRL of `caId`: its full CRL, or one shard's (`shard`). */
  async generateCrl(caId: string, actor = 'system', shard: number | null = null): Promise<StoredCrl> {
    const ca = this.cas.get(caId);
    if (!ca) throw new CaError('not_found', `no CA ${caId} with a key in this process`);
    if (shard !== null && ca.record.kind !== 'issuing')
      throw new CaError('not_found', `CA ${caId} is a ${ca.record.kind} CA: only issuing CAs have CRL shards`);
    return publishCrl(this.storage, this.config, ca, shard, actor);
  }

  /**
   * The CRL to serve for a scope: the newest stored one, regenerated first if it is missing or past
   * half its validity. A shard beyond CRL_SHARDS that was never published has no CRL (undefined).
   */
  async currentCrl(caId: string): Promise<StoredCrl>;
  async currentCrl(caId: string, shard: number | null): Promise<StoredCrl | undefined>;
  async currentCrl(caId: string, shard: number | null = null): Promise<StoredCrl | undefined> {
    // from the replica when there is one; a stale CRL is replaced by one signed and written on the primary
    const crl = await latestCrl(this.storage.readDb, caId, shard);
    if (crl && crl.next_update - Date.now() > (this.config.crlValiditySeconds * 1000) / 2) return crl;
    if (!crl && shard !== null && shard >= this.config.crlShards) return undefined;
    return this.generateCrl(caId, 'system', shard);
  }

  /** CAs that sign CRLs (root and issuing CAs). */
  crlIssuers(): LoadedCa[] {
    return [...this.cas.values()].filter((c) => c.record.kind !== 'ocsp');
  }

  async close(): Promise<void> {
    await this.writer.close();
    for (const ca of this.cas.values()) await ca.signer.close();
  }
}
