// Creating a CA hierarchy: a root, an issuing CA under it, and the issuing CA's delegated OCSP
// responder — keys from a KeyFactory (software files or a PKCS#11 token), records in the database.
import { keyIdentifier, type KeyType } from '../pki/algorithms.js';
import { encodeName, type NameAttribute } from '../pki/name.js';
import { appendAudit } from '../sa/audit.js';
import { insertCa, listCas, type CaRecord } from '../sa/cas.js';
import { writeTransaction, type Storage } from '../sa/database.js';
import type { Signer } from '../signer/signer.js';
import { buildTbs, makeTemplate, randomSerial, signTbs, wholeSeconds } from './certificate-builder.js';
import { CaError } from './errors.js';
import * as ext from './extensions.js';
import { caUrls } from './urls.js';

export type KeyPurpose = 'root' | 'issuing' | 'ocsp' | 'seal';
export type KeyFactory = (purpose: KeyPurpose, id: string) => Promise<Signer>;

/**
 * One instance may hold two hierarchies side by side: an SM2 one (国密) and one of RSA/ECDSA keys.
 * A CA's family follows its key type; a profile says which family issues it (profiles.ts).
 */
export type CaFamily = 'sm2' | 'rsa-ecdsa';
export const CA_FAMILIES: readonly CaFamily[] = ['rsa-ecdsa', 'sm2'];
export const caFamily = (keyType: string): CaFamily => (keyType === 'sm2' ? 'sm2' : 'rsa-ecdsa');

export interface HierarchyOptions {
  /** key type of the three keys the KeyFactory makes: decides the family (one hierarchy per family) */
  keyType: KeyType;
  /** base of the CRL DP and AIA URLs (the config's pkiUrl) */
  pkiUrl: string;
  /** organisation name written into the CA names */
  organization: string;
  country: string;
  rootCommonName: string;
  issuingCommonName: string;
  rootDays: number;
  issuingDays: number;
  ocspDays: number;
  actor: string;
}

export const DEFAULT_HIERARCHY = {
  organization: 'certdesk 演示 CA',
  country: 'CN',
  rootCommonName: 'certdesk Demo Root CA',
  issuingCommonName: 'certdesk Demo Issuing CA 1',
  rootDays: 20 * 365,
  issuingDays: 10 * 365,
  ocspDays: 365,
};

/** The default CA names of an SM2 hierarchy: told apart from the RSA/ECDSA one beside it. */
export const DEFAULT_SM2_NAMES = {
  rootCommonName: 'certdesk Demo SM2 Root CA',
  issuingCommonName: 'certdesk Demo SM2 Issuing CA 1',
};

/** The default hierarchy settings for a key type (SM2 gets its own CA names). */
export const defaultHierarchyFor = (keyType: KeyType) =>
  caFamily(keyType) === 'sm2' ? { ...DEFAULT_HIERARCHY, ...DEFAULT_SM2_NAMES } : DEFAULT_HIERARCHY;

const DAY = 86_400_000;

interface NewCert {
  der: Buffer;
  notBefore: Date;
  notAfter: Date;
}

async function certify(opts: {
  issuerSigner: Signer;
  issuerName: Buffer;
  subjectName: Buffer;
  spki: Buffer;
  days: number;
  notAfterCap?: Date;
  extensions: Buffer[];
}): Promise<NewCert> {
  const notBefore = wholeSeconds(Date.now() - 60_000);
  let notAfter = wholeSeconds(notBefore.getTime() + opts.days * DAY);
  if (opts.notAfterCap && notAfter > opts.notAfterCap) notAfter = opts.notAfterCap;
  const template = makeTemplate({ signer: opts.issuerSigner, subjectDer: opts.issuerName }, opts.extensions);
  const tbs = buildTbs(template, { serial: randomSerial(), notBefore, notAfter, subjectDer: opts.subjectName, spki: opts.spki });
  return { der: await signTbs(opts.issuerSigner, tbs), notBefore, notAfter };
}

export const caId = (kind: KeyPurpose, s: Signer): string => `${kind}-${keyIdentifier(s.spki).toString('hex').slice(0, 10)}`;

export function caRecord(
  id: string,
  kind: CaRecord['kind'],
  parent: string | null,
  name: string,
  signer: Signer,
  c: NewCert,
): CaRecord {
  return {
    id,
    kind,
    parent_id: parent,
    name,
    cert_der: c.der,
    key_ref: JSON.stringify(signer.ref),
    key_type: signer.keyType,
    not_before: c.notBefore.getTime(),
    not_after: c.notAfter.getTime(),
    active: 1,
    created_at: Date.now(),
  };
}

/** Days before its notAfter at which a responder certificate is replaced (the rotation job). */
export const RESPONDER_RENEW_BEFORE_DAYS = 30;

/** Issues a delegated OCSP responder certificate for `issuing` with `responderKey`. */
export async function certifyOcspResponder(
  issuing: { signer: Signer; subjectDer: Buffer; notAfter: Date; id: string },
  responderKey: Signer,
  days: number,
  org: NameAttribute[],
): Promise<NewCert> {
  return certify({
    issuerSigner: issuing.signer,
    issuerName: issuing.subjectDer,
    subjectName: encodeName([...org, { type: 'CN', value: `OCSP Responder (${issuing.id})` }]),
    spki: responderKey.spki,
    days,
    notAfterCap: issuing.notAfter,
    extensions: [
      ext.basicConstraints(false),
      ext.keyUsage(['digitalSignature']),
      ext.extKeyUsage(['ocspSigning']),
      ext.authorityKeyIdentifier(keyIdentifier(issuing.signer.spki)),
      ext.ocspNoCheck(),
    ],
  });
}

/**
 * Certifies the seal-making unit (制章者) of an SM2 issuing CA: an end-entity certificate whose key
 * signs electronic seals (GB/T 38540 SESeal.cert), never certificates — hence no CA flag and only
 * digitalSignature and nonRepudiation.
 */
export async function certifySealMaker(
  issuing: { signer: Signer; subjectDer: Buffer; notAfter: Date; id: string },
  makerKey: Signer,
  days: number,
  org: NameAttribute[],
  pkiUrl: string,
): Promise<NewCert> {
  const urls = caUrls(pkiUrl, issuing.id);
  return certify({
    issuerSigner: issuing.signer,
    issuerName: issuing.subjectDer,
    subjectName: encodeName([...org, { type: 'CN', value: `电子印章制章单位 Seal Maker (${issuing.id})` }]),
    spki: makerKey.spki,
    days,
    notAfterCap: issuing.notAfter,
    extensions: [
      ext.basicConstraints(false),
      ext.keyUsage(['digitalSignature', 'nonRepudiation']),
      ext.authorityKeyIdentifier(keyIdentifier(issuing.signer.spki)),
      ext.crlDistributionPoints(urls.crl),
      ext.authorityInfoAccess(urls.ocsp, urls.caIssuers),
    ],
  });
}

/** Refuses a second hierarchy of `family`: an instance holds at most one SM2 and one RSA/ECDSA hierarchy. */
function refuseSameFamily(existing: CaRecord[], family: CaFamily): void {
  const same = existing.filter((c) => caFamily(c.key_type) === family);
  if (same.length === 0) return;
  const other: CaFamily = family === 'sm2' ? 'rsa-ecdsa' : 'sm2';
  const hint =
    existing.length === same.length ? `; a ${other === 'sm2' ? 'SM2' : 'RSA/ECDSA'} hierarchy may still be added beside it` : '';
  throw new CaError(
    'already_initialised',
    `this database already holds a CA hierarchy of the ${family === 'sm2' ? 'SM2' : 'RSA/ECDSA'} family (${same.map((c) => c.id).join(', ')}); refusing to create a second one${hint}`,
  );
}

export async function initHierarchy(storage: Storage, keys: KeyFactory, o: HierarchyOptions): Promise<CaRecord[]> {
  const family = caFamily(o.keyType);
  refuseSameFamily(await listCas(storage.db), family);
  const org: NameAttribute[] = [
    { type: 'C', value: o.country },
    { type: 'O', value: o.organization },
  ];

  const rootKey = await keys('root', 'root');
  const rootId = caId('root', rootKey);
  const rootName = encodeName([...org, { type: 'CN', value: o.rootCommonName }]);
  const rootKeyId = keyIdentifier(rootKey.spki);
  const rootCert = await certify({
    issuerSigner: rootKey,
    issuerName: rootName,
    subjectName: rootName,
    spki: rootKey.spki,
    days: o.rootDays,
    extensions: [ext.basicConstraints(true), ext.keyUsage(['keyCertSign', 'cRLSign'])],
  });

  const issuingKey = await keys('issuing', 'issuing');
  const issuingId = caId('issuing', issuingKey);
  const issuingName = encodeName([...org, { type: 'CN', value: o.issuingCommonName }]);
  const rootUrls = caUrls(o.pkiUrl, rootId);
  const issuingCert = await certify({
    issuerSigner: rootKey,
    issuerName: rootName,
    subjectName: issuingName,
    spki: issuingKey.spki,
    days: o.issuingDays,
    notAfterCap: rootCert.notAfter,
    extensions: [
      ext.basicConstraints(true, 0),
      ext.keyUsage(['digitalSignature', 'keyCertSign', 'cRLSign']),
      ext.authorityKeyIdentifier(rootKeyId),
      ext.certificatePolicies(['2.5.29.32.0']),
      ext.crlDistributionPoints(rootUrls.crl),
      ext.authorityInfoAccess(undefined, rootUrls.caIssuers),
    ],
  });

  const ocspKey = await keys('ocsp', 'ocsp');
  const ocspCert = await certifyOcspResponder(
    { signer: issuingKey, subjectDer: issuingName, notAfter: issuingCert.notAfter, id: issuingId },
    ocspKey,
    o.ocspDays,
    org,
  );

  const rows = [
    caRecord(rootId, 'root', null, o.rootCommonName, rootKey, rootCert),
    caRecord(issuingId, 'issuing', rootId, o.issuingCommonName, issuingKey, issuingCert),
    caRecord(caId('ocsp', ocspKey), 'ocsp', issuingId, `OCSP Responder (${issuingId})`, ocspKey, ocspCert),
  ];
  if (rows.some((r) => caFamily(r.key_type) !== family))
    throw new CaError('bad_key', `the key factory made ${rows.map((r) => r.key_type).join('/')} keys, not ${o.keyType}`);
  await writeTransaction(storage, async (tx) => {
    // again under the write lock: two `ca init` at once cannot both add the same family
    refuseSameFamily(await listCas(tx), family);
    for (const r of rows) await insertCa(tx, r);
    await appendAudit(
      tx,
      rows.map((r) => ({
        actor: o.actor,
        action: 'ca.created',
        target: r.id,
        details: { kind: r.kind, name: r.name, keyType: r.key_type, key: JSON.parse(r.key_ref) },
      })),
    );
  });
  return rows;
}
