// Electronic seals on a key: GB/T 38540 SESeal DER in public data objects (CKO_DATA, application
// SEAL_APPLICATION), labelled with the esID. A seal is only useful with the signing certificate in its
// certList and that certificate's private key on the same key, so the assistant writes a seal only
// beside them, and a renewal swaps seal and certificate together (install/renewal.ts).
import { parseCertificate } from '../pki/certificate.js';
import type { ParsedSeal } from '../pki/ses-seal.js';
import { verifySeal } from '../pki/ses-verify.js';
import { AgentError } from './errors.js';
import {
  labelState,
  PENDING_PREFIX,
  RETIRED_PREFIX,
  SEAL_APPLICATION,
  type StoredCertificate,
  type StoredData,
  type TokenSession,
} from './tokens/driver.js';

/** What GET /v1/tokens/:id/seals and the approval window show of a seal. */
export interface SealView {
  esId: string;
  /** the data object's label: the esID, or pending:/retired: during a renewal */
  label: string;
  state: 'current' | 'pending' | 'retired';
  /** the maker's signature checks and the seal is within its validity; else the first failed check */
  valid: boolean;
  failedCheck: string | null;
  name: string;
  type: number;
  validStart: string;
  validEnd: string;
  /** the certificate it is bound to (certList[0]): its serial, and its id on this key (null: not on the key) */
  certificate: { serial: string; id: string | null } | null;
  picture: { type: string; widthMm: number; heightMm: number; data: string };
  /** SESeal DER, base64 */
  der: string;
}

/** Labels a renewal gives seals while it swaps them (the order id has no ':'; an esID is printable ASCII). */
export const pendingSealLabel = (orderId: string, esId: string): string => `${PENDING_PREFIX}${orderId}:${esId}`;
export const retiredSealLabel = (orderId: string, esId: string): string => `${RETIRED_PREFIX}${orderId}:${esId}`;

export const sealData = (label: string, value: Buffer): StoredData => ({ application: SEAL_APPLICATION, label, value });

/**
 * A seal the maker signed (its signature checked, in its validity) whose certList is exactly
 * `certDer`; else a 422 naming `field`. The assistant does not know the CA's maker certificate:
 * trust in the maker is the relying party's check, this one keeps damaged or foreign seals off the key.
 */
export function checkSealFor(sealDer: Buffer, certDer: Buffer | undefined, field: string): ParsedSeal {
  const v = verifySeal(sealDer);
  if (!v.ok)
    throw new AgentError(
      422,
      'seal_invalid',
      `${field}: the seal fails its ${v.failedCheck} check (${v.reason}); nothing was written`,
      { field, failedCheck: v.failedCheck },
    );
  if (v.seal.layout !== 'v4')
    throw new AgentError(422, 'seal_invalid', `${field}: only GB/T 38540 (v4) seals are written to keys; nothing was written`, {
      field,
    });
  if (certDer && !(v.seal.certList.length === 1 && v.seal.certList[0]!.equals(certDer)))
    throw new AgentError(
      422,
      'seal_certificate_mismatch',
      `${field}: the seal is not bound to exactly this certificate; nothing was written`,
      { field },
    );
  return v.seal;
}

export function describeSeal(d: StoredData, certs: StoredCertificate[]): SealView | undefined {
  // an expired or damaged seal is still listed, from what parses, so it can be seen and replaced
  const v = verifySeal(d.value);
  const seal = v.seal;
  if (!seal) return undefined;
  const bound = seal.certList[0];
  let certificate: SealView['certificate'] = null;
  if (bound) {
    try {
      certificate = {
        serial: parseCertificate(bound).serialHex.toUpperCase(),
        id: certs.find((c) => c.der.equals(bound))?.id ?? null,
      };
    } catch {
      certificate = null;
    }
  }
  return {
    esId: seal.esId,
    label: d.label,
    state: labelState(d.label),
    valid: v.ok,
    failedCheck: v.ok ? null : v.failedCheck,
    name: seal.name,
    type: seal.type,
    validStart: seal.validStart.toISOString(),
    validEnd: seal.validEnd.toISOString(),
    certificate,
    picture: {
      type: seal.picture.type,
      widthMm: seal.picture.widthMm,
      heightMm: seal.picture.heightMm,
      data: seal.picture.data.toString('base64'),
    },
    der: d.value.toString('base64'),
  };
}

export function describeSeals(data: StoredData[], certs: StoredCertificate[]): SealView[] {
  return data.flatMap((d) => describeSeal(d, certs) ?? []);
}

/**
 * Writes a seal outside a renewal (印章申请 approved, or written again), replacing the seal with the
 * same esID. Idempotent, and the token's labels are its journal: the new seal goes in as
 * pending:seal:<esID>, the one it replaces becomes retired:seal:<esID>, then the new one takes the
 * esID and the replaced one is deleted. A crash leaves at most one current seal with this esID, and a
 * second write finishes the job.
 */
export async function writeSeal(
  s: TokenSession,
  sealDer: Buffer,
): Promise<{ esId: string; certificateId: string; replaced: number }> {
  const seal = checkSealFor(sealDer, undefined, 'seal');
  if (seal.certList.length !== 1)
    throw new AgentError(
      422,
      'seal_certificate_mismatch',
      'seal: its certList must hold one signing certificate; nothing was written',
      { field: 'seal' },
    );
  const bound = seal.certList[0]!;
  const cert = (await s.readCertificates()).find((c) => c.der.equals(bound) && labelState(c.label) === 'current');
  const keys = await s.listKeys();
  if (!cert || !keys.some((k) => k.spki.equals(parseCertificate(bound).spki)))
    throw new AgentError(
      422,
      'seal_certificate_missing',
      "the seal's certificate and its private key are not on this key; nothing was written",
      { field: 'seal' },
    );
  const pending = sealData(`${PENDING_PREFIX}seal:${seal.esId}`, sealDer);
  const retired = `${RETIRED_PREFIX}seal:${seal.esId}`;
  await s.writeData(pending);
  const before = await s.readData(SEAL_APPLICATION);
  for (const old of before.filter((d) => d.label === seal.esId && !d.value.equals(sealDer))) await s.relabelData(old, retired);
  if (!before.some((d) => d.label === seal.esId && d.value.equals(sealDer))) await s.relabelData(pending, seal.esId);
  else await s.deleteData(pending);
  let replaced = 0;
  for (const old of (await s.readData(SEAL_APPLICATION)).filter((d) => d.label === retired)) replaced += await s.deleteData(old);
  if (!(await s.readData(SEAL_APPLICATION)).some((d) => d.label === seal.esId && d.value.equals(sealDer)))
    throw new AgentError(500, 'verification_failed', 'the seal written to the key cannot be read back');
  return { esId: seal.esId, certificateId: cert.id, replaced };
}
