// Key recovery (密钥恢复) by a staff member with the kmc role: the escrowed private key of an
// encryption certificate, in a new SM2 envelope to the holder's current SM2 signing certificate.
// The checks a recovery officer relies on live here (the certificate is ours, valid, the same
// holder's, an SM2 signing certificate); the KMC audits the recovery itself. Used by
// `certdesk kmc recover` and POST /api/staff/kmc/recover.
import { KMC_HTTP_STATUS, KmcError } from '../kmc/errors.js';
import { parseCertificate, findExtension, type ParsedCertificate } from '../pki/certificate.js';
import * as der from '../pki/der.js';
import { OID } from '../pki/oids.js';
import { derOrPem } from '../pki/pem.js';
import { Sm2PublicKey } from '../pki/sm2-key.js';
import type { Runtime } from '../runtime.js';
import { appendAudit } from '../sa/audit.js';
import { getCertificate, typedSerial, type CertificateRecord } from '../sa/certificates.js';
import { writeTransaction } from '../sa/database.js';
import type { StaffContext } from './accounts.js';
import { invalid, notFound, StaffError } from './errors.js';

export interface RecoveryRequest {
  /** serial (hex) of the encryption certificate whose key is recovered */
  serial: string;
  /** the holder's current SM2 signing certificate (PEM or DER): the envelope is made to its key */
  signingCertificate: Buffer;
  reason: string;
}

export interface Recovered {
  keyId: string;
  /** DER SM2EnvelopedKey to the signing certificate's public key */
  envelope: Buffer;
  encryption: CertificateRecord;
  signing: CertificateRecord;
}

/** keyUsage digitalSignature (bit 0), or true when the certificate has no keyUsage at all. */
function allowsSigning(cert: ParsedCertificate): boolean {
  const ext = findExtension(cert, OID.keyUsage);
  if (!ext) return true;
  const bits = der.decodeBitString(der.expect(der.parse(ext.value), der.Tag.BIT_STRING, 'keyUsage'));
  return ((bits[0] ?? 0) & 0x80) !== 0;
}

function kmcToStaff(e: unknown): unknown {
  if (!(e instanceof KmcError)) return e;
  return new StaffError(KMC_HTTP_STATUS[e.code], e.code, { en: e.message, zh: e.message }, e.field);
}

export class StaffKeyRecovery {
  constructor(readonly rt: Runtime) {}

  async recover(ctx: StaffContext, req: RecoveryRequest): Promise<Recovered> {
    const db = this.rt.storage.db;
    if (!ctx.permissions.has('kmc.recover')) {
      // A refused attempt at an escrowed key is worth a line in the log, unlike other refusals.
      await writeTransaction(this.rt.storage, (tx) =>
        appendAudit(tx, [
          { actor: ctx.actor, action: 'kmc.recovery_refused', target: req.serial, details: { roles: ctx.roles } },
        ]),
      );
      throw new StaffError(403, 'forbidden', {
        en: `key recovery needs the kmc role; your roles (${ctx.roles.join(', ')}) do not allow it (kmc.recover)`,
        zh: `密钥恢复须具有 kmc 角色；您的角色（${ctx.roles.join('、')}）无权执行（kmc.recover）`,
      });
    }
    const reason = req.reason?.trim() ?? '';
    if (!reason) throw invalid({ en: 'reason is required for a key recovery', zh: '密钥恢复须填写原因（reason）' }, 'reason');
    if (reason.length > 500)
      throw invalid({ en: 'reason is longer than 500 characters', zh: '原因不得超过 500 个字符' }, 'reason');
    const serial = typedSerial(req.serial);
    if (!serial)
      throw invalid({ en: 'serial must be the certificate serial in hex', zh: 'serial 须为十六进制证书序列号' }, 'serial');
    const encryption = await getCertificate(db, serial);
    if (!encryption)
      throw notFound({
        en: `no certificate with serial ${req.serial} was issued here`,
        zh: `本系统未签发序列号为 ${req.serial} 的证书`,
      });

    let cert: ParsedCertificate;
    try {
      cert = parseCertificate(derOrPem(req.signingCertificate, 'CERTIFICATE'));
    } catch (e) {
      throw invalid(
        {
          en: `the signing certificate is not an X.509 certificate (PEM or DER): ${(e as Error).message}`,
          zh: `签名证书不是 X.509 证书（PEM 或 DER）：${(e as Error).message}`,
        },
        'to',
      );
    }
    const signing = await getCertificate(db, cert.serialHex);
    if (!signing || !signing.der.equals(cert.der))
      throw invalid({ en: 'the signing certificate was not issued by this CA', zh: '该签名证书不是本 CA 签发的' }, 'to');
    if (signing.serial === encryption.serial)
      throw invalid(
        {
          en: 'the target must be the holder’s signing certificate, not the encryption certificate itself',
          zh: '目标须为持有者的签名证书，而不是该加密证书本身',
        },
        'to',
      );
    const now = Date.now();
    if (signing.status !== 'valid' || signing.not_after <= now || signing.not_before > now)
      throw invalid(
        {
          en: `the signing certificate ${signing.serial} is ${signing.status === 'revoked' ? 'revoked' : 'not within its validity period'}: recover to the holder’s current one`,
          zh: `签名证书 ${signing.serial} ${signing.status === 'revoked' ? '已吊销' : '不在有效期内'}：请恢复至持有者当前的签名证书`,
        },
        'to',
      );
    try {
      Sm2PublicKey.fromSpki(cert.spki);
    } catch {
      throw invalid({ en: 'the signing certificate does not have an SM2 key', zh: '该签名证书的公钥不是 SM2 公钥' }, 'to');
    }
    if (!allowsSigning(cert))
      throw invalid(
        {
          en: 'the target certificate is not a signing certificate (keyUsage lacks digitalSignature)',
          zh: '目标证书不是签名证书（密钥用法不含 digitalSignature）',
        },
        'to',
      );
    const sameHolder =
      encryption.holder_id !== null && signing.holder_id !== null
        ? encryption.holder_id === signing.holder_id
        : encryption.subject === signing.subject;
    if (!sameHolder)
      throw invalid(
        {
          en: `the signing certificate belongs to another holder (${signing.subject}) than the encryption certificate (${encryption.subject})`,
          zh: `签名证书的持有者（${signing.subject}）与加密证书的持有者（${encryption.subject}）不同`,
        },
        'to',
      );

    try {
      const r = await this.rt.kmc.recover({
        encSpkiSha256: encryption.spki_sha256,
        signingSpki: cert.spki,
        actor: ctx.actor,
        reason: `${reason} [encryption certificate ${encryption.serial} → signing certificate ${signing.serial}]`,
      });
      return { ...r, encryption, signing };
    } catch (e) {
      throw kmcToStaff(e);
    }
  }
}
