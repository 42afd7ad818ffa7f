// Certificates from the staff side: search, details with the live OCSP answer and the current
// CRL's view, and revocation on a holder's request (reason and request recorded with the staff
// member, through the CA's revoke(), which publishes a new CRL).
import { createHash } from 'node:crypto';
import { CaError } from '../ca/errors.js';
import { END_ENTITY_REASONS, reasonName } from '../shared/revocation-reasons.js';
import { subjectPublicKeyBits } from '../pki/algorithms.js';
import * as der from '../pki/der.js';
import { OID } from '../pki/oids.js';
import { toPem } from '../pki/pem.js';
import { summarise } from '../ra/certificate-summary.js';
import { appendAudit, listAudit } from '../sa/audit.js';
import { searchCertificates, type CertificateSearch } from '../sa/backoffice.js';
import {
  getCertificate,
  getEncryptionPartner,
  normaliseSerial,
  typedSerial,
  type CertificateRecord,
} from '../sa/certificates.js';
import { latestCrl } from '../sa/crls.js';
import { writeTransaction } from '../sa/database.js';
import { getHolder } from '../sa/holders.js';
import { endSessionsOfCertificate } from '../sa/sessions.js';
import type { Runtime } from '../runtime.js';
import type { StaffContext } from './accounts.js';
import { invalid, notFound, StaffError } from './errors.js';

/** Serials on a CRL (DER CertificateList), lowercase hex as stored. */
export function crlSerials(crlDer: Buffer): Set<string> {
  const [tbs] = der.children(der.parse(crlDer));
  const parts = der.children(tbs!);
  const out = new Set<string>();
  // version, signature, issuer, thisUpdate, nextUpdate, then revokedCertificates (a SEQUENCE) if any
  const list = parts[5];
  if (list && list.tag === der.Tag.SEQUENCE)
    for (const entry of der.children(list)) out.add(der.decodeIntHex(der.children(entry)[0]!));
  return out;
}

export class StaffCertificates {
  constructor(readonly rt: Runtime) {}

  private get db() {
    return this.rt.storage.db;
  }

  search(f: Omit<CertificateSearch, 'serial'> & { serial?: string }) {
    const serial = f.serial ? typedSerial(f.serial) : undefined;
    if (f.serial && serial === undefined)
      throw invalid({ en: 'a serial is hexadecimal', zh: '证书序列号须为十六进制' }, 'serial');
    return searchCertificates(this.db, { ...f, ...(serial ? { serial } : {}) });
  }

  async get(serial: string): Promise<CertificateRecord> {
    const s = normaliseSerial(serial);
    const cert = /^[0-9a-f]{1,40}$/.test(s) ? await getCertificate(this.db, s) : undefined;
    if (!cert) throw notFound({ en: `no certificate with serial ${serial}`, zh: `没有序列号为 ${serial} 的证书` });
    return cert;
  }

  /** Asks the OCSP responder in-process, exactly as a relying party would (SHA-1 CertID). */
  async ocspStatus(cert: CertificateRecord): Promise<string> {
    const issuer = this.rt.ca.cas.get(cert.ca_id);
    if (!issuer) return 'unknown issuer';
    const certId = der.seq(
      der.seq(der.oid(OID.sha1), der.nullValue()),
      der.octetString(createHash('sha1').update(issuer.cert.subjectDer).digest()),
      der.octetString(createHash('sha1').update(subjectPublicKeyBits(issuer.cert.spki)).digest()),
      der.intFromUnsigned(Buffer.from(cert.serial, 'hex')),
    );
    const request = der.seq(der.seq(der.seq(der.seq(certId))));
    return (await this.rt.ocsp.respond(request)).outcome;
  }

  async crlStatus(
    cert: CertificateRecord,
  ): Promise<{ number: number; thisUpdate: string; nextUpdate: string; listed: boolean } | null> {
    // the CRL its DP names (its shard, or the full CRL for a certificate from before shards), as a
    // relying party would fetch it: a shard not published yet is signed now
    const crl = this.rt.ca.cas.has(cert.ca_id)
      ? await this.rt.ca.currentCrl(cert.ca_id, cert.crl_shard)
      : await latestCrl(this.db, cert.ca_id, cert.crl_shard);
    if (!crl) return null;
    return {
      number: crl.crl_number,
      thisUpdate: new Date(crl.this_update).toISOString(),
      nextUpdate: new Date(crl.next_update).toISOString(),
      listed: crlSerials(crl.der).has(cert.serial),
    };
  }

  async detail(serial: string) {
    const cert = await this.get(serial);
    const profile = this.rt.ca.profiles.get(cert.profile);
    const [holder, orders, audit, ocsp, crl, encryption] = await Promise.all([
      getHolder(this.db, cert.holder_id),
      this.db
        .selectFrom('orders')
        .select(['id', 'state', 'amount_fen', 'created_at', 'issued_serial', 'certificate_serial'])
        .where((eb) => eb.or([eb('certificate_serial', '=', cert.serial), eb('issued_serial', '=', cert.serial)]))
        .orderBy('created_at', 'desc')
        .limit(50)
        .execute(),
      listAudit(this.db, { target: cert.serial, limit: 200 }),
      this.ocspStatus(cert),
      this.crlStatus(cert),
      cert.signing_serial === null ? getEncryptionPartner(this.db, cert.serial) : Promise.resolve(undefined),
    ]);
    return {
      summary: summarise(cert, profile ?? { name: cert.profile, nameEn: cert.profile }, this.rt.config.uniqueIdOid),
      record: cert,
      /** an SM2 dual pair: the other certificate of the pair (record.signing_serial names an encryption certificate's partner) */
      encryptionSerial: encryption?.serial ?? null,
      pem: toPem('CERTIFICATE', cert.der),
      holder,
      orders,
      audit,
      ocsp,
      crl,
      revocation:
        cert.status === 'revoked'
          ? { at: new Date(cert.revoked_at!).toISOString(), reason: reasonName(cert.revocation_reason ?? 0) }
          : null,
    };
  }

  /** Revokes on the holder's request; the request (who asked, how, note) is audited with the staff member. */
  async revoke(
    ctx: StaffContext,
    serial: string,
    input: { reason: string; requestedBy: string; note?: string },
  ): Promise<CertificateRecord> {
    const cert = await this.get(serial);
    if (!(END_ENTITY_REASONS as string[]).includes(input.reason))
      throw invalid(
        {
          en: `reason must be one of ${END_ENTITY_REASONS.join(', ')}`,
          zh: `吊销原因须为 ${END_ENTITY_REASONS.join('、')} 之一`,
        },
        'reason',
      );
    const requestedBy = input.requestedBy.trim();
    if (!requestedBy || requestedBy.length > 200)
      throw invalid(
        { en: 'say who asked for the revocation (holder, contact, how)', zh: '请注明吊销申请人（持有人、联系方式、申请途径）' },
        'requestedBy',
      );
    const note = (input.note ?? '').trim().slice(0, 500);
    await writeTransaction(this.rt.storage, (tx) =>
      appendAudit(tx, [
        {
          actor: ctx.actor,
          action: 'certificate.revocation_requested',
          target: cert.serial,
          details: { reason: input.reason, requestedBy, note },
        },
      ]),
    );
    try {
      // whoever is logged in with it (a lost or compromised key) is logged out in the same transaction
      return await this.rt.ca.revoke(cert.serial, input.reason, ctx.actor, undefined, (tx, c) =>
        endSessionsOfCertificate(tx, c.serial, c.revoked_at!),
      );
    } catch (e) {
      if (e instanceof CaError && e.code === 'already_revoked')
        throw new StaffError(409, 'already_revoked', { en: e.message, zh: `证书 ${cert.serial} 已被吊销` });
      throw e;
    }
  }
}
