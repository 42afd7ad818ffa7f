// An SM2 dual-pair holder on a soft token, and the CA + KMC side of its renewal, for the key
// assistant's tests: the signing certificate from an SM2 test CA (profile org-identity), the
// encryption certificate made by the same issuing CA with keyEncipherment + dataEncipherment (what
// the org-identity-sm2-enc profile issues), the encryption key delivered in an SM2EnvelopedKey to the
// signing key, as a KMC does (src/pki/sm2-envelope.ts).
import { buildTbs, makeTemplate, randomSerial, signTbs, wholeSeconds } from '../../src/ca/certificate-builder.js';
import { authorityKeyIdentifier, keyUsage } from '../../src/ca/extensions.js';
import { createSoftToken, provisionSm2DualPair, SoftToken } from '../../src/agent/tokens/soft-token.js';
import { SEAL_APPLICATION } from '../../src/agent/tokens/driver.js';
import { renderSealPicture } from '../../src/seal/seal-picture.js';
import { signatureAlgorithmFor } from '../../src/pki/algorithms.js';
import { parseCertificate } from '../../src/pki/certificate.js';
import { buildCsr, parseCsr } from '../../src/pki/csr.js';
import type { NameAttribute } from '../../src/pki/name.js';
import { makeSm2EnvelopedKey } from '../../src/pki/sm2-envelope.js';
import { issueFirstDualPair } from '../../src/ra/first-dual-pair.js';
import { getCertificate, normaliseSerial } from '../../src/sa/certificates.js';
import { Sm2PrivateKey, Sm2PublicKey } from '../../src/pki/sm2.js';
import { HOLDER_SUBJECT, issueFor, type IssuedForRenewal } from './agent.js';
import type { TestCa } from './ca.js';

const DAY = 86_400_000;

/** An encryption certificate for `spki` with the signing certificate's subject, from the test CA's issuing CA. */
export async function encryptionCertificateFor(
  ca: TestCa,
  o: { subjectDer: Buffer; spki: Buffer; notAfter: Date; usages?: Parameters<typeof keyUsage>[0] },
): Promise<Buffer> {
  const issuer = ca.rt.ca.issuing;
  const template = makeTemplate({ signer: issuer.signer, subjectDer: issuer.cert.subjectDer }, [
    keyUsage(o.usages ?? ['keyEncipherment', 'dataEncipherment']),
    authorityKeyIdentifier(issuer.keyId),
  ]);
  const tbs = buildTbs(template, {
    serial: randomSerial(),
    notBefore: wholeSeconds(Date.now() - 60_000),
    notAfter: wholeSeconds(o.notAfter.getTime()),
    subjectDer: o.subjectDer,
    spki: o.spki,
  });
  return signTbs(issuer.signer, tbs);
}

export interface Sm2DualHolder {
  file: string;
  tokenId: string;
  signing: Buffer;
  encryption: Buffer;
  /** the KMC's escrowed copy of the encryption key (to check what the token decrypts) */
  encryptionKey: Sm2PrivateKey;
}

/** A soft token holding an SM2 signing pair ("identity", generated on it) and its encryption pair ("identity:enc", from an envelope). */
export async function sm2DualToken(ca: TestCa, file: string, o: { pin: string; days?: number }): Promise<Sm2DualHolder> {
  const info = await createSoftToken(file, { label: '企业测试', pin: o.pin });
  const s = await new SoftToken(file).login(o.pin);
  try {
    const key = await s.generateKeyPair({ label: 'identity', keyType: 'sm2' });
    const csr = await buildCsr({
      subject: HOLDER_SUBJECT,
      spki: key.spki,
      signatureAlgId: signatureAlgorithmFor('sm2').algId,
      sign: (d) => s.sign(key.id, d),
    });
    const notAfter = new Date(Date.now() + (o.days ?? 30) * DAY);
    const signing = await issueFor(ca, csr, { notAfter });
    await s.writeCertificate({ id: key.id, label: 'identity', der: signing });
    const encryptionKey = Sm2PrivateKey.generate();
    const encryption = await encryptionCertificateFor(ca, {
      subjectDer: parseCertificate(signing).subjectDer,
      spki: encryptionKey.publicKey.toSpki(),
      notAfter,
    });
    const envelope = makeSm2EnvelopedKey({ protectionKey: Sm2PublicKey.fromSpki(key.spki), encryptionKey });
    const enc = await s.unwrapSm2Key({
      unwrappingKeyId: key.id,
      envelope,
      label: 'identity:enc',
      expectedSpki: encryptionKey.publicKey.toSpki(),
    });
    await s.writeCertificate({ id: enc.id, label: 'identity:enc', der: encryption });
    return { file, tokenId: `soft-${info.serial}`, signing, encryption, encryptionKey };
  } finally {
    await s.close();
  }
}

/**
 * The RA + KMC for a dual-pair renewal: the signing certificate for the CSR (idempotent per order,
 * like the CA) and a new KMC key per order (idempotent too, as issueEncryptionKey is per requestId),
 * enveloped to the CSR's key. `reuse` gives the encryption certificate for that existing key and no envelope.
 */
export function dualIssuer(ca: TestCa, o: { renews?: Buffer; reuse?: Sm2PrivateKey; remakeSeals?: boolean } = {}) {
  const kmc = new Map<string, { key: Sm2PrivateKey; certificate: Buffer; envelope: Buffer }>();
  const issued = new Map<string, IssuedForRenewal>();
  return {
    /** the encryption keys handed out, per order */
    keys: (orderId: string): Sm2PrivateKey | undefined => kmc.get(orderId)?.key,
    async issue(orderId: string, csr: Buffer): Promise<IssuedForRenewal> {
      const done = issued.get(orderId);
      if (done) return done;
      const certificate = await issueFor(ca, csr, {
        orderId,
        days: 365,
        renews: o.renews ? parseCertificate(o.renews).serialHex : undefined,
      });
      const signingSpki = parseCsr(csr).spki;
      const subjectDer = parseCertificate(certificate).subjectDer;
      const notAfter = parseCertificate(certificate).notAfter;
      let out: IssuedForRenewal;
      if (o.reuse) {
        out = {
          certificate,
          encryption: {
            certificate: await encryptionCertificateFor(ca, { subjectDer, spki: o.reuse.publicKey.toSpki(), notAfter }),
            envelope: null,
          },
        };
      } else {
        const key = Sm2PrivateKey.generate();
        const encryption = await encryptionCertificateFor(ca, { subjectDer, spki: key.publicKey.toSpki(), notAfter });
        const envelope = makeSm2EnvelopedKey({ protectionKey: Sm2PublicKey.fromSpki(signingSpki), encryptionKey: key });
        kmc.set(orderId, { key, certificate: encryption, envelope });
        out = { certificate, encryption: { certificate: encryption, envelope } };
      }
      if (o.remakeSeals && o.renews) {
        // what RenewalService.issue does after issuing: the seals bound to the old certificate, re-made
        const next = (await getCertificate(ca.rt.storage.db, normaliseSerial(parseCertificate(certificate).serialHex)))!;
        const seals = await ca.rt.sealService.remakeFor(normaliseSerial(parseCertificate(o.renews).serialHex), next, 'test');
        out.seals = seals.map((x) => Buffer.from(x.der));
      }
      issued.set(orderId, out);
      return out;
    },
  };
}

/** The SM2 dual-pair holder of the portal tests (a valid 统一社会信用代码: both certificates carry the GM/T 0015 extension). */
export const SM2_HOLDER_SUBJECT: NameAttribute[] = [
  { type: 'C', value: 'CN' },
  { type: 'O', value: '国密测试单位' },
  { type: 'CN', value: '国密测试单位' },
];
export const SM2_HOLDER_UNIQUE_ID = '91350100M000100Y43';

/**
 * A soft token holding an SM2 dual pair of type 单位身份证书（SM2 双证书） as a service point issues it:
 * the signing key made on the token, both certificates from the test CA's SM2 hierarchy (profile
 * org-identity-sm2), the encryption key from the runtime's KMC, opened in the token from its envelope
 * (provisionSm2DualPair, as the demo does). The CA needs an SM2 hierarchy (`keyType: 'sm2'` or 'both').
 */
export async function sm2DualTokenFromRa(
  ca: TestCa,
  file: string,
  o: { pin: string; tokenLabel: string; days: number },
): Promise<{ tokenId: string; certificate: Buffer; encryptionCertificate: Buffer }> {
  const info = await createSoftToken(file, { label: o.tokenLabel, pin: o.pin });
  const r = await provisionSm2DualPair(file, {
    pin: o.pin,
    subject: SM2_HOLDER_SUBJECT,
    keyLabel: 'identity',
    issue: async (csr) => {
      const pair = await issueFirstDualPair(ca.rt, {
        csr,
        profileId: 'org-identity-sm2',
        days: o.days,
        uniqueId: SM2_HOLDER_UNIQUE_ID,
        actor: 'test',
      });
      return { certificate: pair.signing.der, encryption: { certificate: pair.encryption.der, envelope: pair.envelope } };
    },
  });
  return { tokenId: `soft-${info.serial}`, certificate: r.certificate, encryptionCertificate: r.encryptionCertificate };
}

/**
 * A 单位公章 made by the CA's seal maker for `signing` (a certificate the CA issued), written to the
 * soft token as the assistant writes it: a data object labelled with the esID.
 */
export async function sealOnToken(
  ca: TestCa,
  file: string,
  pin: string,
  signing: Buffer,
  name = '企业测试',
): Promise<{ esId: string; der: Buffer }> {
  const seal = await ca.rt.sealService.makeSeal({
    holderSigningCertDer: signing,
    type: '单位公章',
    name,
    picture: renderSealPicture({ name, typeLabel: '单位公章' }),
    days: 365,
  });
  const der = Buffer.from(seal.der);
  const s = await new SoftToken(file).login(pin);
  try {
    await s.writeData({ application: SEAL_APPLICATION, label: seal.es_id, value: der });
  } finally {
    await s.close();
  }
  return { esId: seal.es_id, der };
}
