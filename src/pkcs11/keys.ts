// Key pairs on a token: generation (private key never leaves the token), lookup by CKA_ID/CKA_LABEL,
// public key export as DER SubjectPublicKeyInfo, and signing into the form X.509 carries.
import { createHash, randomBytes } from 'node:crypto';
import * as graphene from 'graphene-pk11';
import pkcs11js from 'pkcs11js';
import { AlgorithmError, keyTypeOfSpki, signatureAlgorithmFor, type KeyType } from '../pki/algorithms.js';
import { parseCertificate } from '../pki/certificate.js';
import * as der from '../pki/der.js';
import { rawToDer } from '../pki/ecdsa.js';
import { OID } from '../pki/oids.js';
import { attrBuffer, attrNumber, attrString, idHex, parseIdHex, requireBuffer } from './attributes.js';
import { Pkcs11Error, toPkcs11Error, wrap, wrapAsync } from './errors.js';
import type { TokenSession } from './module.js';

const CURVES: Record<string, { oid: string; fieldBytes: number }> = {
  'ec-p256': { oid: OID.prime256v1, fieldBytes: 32 },
  'ec-p384': { oid: OID.secp384r1, fieldBytes: 48 },
};

const DIGEST_OID: Record<string, string> = { sha256: OID.sha256, sha384: OID.sha384 };

/** A private key on a token whose public key is known. Bound to the session it was found in. */
export class TokenKeyPair {
  /** @internal use generateKeyPair / findKeyPair(s) */
  constructor(
    readonly session: TokenSession,
    private readonly privateKey: graphene.PrivateKey,
    /** CKA_ID, hex */
    readonly id: string,
    readonly label: string,
    readonly keyType: KeyType,
    /** DER SubjectPublicKeyInfo */
    readonly spki: Buffer,
  ) {}

  private mechanism: Promise<{ name: string; prehash: boolean }> | undefined;

  /**
   * The mechanism sign() uses: the hash-and-sign one (ECDSA_SHA256/384, SHA256_RSA_PKCS) when the
   * token lists it, else the bare one (ECDSA, RSA_PKCS) over a digest computed here. SoftHSM 2.6,
   * for one, offers only bare ECDSA.
   */
  signMechanism(): Promise<{ name: string; prehash: boolean }> {
    this.mechanism ??= (async () => {
      const digest = signatureAlgorithmFor(this.keyType).digest;
      const ec = this.keyType.startsWith('ec-');
      const combined = ec ? (digest === 'sha384' ? 'ECDSA_SHA384' : 'ECDSA_SHA256') : 'SHA256_RSA_PKCS';
      const bare = ec ? 'ECDSA' : 'RSA_PKCS';
      let mechs: Set<string>;
      try {
        mechs = await this.session.mechanisms();
      } catch {
        // a token that cannot list its mechanisms: try the standard one and let C_SignInit decide
        return { name: combined, prehash: false };
      }
      return !mechs.has(combined) && mechs.has(bare) ? { name: bare, prehash: true } : { name: combined, prehash: false };
    })();
    return this.mechanism;
  }

  /**
   * Signs `data` with the signature algorithm of algorithms.ts (ECDSA with SHA-256/384 by curve,
   * RSA PKCS#1 v1.5 with SHA-256) and returns what X.509 carries: a DER ECDSA-Sig-Value or the raw
   * RSA signature.
   */
  async sign(data: Buffer): Promise<Buffer> {
    const ec = this.keyType.startsWith('ec-');
    const mech = await this.signMechanism();
    let input = data;
    if (mech.prehash) {
      const digest = signatureAlgorithmFor(this.keyType).digest;
      const hash = createHash(digest).update(data).digest();
      // RSA_PKCS signs exactly what it is given, so the DigestInfo wrapping is ours to add.
      input = ec ? hash : der.seq(der.seq(der.oid(DIGEST_OID[digest] ?? OID.sha256), der.nullValue()), der.octetString(hash));
    }
    const doing = `signing with key "${this.label}" (id ${this.id}) on token "${this.session.token.label}"`;
    const sig = await this.session.run((s) =>
      wrapAsync<Buffer>(doing, (cb) => s.createSign(mech.name, this.privateKey).once(input, cb)),
    );
    if (!ec) return sig;
    const curve = CURVES[this.keyType];
    if (!curve || sig.length !== 2 * curve.fieldBytes) {
      throw new Pkcs11Error(`${doing}: unexpected ECDSA signature length ${sig.length}`, 'FAILED');
    }
    return rawToDer(sig);
  }
}

/** SPKI for a named-curve EC key; `params` is CKA_EC_PARAMS (the DER namedCurve OID). */
export function ecSpki(params: Buffer, point: Buffer): Buffer {
  return der.seq(der.seq(der.oid(OID.ecPublicKey), params), der.bitString(point));
}

/** SPKI for an RSA key from CKA_MODULUS / CKA_PUBLIC_EXPONENT (unsigned big-endian). */
export function rsaSpki(modulus: Buffer, exponent: Buffer): Buffer {
  const rsaPublicKey = der.seq(der.intFromUnsigned(modulus), der.intFromUnsigned(exponent));
  return der.seq(der.seq(der.oid(OID.rsaEncryption), der.nullValue()), der.bitString(rsaPublicKey));
}

/**
 * CKA_EC_POINT should be a DER OCTET STRING around the uncompressed point (SoftHSM, most HSMs);
 * some tokens return the bare point. The lengths tell them apart (a bare P-256 point is 65 bytes,
 * the wrapped one 67).
 */
export function unwrapEcPoint(value: Buffer, fieldBytes: number): Buffer {
  const want = 1 + 2 * fieldBytes;
  if (value.length === want && value[0] === 0x04) return value;
  try {
    const n = der.parse(value);
    const inner = der.content(n);
    if (n.tag === der.Tag.OCTET_STRING && inner.length === want && inner[0] === 0x04) return inner;
  } catch {
    // fall through to the error below
  }
  throw new Pkcs11Error(
    `unexpected CKA_EC_POINT encoding (${value.length} bytes); only uncompressed points are supported`,
    'UNSUPPORTED_KEY',
  );
}

function fieldBytesOfParams(params: Buffer): number | undefined {
  try {
    const curve = der.decodeOid(der.parse(params));
    return Object.values(CURVES).find((c) => c.oid === curve)?.fieldBytes;
  } catch {
    return undefined;
  }
}

function typed(spki: Buffer, what: string): { keyType: KeyType; spki: Buffer } {
  try {
    const { keyType } = keyTypeOfSpki(spki);
    // sign() knows only ECDSA and RSA mechanisms; an SM2 key on a token would get ECDSA signatures.
    if (keyType === 'sm2') throw new AlgorithmError('SM2 keys on PKCS#11 tokens are not supported (no standard SM2 mechanism)');
    return { keyType, spki };
  } catch (e) {
    if (e instanceof AlgorithmError) throw new Pkcs11Error(`${what}: ${e.message}`, 'UNSUPPORTED_KEY');
    throw e;
  }
}

/** The SPKI of a public key object. */
export function publicKeySpki(obj: graphene.SessionObject, what = 'public key'): { keyType: KeyType; spki: Buffer } {
  const kt = attrNumber(obj, 'keyType');
  if (kt === graphene.KeyType.EC || kt === graphene.KeyType.ECDSA) {
    // Read by number: graphene maps CKA_EC_PARAMS back to its alias 'paramsECDSA', so 'paramsEC' reads as undefined.
    const params = requireBuffer(obj, pkcs11js.CKA_EC_PARAMS, what);
    const fieldBytes = fieldBytesOfParams(params);
    if (!fieldBytes) throw new Pkcs11Error(`${what}: EC curve is not P-256 or P-384`, 'UNSUPPORTED_KEY');
    return typed(ecSpki(params, unwrapEcPoint(requireBuffer(obj, 'pointEC', what), fieldBytes)), what);
  }
  if (kt === graphene.KeyType.RSA) {
    return typed(rsaSpki(requireBuffer(obj, 'modulus', what), requireBuffer(obj, 'publicExponent', what)), what);
  }
  throw new Pkcs11Error(
    `${what}: key type ${kt === undefined ? 'unknown' : (graphene.KeyType[kt] ?? kt)} is not supported`,
    'UNSUPPORTED_KEY',
  );
}

const findAll = (s: graphene.Session, template: graphene.ITemplate): graphene.SessionObject[] => [...s.find(template)];

/**
 * Resolves the public key of a private key object: its public key object (same CKA_ID), else the
 * RSA modulus/exponent on the private key itself, else a certificate with the same CKA_ID. Smart
 * cards often keep only the private key and certificate.
 */
function describePrivateKey(session: TokenSession, s: graphene.Session, obj: graphene.SessionObject): TokenKeyPair {
  const id = idHex(obj);
  const label = attrString(obj, 'label') ?? '';
  const what = `key "${label}" (id ${id || 'none'}) on token "${session.token.label}"`;
  const idBuf = attrBuffer(obj, 'id');
  let pub: { keyType: KeyType; spki: Buffer } | undefined;
  if (idBuf && idBuf.length > 0) {
    const [pubObj] = findAll(s, { class: graphene.ObjectClass.PUBLIC_KEY, id: idBuf });
    if (pubObj) pub = publicKeySpki(pubObj, what);
  }
  if (!pub && attrNumber(obj, 'keyType') === graphene.KeyType.RSA && attrBuffer(obj, 'modulus')) {
    pub = publicKeySpki(obj, what);
  }
  if (!pub && idBuf && idBuf.length > 0) {
    const [cert] = findAll(s, { class: graphene.ObjectClass.CERTIFICATE, id: idBuf });
    const value = cert && attrBuffer(cert, 'value');
    if (value) {
      let spki: Buffer;
      try {
        spki = parseCertificate(value).spki;
      } catch (e) {
        throw new Pkcs11Error(
          `${what}: the certificate with the same id cannot be parsed: ${(e as Error).message}`,
          'UNSUPPORTED_KEY',
        );
      }
      pub = typed(spki, what);
    }
  }
  if (!pub) {
    throw new Pkcs11Error(
      `${what}: no public key object or certificate with the same id, so its public key is unknown`,
      'UNSUPPORTED_KEY',
    );
  }
  return new TokenKeyPair(session, obj.toType<graphene.PrivateKey>(), id, label, pub.keyType, pub.spki);
}

export interface KeyFilter {
  /** CKA_ID, hex */
  id?: string;
  /** CKA_LABEL */
  label?: string;
}

function keyTemplate(filter: KeyFilter): graphene.ITemplate {
  const t: graphene.ITemplate = { class: graphene.ObjectClass.PRIVATE_KEY };
  if (filter.id !== undefined) t.id = parseIdHex(filter.id);
  if (filter.label !== undefined) t.label = filter.label;
  return t;
}

/**
 * Private keys matching the filter (all when empty) whose public key is known and of a supported
 * type; others are skipped (objects.ts listObjects shows everything). Private keys are visible
 * only after login.
 */
export function findKeyPairs(session: TokenSession, filter: KeyFilter = {}): Promise<TokenKeyPair[]> {
  return session.run((s) =>
    wrap(`finding keys on token "${session.token.label}"`, () => {
      const out: TokenKeyPair[] = [];
      for (const obj of findAll(s, keyTemplate(filter))) {
        try {
          out.push(describePrivateKey(session, s, obj));
        } catch (e) {
          if (!(e instanceof Pkcs11Error && e.code === 'UNSUPPORTED_KEY')) throw e;
        }
      }
      return out;
    }),
  );
}

/** Exactly one private key matching the filter; KEY_NOT_FOUND, KEY_AMBIGUOUS or UNSUPPORTED_KEY otherwise. */
export function findKeyPair(session: TokenSession, filter: KeyFilter): Promise<TokenKeyPair> {
  const what = [filter.label !== undefined && `label "${filter.label}"`, filter.id !== undefined && `id ${filter.id}`]
    .filter(Boolean)
    .join(' and ');
  if (!what) return Promise.reject(new Pkcs11Error('a key id or label is required', 'INVALID_ARGUMENT'));
  return session.run((s) =>
    wrap(`finding key with ${what} on token "${session.token.label}"`, () => {
      const objs = findAll(s, keyTemplate(filter));
      const [obj, other] = objs;
      if (!obj) {
        const hint = session.isLoggedIn ? '' : ' (not logged in: private keys are hidden until login)';
        throw new Pkcs11Error(`no private key with ${what} on token "${session.token.label}"${hint}`, 'KEY_NOT_FOUND');
      }
      if (other) {
        throw new Pkcs11Error(
          `${objs.length} private keys with ${what} on token "${session.token.label}"; give the id`,
          'KEY_AMBIGUOUS',
        );
      }
      return describePrivateKey(session, s, obj);
    }),
  );
}

export interface GenerateKeyPairOptions {
  keyType: KeyType;
  label: string;
  /** CKA_ID, hex; random 16 bytes when omitted */
  id?: string;
  /** RSA only: also allow decryption (encryption certificates); signing keys should not */
  decrypt?: boolean;
}

/**
 * Generates a key pair on the token. The private key is a token object, private, sensitive and not
 * extractable: it can sign (and decrypt only when asked) and never leaves the token; the public key
 * verifies (and encrypts only when asked). Nothing wraps, unwraps or derives. Refuses an id or label already in use, as
 * duplicates make later lookups ambiguous. Needs a logged-in read/write session.
 */
export async function generateKeyPair(session: TokenSession, opts: GenerateKeyPairOptions): Promise<TokenKeyPair> {
  const idBuf = opts.id !== undefined ? parseIdHex(opts.id) : randomBytes(16);
  const id = idBuf.toString('hex');
  if (!opts.label) throw new Pkcs11Error('a key label is required', 'INVALID_ARGUMENT');
  if (opts.keyType === 'sm2') {
    // PKCS#11 has no standard SM2 mechanism (SoftHSM2 has none); vendor mechanisms may come later.
    throw new Pkcs11Error('SM2 keys cannot be made on a PKCS#11 token: use software keys for an SM2 CA', 'INVALID_ARGUMENT');
  }
  const doing = `generating ${opts.keyType} key "${opts.label}" on token "${session.token.label}"`;
  const common = { token: true, label: opts.label, id: idBuf };
  let mechanism: graphene.KeyGenMechanism;
  let pub: graphene.ITemplate;
  // Sign-only, stated explicitly: tokens default the rest (SoftHSM2 sets CKA_DECRYPT and CKA_UNWRAP).
  const decrypt = opts.decrypt === true;
  let priv: graphene.ITemplate = {
    ...common,
    class: graphene.ObjectClass.PRIVATE_KEY,
    private: true,
    sensitive: true,
    extractable: false,
    sign: true,
    signRecover: false,
    decrypt,
    unwrap: false,
    derive: false,
  };
  const pubUsage = { verify: true, verifyRecover: false, encrypt: decrypt, wrap: false };
  const curve = CURVES[opts.keyType];
  if (curve) {
    mechanism = graphene.KeyGenMechanism.EC;
    pub = {
      ...common,
      class: graphene.ObjectClass.PUBLIC_KEY,
      keyType: graphene.KeyType.EC,
      private: false,
      ...pubUsage,
      paramsEC: der.oid(curve.oid),
    };
    priv = { ...priv, keyType: graphene.KeyType.EC };
  } else {
    mechanism = graphene.KeyGenMechanism.RSA;
    const bits = Number(opts.keyType.slice(4));
    pub = {
      ...common,
      class: graphene.ObjectClass.PUBLIC_KEY,
      keyType: graphene.KeyType.RSA,
      private: false,
      ...pubUsage,
      modulusBits: bits,
      publicExponent: Buffer.from([0x01, 0x00, 0x01]),
    };
    priv = { ...priv, keyType: graphene.KeyType.RSA };
  }
  return session.run(async (s) => {
    const clash = wrap(
      doing,
      () =>
        findAll(s, { id: idBuf }).length > 0 ||
        findAll(s, { class: graphene.ObjectClass.PRIVATE_KEY, label: opts.label }).length > 0,
    );
    if (clash) {
      throw new Pkcs11Error(
        `${doing}: an object with id ${id} or a private key labelled "${opts.label}" already exists`,
        'OBJECT_EXISTS',
      );
    }
    // The callback form runs C_GenerateKeyPair on the thread pool: RSA-4096 can take seconds.
    const pair = await wrapAsync<graphene.IKeyPair>(doing, (cb) => s.generateKeyPair(mechanism, pub, priv, cb));
    try {
      const { keyType, spki } = publicKeySpki(pair.publicKey, `new key "${opts.label}"`);
      return new TokenKeyPair(session, pair.privateKey, id, opts.label, keyType, spki);
    } catch (e) {
      throw toPkcs11Error(e, doing);
    }
  });
}

/** Deletes the private and public key objects with this CKA_ID (and certificates too when asked). */
export async function deleteKeyPair(session: TokenSession, id: string, opts: { certificates?: boolean } = {}): Promise<number> {
  const idBuf = parseIdHex(id);
  return session.run((s) =>
    wrap(`deleting key id ${id} on token "${session.token.label}"`, () => {
      const classes = [graphene.ObjectClass.PRIVATE_KEY, graphene.ObjectClass.PUBLIC_KEY];
      if (opts.certificates) classes.push(graphene.ObjectClass.CERTIFICATE);
      let n = 0;
      for (const cls of classes) n += s.destroy({ class: cls, id: idBuf });
      return n;
    }),
  );
}
