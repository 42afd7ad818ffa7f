// The seal-making unit (制章者): makes GB/T 38540 seals for holders' signing certificates, re-makes
// them when the certificate is renewed (印章更新), revokes them with it, and keeps its own SM2 key
// and certificate current. Invariants: a seal is made at most once per order; a seal record and
// every DER made for it are kept (seal_versions is append-only); a re-made seal keeps its esID and
// picture and names exactly the new certificate.
import { randomBytes } from 'node:crypto';
import { parseCertificate } from '../pki/certificate.js';
import { attributeValue } from '../pki/name.js';
import { assembleSeal, encodeSealInfo } from '../pki/ses-seal.js';
import { certifySealMaker } from '../ca/hierarchy.js';
import type { CertificateAuthority, SignerOpener } from '../ca/authority.js';
import { uniqueIdOf } from '../ra/certificate-summary.js';
import { RaError } from '../ra/errors.js';
import { appendAudit } from '../sa/audit.js';
import { getCertificate, type CertificateRecord } from '../sa/certificates.js';
import { exclusively, isUniqueViolation, writeTransaction, type Storage } from '../sa/database.js';
import { getHolder } from '../sa/holders.js';
import {
  activeSealMaker,
  getSeal,
  getSealByOrder,
  getSealMaker,
  insertSeal,
  listSeals,
  markSealsForReapplication,
  rebindSeal,
  replaceSealMaker,
  revokeSeals,
  sealsBoundTo,
  type SealMakerRecord,
  type SealRecord,
} from '../sa/seals.js';
import type { KeyRef, Signer } from '../signer/signer.js';
import type { KeyType } from '../pki/algorithms.js';
import type { KeyPurpose } from '../ca/hierarchy.js';

const DAY = 86_400_000;
/** SES_Header.vid */
export const SEAL_VENDOR_ID = 'certdesk';
/** A new maker certificate lasts this long (capped by the issuing CA), and is replaced this many days before its end. */
export const SEAL_MAKER_DAYS = 3 * 365;
export const SEAL_MAKER_RENEW_BEFORE_DAYS = 30;
const DEFAULT_SEAL_DAYS = 365;

/** SES_ESPropertyInfo.type is business-defined (SEALS.md 1.3); ours, by catalogue name. 9: any other type. */
const TYPE_NUMBERS: Record<string, number> = { 单位公章: 1, 合同专用章: 2, 财务专用章: 3, 发票专用章: 4, 法定代表人名章: 5 };
export const sealTypeNumber = (name: string): number => TYPE_NUMBERS[name] ?? 9;

export interface MakeSealRequest {
  holderSigningCertDer: Buffer;
  /** the seal type's name in the catalogue (单位公章 …) */
  type: string;
  name: string;
  picture: { png: Buffer; widthMm: number; heightMm: number };
  days?: number;
  orderId?: string;
  actor?: string;
}

export interface SealKeys {
  open: SignerOpener;
  newKeyLike(like: KeyRef, keyType: KeyType, purpose: KeyPurpose): Promise<Signer>;
}

const newEsId = (now: Date): string =>
  `CD${now.toISOString().slice(0, 10).replace(/-/g, '')}${randomBytes(5).toString('hex').toUpperCase()}`;

export class SealService {
  private readonly signers = new Map<string, Signer>();

  constructor(
    readonly storage: Storage,
    readonly ca: CertificateAuthority,
    private readonly keys: SealKeys,
  ) {}

  private get db() {
    return this.storage.db;
  }

  private async signerOf(maker: SealMakerRecord): Promise<Signer> {
    let s = this.signers.get(maker.id);
    if (!s) {
      s = await this.keys.open(JSON.parse(maker.key_ref) as KeyRef);
      this.signers.set(maker.id, s);
    }
    return s;
  }

  /** The active maker of the SM2 issuing CA, made now if there is none (an SM2 hierarchy from before seals). */
  async ensureMaker(actor = 'system:seal-maker'): Promise<SealMakerRecord> {
    const issuing = this.ca.issuingFor('sm2');
    const current = await activeSealMaker(this.db, issuing.record.id);
    if (current) return current;
    return exclusively(this.storage, async () => {
      const again = await activeSealMaker(this.db, issuing.record.id);
      return again ?? this.newMaker(undefined, actor, SEAL_MAKER_DAYS);
    });
  }

  /** Replaces the maker's key and certificate (`certdesk ca rotate-seal-maker`; the rotation job when due). */
  async rotateMaker(actor: string, days = SEAL_MAKER_DAYS): Promise<SealMakerRecord> {
    const issuing = this.ca.issuingFor('sm2');
    const previous = await activeSealMaker(this.db, issuing.record.id);
    return this.newMaker(previous?.id, actor, days);
  }

  /**
   * True when the maker is within SEAL_MAKER_RENEW_BEFORE_DAYS of its end and a new one would
   * outlast it. A missing maker is not due here: the first seal makes it (ensureMaker).
   */
  async makerDue(now = Date.now()): Promise<boolean> {
    if (!this.ca.families().includes('sm2')) return false;
    const issuing = this.ca.issuingFor('sm2');
    const maker = await activeSealMaker(this.db, issuing.record.id);
    if (!maker) return false;
    return maker.not_after - now < SEAL_MAKER_RENEW_BEFORE_DAYS * DAY && issuing.record.not_after > maker.not_after;
  }

  private async newMaker(previous: string | undefined, actor: string, days: number): Promise<SealMakerRecord> {
    const issuing = this.ca.issuingFor('sm2');
    const key = await this.keys.newKeyLike(JSON.parse(issuing.record.key_ref) as KeyRef, 'sm2', 'seal');
    const org = issuing.cert.subject.filter((a) => a.type === 'C' || a.type === 'O');
    const cert = await certifySealMaker(
      { signer: issuing.signer, subjectDer: issuing.cert.subjectDer, notAfter: issuing.cert.notAfter, id: issuing.record.id },
      key,
      days,
      org,
      this.ca.config.pkiUrl,
    );
    const row: SealMakerRecord = {
      id: `seal-${parseCertificate(cert.der).serialHex.slice(0, 16)}`,
      issuing_ca_id: issuing.record.id,
      cert_der: cert.der,
      key_ref: JSON.stringify(key.ref),
      key_type: key.keyType,
      not_before: cert.notBefore.getTime(),
      not_after: cert.notAfter.getTime(),
      active: 1,
      created_at: Date.now(),
    };
    const replaced = await writeTransaction(this.storage, async (tx) => {
      if (!(await replaceSealMaker(tx, previous, row))) return false;
      await appendAudit(tx, [
        {
          actor,
          action: previous ? 'seal_maker.rotated' : 'seal_maker.created',
          target: row.id,
          details: {
            issuing: issuing.record.id,
            previous: previous ?? null,
            notAfter: cert.notAfter.toISOString(),
            key: key.ref,
          },
        },
      ]);
      return true;
    });
    if (!replaced) {
      await key.close();
      throw new RaError('invalid_state', 'the seal maker was replaced by another process meanwhile; nothing changed');
    }
    this.signers.set(row.id, key);
    return row;
  }

  private async sign(maker: SealMakerRecord, info: Parameters<typeof encodeSealInfo>[0]): Promise<Buffer> {
    const sealInfo = encodeSealInfo(info);
    const signer = await this.signerOf(maker);
    return assembleSeal(sealInfo, Buffer.from(maker.cert_der), await signer.sign(sealInfo));
  }

  /**
   * Makes a seal bound to `holderSigningCertDer`. With an orderId, at most one seal per order:
   * asking again (a retry, a second instance) returns the one made.
   */
  async makeSeal(req: MakeSealRequest): Promise<SealRecord> {
    if (req.orderId) {
      const made = await getSealByOrder(this.db, req.orderId);
      if (made) return made;
    }
    const actor = req.actor ?? 'system:seal-maker';
    const parsed = parseCertificate(req.holderSigningCertDer);
    const cert = await getCertificate(this.db, parsed.serialHex);
    if (!cert || !Buffer.from(cert.der).equals(req.holderSigningCertDer))
      throw new RaError('not_found', 'the holder certificate is not one this CA issued', 'holderCert');
    if (cert.status !== 'valid')
      throw new RaError('invalid_state', `the holder certificate ${cert.serial} is ${cert.status}`, 'holderCert');
    if (cert.signing_serial)
      throw new RaError('invalid', 'a seal binds the signing certificate, not the encryption one', 'holderCert');
    if (cert.not_after <= Date.now())
      throw new RaError('invalid_state', `the holder certificate ${cert.serial} has expired`, 'holderCert');
    const name = req.name.trim();
    if (!name) throw new RaError('invalid', 'the seal name is empty', 'name');
    const type = await this.db.selectFrom('seal_types').selectAll().where('name', '=', req.type).executeTakeFirst();
    if (type?.name_is_organization) {
      const org = attributeValue(parsed.subject, 'O');
      if (name !== org)
        throw new RaError(
          'invalid',
          `a ${req.type}'s name must be the organisation's name on the certificate (${org ?? 'none'}), not ${name}`,
          'name',
        );
    }
    const days = req.days ?? type?.validity_days ?? DEFAULT_SEAL_DAYS;
    if (!Number.isInteger(days) || days < 1 || days > 20 * 365)
      throw new RaError('invalid', 'days: a whole number of days, 1 to 7300', 'days');
    const maker = await this.ensureMaker(actor);
    const holder = await getHolder(this.db, cert.holder_id);
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    const termEnd = now.getTime() + days * DAY;
    const validEnd = Math.min(termEnd, cert.not_after);
    for (let attempt = 0; ; attempt++) {
      const esId = newEsId(now);
      const der = await this.sign(maker, {
        vendorId: SEAL_VENDOR_ID,
        esId,
        type: sealTypeNumber(req.type),
        name,
        holderCerts: [req.holderSigningCertDer],
        createDate: now,
        validStart: now,
        validEnd: new Date(validEnd),
        picture: { type: 'png', data: req.picture.png, widthMm: req.picture.widthMm, heightMm: req.picture.heightMm },
      });
      const row: SealRecord = {
        es_id: esId,
        holder_id: cert.holder_id,
        holder_unique_id: holder?.unique_id ?? uniqueIdOf(cert.der, this.ca.config.uniqueIdOid) ?? null,
        type_code: type?.code ?? req.type,
        type_number: sealTypeNumber(req.type),
        name,
        picture_png: req.picture.png,
        width_mm: req.picture.widthMm,
        height_mm: req.picture.heightMm,
        status: 'valid',
        valid_start: now.getTime(),
        valid_end: validEnd,
        term_end: termEnd,
        bound_serial: cert.serial,
        maker_id: maker.id,
        generation: 1,
        der,
        order_id: req.orderId ?? null,
        created_at: now.getTime(),
        created_by: actor,
        updated_at: now.getTime(),
        revoked_at: null,
        revoked_reason: null,
        reapply_order: null,
        reapply_at: null,
      };
      try {
        await writeTransaction(this.storage, async (tx) => {
          await insertSeal(tx, row);
          await appendAudit(tx, [
            {
              actor,
              action: 'seal.made',
              target: esId,
              details: { name, type: req.type, certificate: cert.serial, order: req.orderId ?? null, maker: maker.id },
            },
          ]);
        });
        return row;
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
        if (req.orderId) {
          const made = await getSealByOrder(this.db, req.orderId);
          if (made) return made; // another instance made this order's seal first
        }
        if (attempt >= 3) throw e; // an esID collision: draw again
      }
    }
  }

  /**
   * 印章更新: every valid seal bound to `oldSerial` re-made for `next` (the renewed signing
   * certificate) — same esID, picture and name; certList = exactly `next`; validity to the paid term
   * or the new certificate's end. Idempotent: seals already moved to `next` are returned as they are.
   */
  async remakeFor(
    oldSerial: string,
    next: CertificateRecord,
    actor: string,
    opts: {
      /** 变更证书: seals named the holder's old 名称 are re-made too, and marked for re-application */
      renamed?: { from: string; orderId: string };
    } = {},
  ): Promise<SealRecord[]> {
    if (opts.renamed) await this.markForReapplication([oldSerial, next.serial], opts.renamed.from, opts.renamed.orderId, actor);
    const out: SealRecord[] = [];
    for (const seal of await sealsBoundTo(this.db, oldSerial)) {
      const maker = await this.ensureMaker(actor);
      const now = new Date(Math.floor(Date.now() / 1000) * 1000);
      const validEnd = Math.min(seal.term_end, next.not_after);
      const der = await this.sign(maker, {
        vendorId: SEAL_VENDOR_ID,
        esId: seal.es_id,
        type: seal.type_number,
        name: seal.name,
        holderCerts: [Buffer.from(next.der)],
        createDate: new Date(seal.created_at),
        validStart: now,
        validEnd: new Date(Math.max(validEnd, now.getTime() + 1000)),
        picture: { type: 'png', data: Buffer.from(seal.picture_png), widthMm: seal.width_mm, heightMm: seal.height_mm },
      });
      await writeTransaction(this.storage, async (tx) => {
        const moved = await rebindSeal(
          tx,
          seal,
          {
            bound_serial: next.serial,
            der,
            valid_start: now.getTime(),
            valid_end: validEnd,
            maker_id: maker.id,
            updated_at: now.getTime(),
          },
          actor,
        );
        if (moved)
          await appendAudit(tx, [
            {
              actor,
              action: 'seal.remade',
              target: seal.es_id,
              details: { from: oldSerial, to: next.serial, generation: seal.generation + 1 },
            },
          ]);
      });
      const current = await getSeal(this.db, seal.es_id);
      if (current && current.bound_serial === next.serial) out.push(current);
    }
    return out;
  }

  /**
   * Seals named `name` bound to one of `serials`, marked (once) as needing a new application because
   * change order `orderId` changed the holder's 名称: they keep working, but no longer name the holder.
   */
  private async markForReapplication(serials: string[], name: string, orderId: string, actor: string): Promise<void> {
    await writeTransaction(this.storage, async (tx) => {
      const marked = await markSealsForReapplication(tx, { boundSerials: serials, name, orderId, at: Date.now() });
      if (marked.length)
        await appendAudit(
          tx,
          marked.map((esId) => ({ actor, action: 'seal.reapply_marked', target: esId, details: { order: orderId, name } })),
        );
    });
  }

  /** The seals of the certificate the holder has now (what the assistant writes to the key). */
  boundTo(serial: string): Promise<SealRecord[]> {
    return sealsBoundTo(this.db, serial);
  }

  async revoke(esId: string, actor: string, reason = 'revoked'): Promise<SealRecord> {
    const seal = await getSeal(this.db, esId);
    if (!seal) throw new RaError('not_found', `no seal ${esId}`, 'esId');
    if (seal.status === 'revoked') throw new RaError('invalid_state', `seal ${esId} is already revoked`, 'esId');
    await writeTransaction(this.storage, async (tx) => {
      if ((await revokeSeals(tx, { esId }, reason, Date.now())).length)
        await appendAudit(tx, [{ actor, action: 'seal.revoked', target: esId, details: { reason } }]);
    });
    return (await getSeal(this.db, esId))!;
  }

  get(esId: string): Promise<SealRecord | undefined> {
    return getSeal(this.db, esId);
  }

  list(f: { holderUniqueId?: string; limit?: number } = {}): Promise<SealRecord[]> {
    return listSeals(this.db, f);
  }

  maker(id: string): Promise<SealMakerRecord | undefined> {
    return getSealMaker(this.db, id);
  }

  async close(): Promise<void> {
    for (const s of this.signers.values()) await s.close();
    this.signers.clear();
  }
}
