// Who may log in to the portal: a certificate this CA issued and recorded, not revoked, within its
// validity — or expired but still inside the renewal window, for renewal only.
import type { CertificateAuthority } from '../ca/authority.js';
import { verifyLoginSignature } from '../pki/login-challenge.js';
import { getCertificate, type CertificateRecord } from '../sa/certificates.js';
import { certificateTypeForProfile } from '../sa/catalogue.js';
import type { Executor } from '../sa/database.js';
import { parseCertificate } from '../pki/certificate.js';
import { renewalWindow } from './renewal-window.js';
import { chinaDate } from '../shared/china-date.js';
import { RaError } from './errors.js';

export type LoginRefusal =
  'signature_invalid' | 'certificate_unknown' | 'certificate_revoked' | 'certificate_expired' | 'certificate_not_yet_valid';

export class LoginRefused extends Error {
  constructor(
    readonly code: LoginRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'LoginRefused';
  }
}

/** `db`: where to read, the caller's transaction when it checks inside one (SQLite has one connection). */
export async function checkHolderLogin(
  ca: CertificateAuthority,
  opts: { challengeText: string; signature: Buffer; certificateDer: Buffer; now?: number },
  db: Executor = ca.storage.db,
): Promise<{ record: CertificateRecord; renewalOnly: boolean }> {
  const now = opts.now ?? Date.now();
  let serial: string;
  try {
    serial = parseCertificate(opts.certificateDer).serialHex;
  } catch {
    throw new LoginRefused('certificate_unknown', 'the certificate could not be read');
  }
  const record = await getCertificate(db, serial);
  // Our own record is the authority: the exact bytes must be a certificate we issued.
  if (!record || !Buffer.from(record.der).equals(opts.certificateDer)) {
    throw new LoginRefused(
      'certificate_unknown',
      'this certificate was not issued by this CA; log in with a certificate from this CA, or contact a service point',
    );
  }
  // An encryption certificate's key is escrowed at the KMC: it proves nothing about who is at the key.
  if (record.signing_serial !== null)
    throw new LoginRefused(
      'certificate_unknown',
      'this is the encryption certificate (加密证书) of an SM2 pair: log in with its signing certificate (签名证书)',
    );
  if (!verifyLoginSignature(opts.challengeText, opts.signature, opts.certificateDer)) {
    throw new LoginRefused(
      'signature_invalid',
      'the signature does not match the certificate: the key on the USB key did not sign this login',
    );
  }
  if (record.status === 'revoked')
    throw new LoginRefused('certificate_revoked', 'this certificate has been revoked and cannot be used to log in');
  if (now < record.not_before) throw new LoginRefused('certificate_not_yet_valid', 'this certificate is not valid yet');
  if (now <= record.not_after) return { record, renewalOnly: false };
  const type = await certificateTypeForProfile(db, record.profile);
  const window = renewalWindow(new Date(record.not_after), type?.renew_before_days ?? 92, type?.renew_after_days ?? 92);
  if (now <= window.closesAt.getTime()) return { record, renewalOnly: true };
  throw new LoginRefused(
    'certificate_expired',
    `this certificate expired on ${chinaDate(record.not_after)} and the renewal window closed on ${chinaDate(window.closesAt)}; a service point (服务网点) can renew it`,
  );
}

export function assertOwnedBy(
  record: CertificateRecord | undefined,
  holderId: number | null,
  sessionSerial: string,
): CertificateRecord {
  if (!record) throw new RaError('not_found', 'no such certificate');
  const own = holderId !== null ? record.holder_id === holderId : record.serial === sessionSerial;
  if (!own) throw new RaError('not_found', 'no such certificate');
  return record;
}
