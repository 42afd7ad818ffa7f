// Object listing, labels, deletion and X.509 certificate objects on a token.
import * as graphene from 'graphene-pk11';
import { keyIdentifier } from '../pki/algorithms.js';
import { parseCertificate, type ParsedCertificate } from '../pki/certificate.js';
import * as der from '../pki/der.js';
import { attrBool, attrBuffer, attrNumber, attrString, idHex, parseIdHex } from './attributes.js';
import { Pkcs11Error, wrap } from './errors.js';
import { findKeyPairs } from './keys.js';
import type { TokenSession } from './module.js';

export type ObjectClassName = 'data' | 'certificate' | 'public-key' | 'private-key' | 'secret-key' | 'other';

const CLASS_OF: Record<Exclude<ObjectClassName, 'other'>, graphene.ObjectClass> = {
  data: graphene.ObjectClass.DATA,
  certificate: graphene.ObjectClass.CERTIFICATE,
  'public-key': graphene.ObjectClass.PUBLIC_KEY,
  'private-key': graphene.ObjectClass.PRIVATE_KEY,
  'secret-key': graphene.ObjectClass.SECRET_KEY,
};

function className(cls: number | undefined): ObjectClassName {
  for (const [name, v] of Object.entries(CLASS_OF)) if (v === cls) return name as ObjectClassName;
  return 'other';
}

export interface ObjectInfo {
  class: ObjectClassName;
  label: string;
  /** CKA_ID, hex ('' when the object has none) */
  id: string;
  /** keys only: the CKK_ name without prefix, e.g. 'RSA', 'EC' */
  keyType?: string;
  /** CKA_PRIVATE: visible only after login */
  private: boolean;
  /** private and secret keys: CKA_SENSITIVE (value never revealed in plain) */
  sensitive?: boolean;
  /** private and secret keys: CKA_EXTRACTABLE (may be wrapped out of the token) */
  extractable?: boolean;
}

export interface ObjectFilter {
  class?: Exclude<ObjectClassName, 'other'>;
  /** CKA_ID, hex */
  id?: string;
  label?: string;
}

function template(filter: ObjectFilter): graphene.ITemplate {
  const t: graphene.ITemplate = {};
  if (filter.class !== undefined) t.class = CLASS_OF[filter.class];
  if (filter.id !== undefined) t.id = parseIdHex(filter.id);
  if (filter.label !== undefined) t.label = filter.label;
  return t;
}

function info(obj: graphene.SessionObject): ObjectInfo {
  const cls = className(attrNumber(obj, 'class'));
  const out: ObjectInfo = {
    class: cls,
    label: attrString(obj, 'label') ?? '',
    id: idHex(obj),
    private: attrBool(obj, 'private') ?? false,
  };
  if (cls === 'public-key' || cls === 'private-key' || cls === 'secret-key') {
    const kt = attrNumber(obj, 'keyType');
    if (kt !== undefined) out.keyType = graphene.KeyType[kt] ?? `0x${kt.toString(16)}`;
  }
  if (cls === 'private-key' || cls === 'secret-key') {
    out.sensitive = attrBool(obj, 'sensitive');
    out.extractable = attrBool(obj, 'extractable');
  }
  return out;
}

/** Objects on the token matching the filter (all when empty); private ones only after login. */
export function listObjects(session: TokenSession, filter: ObjectFilter = {}): Promise<ObjectInfo[]> {
  return session.run((s) =>
    wrap(`listing objects on token "${session.token.label}"`, () => [...s.find(template(filter))].map(info)),
  );
}

/** Guards against an empty filter matching (and changing or deleting) every object on the token. */
function requireSelector(filter: ObjectFilter, what: string): void {
  if (filter.id === undefined && filter.label === undefined) {
    throw new Pkcs11Error(`${what} needs an id or a label`, 'INVALID_ARGUMENT');
  }
}

/** Sets CKA_LABEL on every object matching the filter (e.g. {id} relabels key pair and certificate). */
export async function setLabel(session: TokenSession, filter: ObjectFilter, label: string): Promise<number> {
  requireSelector(filter, 'relabelling objects');
  return session.run((s) =>
    wrap(`relabelling objects on token "${session.token.label}"`, () => {
      const objs = [...s.find(template(filter))];
      for (const o of objs) o.setAttribute({ label });
      return objs.length;
    }),
  );
}

/** Deletes every object matching the filter; returns how many. */
export async function deleteObjects(session: TokenSession, filter: ObjectFilter): Promise<number> {
  requireSelector(filter, 'deleting objects');
  return session.run((s) => wrap(`deleting objects on token "${session.token.label}"`, () => s.destroy(template(filter))));
}

export interface CertificateObject {
  /** CKA_ID, hex */
  id: string;
  label: string;
  der: Buffer;
}

export interface WriteCertificateOptions {
  /** DER certificate */
  der: Buffer;
  label: string;
  /**
   * CKA_ID, hex. Defaults to the id of the key pair on the token with the certificate's public key
   * (so applications pair them), else the SHA-1 key identifier of that public key.
   */
  id?: string;
  /** replace a different certificate already stored under the same id (default: refuse) */
  replace?: boolean;
}

/**
 * Stores an X.509 certificate object (public token object). Writing the same certificate under the
 * same id again is a no-op.
 */
export async function writeCertificate(session: TokenSession, opts: WriteCertificateOptions): Promise<CertificateObject> {
  let cert: ParsedCertificate;
  try {
    cert = parseCertificate(opts.der);
  } catch (e) {
    throw new Pkcs11Error(
      `cannot store certificate "${opts.label}": not a DER X.509 certificate (${(e as Error).message})`,
      'INVALID_ARGUMENT',
    );
  }
  let id = opts.id;
  if (id === undefined) {
    const pairs = session.isLoggedIn ? await findKeyPairs(session) : [];
    id = pairs.find((p) => p.spki.equals(cert.spki))?.id ?? keyIdentifier(cert.spki).toString('hex');
  }
  const idBuf = parseIdHex(id);
  const doing = `storing certificate "${opts.label}" (id ${id}) on token "${session.token.label}"`;
  return session.run((s) =>
    wrap(doing, () => {
      const existing = [...s.find({ class: graphene.ObjectClass.CERTIFICATE, id: idBuf })];
      if (existing.some((o) => attrBuffer(o, 'value')?.equals(opts.der))) return { id, label: opts.label, der: opts.der };
      if (existing.length > 0) {
        if (!opts.replace) throw new Pkcs11Error(`${doing}: a different certificate with this id exists`, 'OBJECT_EXISTS');
        for (const o of existing) o.destroy();
      }
      s.create({
        class: graphene.ObjectClass.CERTIFICATE,
        certType: graphene.CertificateType.X_509,
        token: true,
        private: false,
        label: opts.label,
        id: idBuf,
        subject: cert.subjectDer,
        issuer: cert.issuerDer,
        // CKA_SERIAL_NUMBER holds the DER INTEGER, not the bare magnitude
        serial: der.intFromUnsigned(Buffer.from(cert.serialHex, 'hex')),
        value: opts.der,
      });
      return { id, label: opts.label, der: opts.der };
    }),
  );
}

/** X.509 certificate objects matching the filter (all when empty). */
export function readCertificates(session: TokenSession, filter: Omit<ObjectFilter, 'class'> = {}): Promise<CertificateObject[]> {
  return session.run((s) =>
    wrap(`reading certificates on token "${session.token.label}"`, () => {
      const out: CertificateObject[] = [];
      for (const o of s.find({
        ...template(filter),
        class: graphene.ObjectClass.CERTIFICATE,
        certType: graphene.CertificateType.X_509,
      })) {
        const value = attrBuffer(o, 'value');
        if (value) out.push({ id: idHex(o), label: attrString(o, 'label') ?? '', der: value });
      }
      return out;
    }),
  );
}

/** The one certificate matching the filter; undefined when none, OBJECT_AMBIGUOUS when several. */
export async function readCertificate(session: TokenSession, filter: Omit<ObjectFilter, 'class'>): Promise<Buffer | undefined> {
  requireSelector(filter, 'reading a certificate');
  const certs = await readCertificates(session, filter);
  if (certs.length > 1) {
    throw new Pkcs11Error(
      `${certs.length} certificates match on token "${session.token.label}"; give the id`,
      'OBJECT_AMBIGUOUS',
    );
  }
  return certs[0]?.der;
}

/** Deletes the certificate objects matching the filter. */
export function deleteCertificates(session: TokenSession, filter: Omit<ObjectFilter, 'class'>): Promise<number> {
  return deleteObjects(session, { ...filter, class: 'certificate' });
}
