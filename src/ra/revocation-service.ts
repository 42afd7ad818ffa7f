// Revocation by the holder (signed statement) and by staff on a 挂失 request (the key is lost).
// Invariant: a certificate is revoked only together with the evidence it rests on (the statement row
// is written in the CA's revoke transaction: both or neither), one statement revokes at most once
// (its nonce is consumed in that same transaction), and a refusal changes nothing.
// A dual pair is revoked as one: the encryption certificate follows its signing certificate.
import { enqueueCertificateEvent } from '../notify/webhooks.js';
import { randomBytes } from 'node:crypto';
import type { CertificateAuthority } from '../ca/authority.js';
import { CaError } from '../ca/errors.js';
import {
  buildRevocationStatement,
  isHolderRevocationReason,
  parseRevocationStatement,
  RevocationStatementError,
  verifyRevocationSignature,
  HOLDER_REVOCATION_REASONS,
  type RevocationStatement,
} from '../pki/revocation-statement.js';
import { challengeDigest } from '../pki/login-challenge.js';
import { appendAudit } from '../sa/audit.js';
import { endSessionsOfCertificate } from '../sa/sessions.js';
import { certificateTypeForProfile } from '../sa/catalogue.js';
import {
  getCertificate,
  getEncryptionPartner,
  liveSigningCertificatesOf,
  normaliseSerial,
  typedSerial,
  type CertificateRecord,
} from '../sa/certificates.js';
import { writeTransaction, type Storage, type Tx } from '../sa/database.js';
import { findHolderByUniqueId, findHoldersByUniqueIds } from '../sa/holders.js';
import { revokeSeals } from '../sa/seals.js';
import {
  decideRevocationRequest,
  getRevocationRequest,
  insertRevocationRequest,
  insertRevocationStatement,
  type RevocationRequest,
} from '../sa/revocations.js';
import { consumeChallenge, insertChallenge } from '../sa/sessions.js';
import { assertOwnedBy } from './holder-login.js';
import { RaError } from './errors.js';

export interface RevocationOutcome {
  serial: string;
  reason: string;
  revokedAt: number;
  /** the encryption certificate of the pair, revoked with it */
  encryptionSerial: string | null;
  /** DER of the revoked (signing) certificate: what the assistant may delete from the key */
  der: Buffer;
}

const newId = (prefix: string) => `${prefix}${randomBytes(10).toString('hex')}`;

export class Revocations {
  constructor(private readonly deps: { storage: Storage; ca: CertificateAuthority }) {}

  /** Whether the catalogue refunds the unused period of this certificate's type (default: no). */
  async refundsUnused(cert: CertificateRecord): Promise<boolean> {
    const type = await certificateTypeForProfile(this.deps.storage.db, cert.profile);
    return (type?.refund_unused ?? 0) === 1;
  }

  /** A statement for the holder's key to sign: names serial, reason and a one-time nonce. */
  async statementFor(
    owner: { holderId: number | null; sessionSerial: string },
    input: { serial: string; reason: unknown; origin: string },
  ): Promise<{ text: string; statement: RevocationStatement; refundUnused: boolean }> {
    const cert = assertOwnedBy(await getCertificate(this.deps.storage.db, input.serial), owner.holderId, owner.sessionSerial);
    if (cert.signing_serial !== null)
      throw new RaError(
        'invalid',
        'revoke the signing certificate (签名证书): its encryption certificate is revoked with it',
        'serial',
      );
    if (cert.status === 'revoked') throw new RaError('invalid_state', `certificate ${cert.serial} is already revoked`, 'serial');
    if (!isHolderRevocationReason(input.reason))
      throw new RaError('invalid', `reason must be one of ${HOLDER_REVOCATION_REASONS.join(', ')}`, 'reason');
    const { statement, text } = buildRevocationStatement({ origin: input.origin, serial: cert.serial, reason: input.reason });
    // the nonce store of login challenges: one use, exact bytes, expiry
    await insertChallenge(this.deps.storage.db, {
      nonce: statement.nonce,
      origin: input.origin,
      textSha256: challengeDigest(text),
      expiresAt: statement.exp * 1000,
    });
    return { text, statement, refundUnused: await this.refundsUnused(cert) };
  }

  /** Revokes on a statement signed by the certificate's own key. Refusals change nothing. */
  async revokeByHolder(
    owner: { holderId: number | null; sessionSerial: string },
    input: { text: string; signature: Buffer; origin: string },
  ): Promise<RevocationOutcome> {
    let st: RevocationStatement;
    try {
      st = parseRevocationStatement(input.text);
    } catch (e) {
      throw new RaError('invalid', (e as RevocationStatementError).message, 'statement');
    }
    const cert = assertOwnedBy(await getCertificate(this.deps.storage.db, st.serial), owner.holderId, owner.sessionSerial);
    if (!verifyRevocationSignature(input.text, input.signature, Buffer.from(cert.der))) {
      throw new RaError(
        'proof_invalid',
        `the revocation statement was not signed by the key of certificate ${cert.serial}; sign it with that certificate's key`,
        'signature',
      );
    }
    if (cert.status === 'revoked')
      throw new RaError('invalid_state', `certificate ${cert.serial} is already revoked`, 'statement');
    const actor = `holder:${cert.serial}`;
    return this.revokePair(cert.serial, st.reason, actor, async (tx, at) => {
      const fresh = await consumeChallenge(tx, {
        nonce: st.nonce,
        origin: input.origin,
        textSha256: challengeDigest(input.text),
        now: at,
      });
      if (!fresh) {
        throw new RaError(
          'proof_invalid',
          'this revocation statement is unknown, used already or expired: start the revocation again',
          'statement',
        );
      }
      await insertRevocationStatement(tx, {
        id: newId('RVS'),
        serial: cert.serial,
        reason: st.reason,
        source: 'holder',
        nonce: st.nonce,
        statement: input.text,
        signature: input.signature,
        actor,
        request_id: null,
        created_at: at,
      });
    });
  }

  /**
   * 挂失/撤销申请 without the key. Always stores the request and answers the same, whether the
   * 唯一识别号 exists or not; which certificate it identifies is recorded for staff only. `serial`
   * (optional: a holder with several keys knows which was lost) identifies that one when it is a
   * live signing certificate of the holder; otherwise the newest is matched, and staff see the
   * serial as given.
   */
  async submitLossReport(input: Record<string, unknown>): Promise<{ id: string }> {
    const text = (field: string, max: number): string => {
      const v = input[field];
      if (typeof v !== 'string' || v.trim() === '') throw new RaError('invalid', `${field} is required`, field);
      if (v.trim().length > max) throw new RaError('invalid', `${field} is longer than ${max} characters`, field);
      return v.trim();
    };
    const uniqueId = text('uniqueId', 64);
    const name = text('name', 200);
    const contact = text('contact', 200);
    if (!/^\+?[0-9 -]{6,20}$/.test(contact) && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(contact))
      throw new RaError('invalid', 'contact must be a phone number or an email address', 'contact');
    const reason = input.reason;
    if (!isHolderRevocationReason(reason))
      throw new RaError('invalid', `reason must be one of ${HOLDER_REVOCATION_REASONS.join(', ')}`, 'reason');
    const givenSerial = optionalSerial(input.serial);
    const db = this.deps.storage.db;
    // the same queries whether or not the holder exists (timing shape)
    const holder = await findHolderByUniqueId(db, uniqueId);
    const live = await liveSigningCertificatesOf(db, [holder?.id ?? -1], Date.now());
    const match = holder && holder.name === name ? (live.find((c) => c.serial === givenSerial) ?? live[0]) : undefined;
    const id = newId('RVQ');
    await writeTransaction(this.deps.storage, async (tx) => {
      await insertRevocationRequest(tx, {
        id,
        unique_id: uniqueId,
        name,
        contact,
        reason,
        matched_serial: match?.serial ?? null,
        given_serial: givenSerial ?? null,
        state: 'pending',
        reviewer: null,
        decision_reason: null,
        reviewed_at: null,
        created_at: Date.now(),
      });
      await appendAudit(tx, [{ actor: 'public', action: 'revocation.requested', target: id, details: { reason } }]);
    });
    return { id };
  }

  /**
   * The certificates a 挂失 request may revoke: the live signing certificates of the holder its
   * 唯一识别号 and 名称 identify, newest first (the first is what it matched when submitted).
   */
  async lossReportCandidates(req: RevocationRequest): Promise<CertificateRecord[]> {
    return (await this.lossReportCandidatesOf([req])).get(req.id) ?? [];
  }

  /** lossReportCandidates of several requests in two queries (the review queue), by request id. */
  async lossReportCandidatesOf(reqs: RevocationRequest[]): Promise<Map<string, CertificateRecord[]>> {
    const db = this.deps.storage.db;
    const holders = await findHoldersByUniqueIds(
      db,
      reqs.map((r) => r.unique_id),
    );
    const identified = (r: RevocationRequest) => {
      const h = holders.get(r.unique_id);
      return h && h.name === r.name ? h : undefined;
    };
    // no query for no holders (certificatesWhereIn)
    const live = await liveSigningCertificatesOf(
      db,
      reqs.flatMap((r) => identified(r)?.id ?? []),
      Date.now(),
    );
    return new Map(reqs.map((r) => [r.id, live.filter((c) => c.holder_id === identified(r)?.id)]));
  }

  /**
   * Staff approve a 挂失 request: the identified certificate (and its pair) is revoked, the decision
   * is the evidence. `serial` picks another of the holder's live signing certificates than the one
   * matched (a holder with several keys: the lost one need not be the newest).
   */
  async approveLossReport(actor: string, id: string, note: string, serial?: string): Promise<RevocationOutcome> {
    const req = await this.pendingRequest(id);
    if (!req.matched_serial)
      throw new RaError('not_eligible', 'this request identifies no certificate of this CA: reject it', 'id');
    let target = req.matched_serial;
    // naming the match is the default (the staff page sends it), whatever has become of the others
    if (serial !== undefined && serial !== '' && normaliseSerial(serial) !== target) {
      const chosen = (await this.lossReportCandidates(req)).find((c) => c.serial === normaliseSerial(serial));
      if (!chosen)
        throw new RaError(
          'invalid',
          `serial ${serial} is not a live signing certificate of the holder this request identifies`,
          'serial',
        );
      target = chosen.serial;
    }
    const at0 = Date.now();
    const decision = JSON.stringify({
      v: 1,
      type: 'certdesk-revocation-decision',
      requestId: req.id,
      serial: target,
      reason: req.reason,
      reviewer: actor,
      note,
      at: at0,
    });
    return this.revokePair(target, req.reason, actor, async (tx, at) => {
      if (
        !(await decideRevocationRequest(tx, { id, state: 'approved', reviewer: actor, reason: note || null, at, serial: target }))
      )
        throw new RaError('invalid_state', `request ${id} has been decided already`, 'id');
      // the key is lost: whoever holds it is logged out of the portal with the revocation
      await endSessionsOfCertificate(tx, target, at);
      await insertRevocationStatement(tx, {
        id: newId('RVS'),
        serial: target,
        reason: req.reason,
        source: 'staff',
        nonce: null,
        statement: decision,
        signature: null,
        actor,
        request_id: id,
        created_at: at,
      });
      await appendAudit(tx, [
        {
          actor,
          action: 'revocation.request_approved',
          target: id,
          details: { serial: target, ...(target !== req.matched_serial ? { matched: req.matched_serial } : {}), note },
          at,
        },
      ]);
    });
  }

  async rejectLossReport(actor: string, id: string, reason: string): Promise<RevocationRequest> {
    if (reason.trim() === '') throw new RaError('invalid', 'say why the request is rejected', 'reason');
    await this.pendingRequest(id);
    await writeTransaction(this.deps.storage, async (tx) => {
      if (!(await decideRevocationRequest(tx, { id, state: 'rejected', reviewer: actor, reason: reason.trim(), at: Date.now() })))
        throw new RaError('invalid_state', `request ${id} has been decided already`, 'id');
      await appendAudit(tx, [{ actor, action: 'revocation.request_rejected', target: id, details: { reason: reason.trim() } }]);
    });
    return (await getRevocationRequest(this.deps.storage.db, id))!;
  }

  private async pendingRequest(id: string): Promise<RevocationRequest> {
    const req = await getRevocationRequest(this.deps.storage.db, id);
    if (!req) throw new RaError('not_found', `no revocation request ${id}`, 'id');
    if (req.state !== 'pending') throw new RaError('invalid_state', `request ${id} is ${req.state} already`, 'id');
    return req;
  }

  /**
   * The signing certificate with its evidence in one CA transaction, then its encryption partner
   * (already-revoked partner is fine: a retry after a crash between the two completes the pair).
   */
  private async revokePair(
    serial: string,
    reason: string,
    actor: string,
    evidence: (tx: Tx, at: number) => Promise<void>,
  ): Promise<RevocationOutcome> {
    const at = Math.floor(Date.now() / 1000) * 1000;
    let signing: CertificateRecord;
    try {
      signing = await this.deps.ca.revoke(serial, reason, actor, at, async (tx, cert) => {
        await evidence(tx, at);
        // relying applications hear of it in the same transaction (the outbox delivers it later)
        await enqueueCertificateEvent(tx, 'certificate.revoked', `revoked:${cert.serial}`, cert, {
          reason,
          revokedAt: new Date(at).toISOString(),
        });
        // ca.revoke keeps the seals of a superseded certificate (renewal re-makes them for the
        // successor); a holder or a 挂失 revoking "superseded" has no successor, so they end here
        if (reason === 'superseded') {
          const seals = await revokeSeals(tx, { boundSerial: serial }, `certificate ${reason}`, at);
          if (seals.length)
            await appendAudit(tx, [{ actor, action: 'seal.revoked', target: serial, details: { seals, reason }, at }]);
        }
      });
    } catch (e) {
      if (e instanceof CaError && e.code === 'already_revoked') throw new RaError('invalid_state', e.message, 'serial');
      throw e;
    }
    const partner = await getEncryptionPartner(this.deps.storage.db, signing.serial);
    if (partner && partner.status !== 'revoked') {
      try {
        await this.deps.ca.revoke(partner.serial, reason, actor, at);
      } catch (e) {
        if (!(e instanceof CaError && e.code === 'already_revoked')) throw e;
      }
    }
    return {
      serial: signing.serial,
      reason,
      revokedAt: signing.revoked_at!,
      encryptionSerial: partner?.serial ?? null,
      der: Buffer.from(signing.der),
    };
  }
}

/** 证书序列号 as a holder types it (hex, with or without colons or spaces), normalised; undefined when left empty. */
function optionalSerial(v: unknown): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const serial = typeof v === 'string' ? typedSerial(v) : undefined;
  if (serial === undefined)
    throw new RaError(
      'invalid',
      'serial must be the certificate serial number in hexadecimal, at most 20 bytes (as 证书查询 shows it)',
      'serial',
    );
  return serial;
}
