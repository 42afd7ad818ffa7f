// The soft token: a PIN-protected key file for the demo and for holders without a hardware key. It
// behaves like a small PKCS#11 token: objects with a label and a CKA_ID-like id (private keys, public
// keys, certificates), a user PIN with a retry counter that locks it, an optional SO PIN that unlocks
// it, and no way in the API to take a private key out.
//
// At rest (JSON, see SoftTokenFile): private keys are PKCS#8 sealed with AES-256-GCM under a random
// data key (DEK). The DEK is sealed under a key derived from the user PIN (scrypt N=2^15 r=8 p=1, or
// PBKDF2-SHA256 ≥ 600,000 iterations, random salt), and again under the SO PIN when there is one. A PIN
// verifier (HMAC under a second derived key) tells a wrong PIN from a damaged file. Certificates and
// public keys are in clear, as on a card.
//
// The retry counter is decremented and written to disk BEFORE the PIN is checked and restored after a
// good PIN, so killing the process between the two cannot give an attacker free tries. Every write
// replaces the file atomically (fsutil.ts).
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  pbkdf2,
  randomBytes,
  scrypt,
  sign as cryptoSign,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import {
  generateKeyPair as generateSoftwareKeyPair,
  keyIdentifier,
  keyTypeOf,
  KEY_TYPES,
  signatureAlgorithmFor,
  spkiOf,
  type KeyType,
} from '../../pki/algorithms.js';
import { parseCertificate } from '../../pki/certificate.js';
import { certificateUsage } from '../../pki/key-usage.js';
import { sm2Decrypt } from '../../pki/sm2-encrypt.js';
import { openSm2EnvelopedKey } from '../../pki/sm2-envelope.js';
import { Sm2PrivateKey, sm2Sign } from '../../pki/sm2.js';
import { buildCsr } from '../../pki/csr.js';
import type { NameAttribute } from '../../pki/name.js';
import { derOrPem } from '../../pki/pem.js';
import { atomicWriteFile, KeyedQueue } from '../fsutil.js';
import {
  ENCRYPTION_LABEL_SUFFIX,
  TokenError,
  type KeyInfo,
  type ObjectSummary,
  type PinStatus,
  type StoredCertificate,
  type StoredData,
  type TokenSession,
} from './driver.js';

export const SOFT_TOKEN_FORMAT = 'certdesk-soft-token';
export const DEFAULT_MAX_RETRIES = 6;
export const DEFAULT_SO_MAX_RETRIES = 10;
export const MIN_PIN_LENGTH = 6;
export const MAX_PIN_LENGTH = 64;
const SCRYPT_MIN_N = 2 ** 15;
const PBKDF2_MIN_ITERATIONS = 600_000;

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/);
const hex = z.string().regex(/^(?:[0-9a-f]{2})+$/);
const Sealed = z.object({ iv: b64, tag: b64, data: b64 });
const Kdf = z.discriminatedUnion('alg', [
  z.object({
    alg: z.literal('scrypt'),
    N: z
      .number()
      .int()
      .min(SCRYPT_MIN_N)
      .max(2 ** 20),
    r: z.number().int().min(8).max(32),
    p: z.number().int().min(1).max(16),
    salt: b64,
  }),
  z.object({
    alg: z.literal('pbkdf2-sha256'),
    iterations: z.number().int().min(PBKDF2_MIN_ITERATIONS).max(100_000_000),
    salt: b64,
  }),
]);
const PinRecord = z.object({
  kdf: Kdf,
  verifier: b64,
  wrappedKey: Sealed,
  retriesLeft: z.number().int().min(0),
  maxRetries: z.number().int().min(1).max(100),
});
const label = z.string().max(256);
const SoftObject = z.discriminatedUnion('class', [
  z.object({
    class: z.literal('private-key'),
    id: hex,
    label,
    keyType: z.enum(KEY_TYPES),
    spki: b64,
    sealed: Sealed,
    /** an SM2 encryption key from a KMC envelope: decrypts, never signs (CKA_SIGN false, CKA_DECRYPT true) */
    usage: z.literal('encryption').optional(),
  }),
  z.object({ class: z.literal('public-key'), id: hex, label, keyType: z.enum(KEY_TYPES), spki: b64 }),
  z.object({ class: z.literal('certificate'), id: hex, label, der: b64 }),
]);
/** a public data object (CKO_DATA), e.g. an electronic seal */
const SoftData = z.object({ application: z.string().max(256), label, value: b64 });
const SoftTokenFileSchema = z.object({
  format: z.literal(SOFT_TOKEN_FORMAT),
  version: z.literal(1),
  label: z.string().min(1).max(32),
  serial: z.string().regex(/^[0-9a-f]{16}$/),
  createdAt: z.string(),
  userPin: PinRecord,
  soPin: PinRecord.optional(),
  objects: z.array(SoftObject),
  /** absent in files made before seals */
  data: z.array(SoftData).optional(),
});

export type SoftTokenFile = z.infer<typeof SoftTokenFileSchema>;
type PinRecordT = z.infer<typeof PinRecord>;
type KdfT = z.infer<typeof Kdf>;
type SealedT = z.infer<typeof Sealed>;
type SoftObjectT = z.infer<typeof SoftObject>;
type PrivateKeyObject = Extract<SoftObjectT, { class: 'private-key' }>;

export type KdfChoice = 'scrypt' | 'pbkdf2';

// One queue per file in this process: login, counter updates and object changes never interleave.
const queue = new KeyedQueue();

// ---------------------------------------------------------------------------------------------
// Crypto helpers

function newKdf(choice: KdfChoice): KdfT {
  const salt = randomBytes(16).toString('base64');
  return choice === 'pbkdf2'
    ? { alg: 'pbkdf2-sha256', iterations: PBKDF2_MIN_ITERATIONS, salt }
    : { alg: 'scrypt', N: SCRYPT_MIN_N, r: 8, p: 1, salt };
}

function derive(pin: string, kdf: KdfT): Promise<Buffer> {
  const salt = Buffer.from(kdf.salt, 'base64');
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, key: Buffer): void => (err ? reject(err) : resolve(key));
    if (kdf.alg === 'scrypt') {
      scrypt(
        pin.normalize('NFC'),
        salt,
        64,
        { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r + 16 * 1024 * 1024 },
        done,
      );
    } else pbkdf2(pin.normalize('NFC'), salt, kdf.iterations, 64, 'sha256', done);
  });
}

const VERIFIER_INFO = 'certdesk-soft-token/pin-verifier/v1';
const verifierOf = (derived: Buffer): Buffer => createHmac('sha256', derived.subarray(32)).update(VERIFIER_INFO).digest();

function seal(key: Buffer, plain: Buffer, aad: string): SealedT {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad, 'utf8'));
  const data = Buffer.concat([c.update(plain), c.final()]);
  return { iv: iv.toString('base64'), tag: c.getAuthTag().toString('base64'), data: data.toString('base64') };
}

function unseal(key: Buffer, s: SealedT, aad: string): Buffer | undefined {
  try {
    const d = createDecipheriv('aes-256-gcm', key, Buffer.from(s.iv, 'base64'));
    d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(Buffer.from(s.tag, 'base64'));
    return Buffer.concat([d.update(Buffer.from(s.data, 'base64')), d.final()]);
  } catch {
    return undefined;
  }
}

const dekAad = (serial: string, role: 'user' | 'so'): string => `certdesk-soft-token/dek/${serial}/${role}`;
const keyAad = (serial: string, id: string): string => `certdesk-soft-token/key/${serial}/${id}`;

async function makePinRecord(
  pin: string,
  dek: Buffer,
  serial: string,
  role: 'user' | 'so',
  kdfChoice: KdfChoice,
  maxRetries: number,
): Promise<PinRecordT> {
  checkPinFormat(pin, role === 'user' ? 'PIN' : 'SO PIN');
  const kdf = newKdf(kdfChoice);
  const derived = await derive(pin, kdf);
  return {
    kdf,
    verifier: verifierOf(derived).toString('base64'),
    wrappedKey: seal(derived.subarray(0, 32), dek, dekAad(serial, role)),
    retriesLeft: maxRetries,
    maxRetries,
  };
}

/** The DEK when `pin` is right, undefined when it is wrong; CORRUPT when the PIN verifies but the DEK does not open. */
async function openPinRecord(pin: string, rec: PinRecordT, serial: string, role: 'user' | 'so'): Promise<Buffer | undefined> {
  const derived = await derive(pin, rec.kdf);
  const want = Buffer.from(rec.verifier, 'base64');
  const got = verifierOf(derived);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return undefined;
  const dek = unseal(derived.subarray(0, 32), rec.wrappedKey, dekAad(serial, role));
  if (!dek) throw new TokenError('the soft token file is damaged: the PIN is right but its key does not open', 'CORRUPT');
  return dek;
}

export function checkPinFormat(pin: string, what = 'PIN'): void {
  if (typeof pin !== 'string' || pin.length < MIN_PIN_LENGTH || pin.length > MAX_PIN_LENGTH) {
    throw new TokenError(`${what} must be ${MIN_PIN_LENGTH}–${MAX_PIN_LENGTH} characters`, 'PIN_INVALID');
  }
  if (/[\u0000-\u001f\u007f]/.test(pin)) throw new TokenError(`${what} must not contain control characters`, 'PIN_INVALID');
}

export function pinStatusOf(rec: PinRecordT): PinStatus {
  return {
    retriesLeft: rec.retriesLeft,
    maxRetries: rec.maxRetries,
    countLow: rec.retriesLeft < rec.maxRetries,
    finalTry: rec.retriesLeft === 1,
    locked: rec.retriesLeft === 0,
  };
}

// ---------------------------------------------------------------------------------------------
// File access

function readTokenFile(file: string): SoftTokenFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new TokenError(`soft token ${file} is not present`, 'TOKEN_NOT_FOUND');
    throw new TokenError(`cannot read soft token ${file}: ${(e as Error).message}`, 'FAILED');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new TokenError(`soft token ${file} is not JSON`, 'CORRUPT');
  }
  const r = SoftTokenFileSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new TokenError(`soft token ${file} is not valid at ${issue.path.join('.') || '(root)'}: ${issue.message}`, 'CORRUPT');
  }
  return r.data;
}

function writeTokenFile(file: string, t: SoftTokenFile): void {
  atomicWriteFile(file, JSON.stringify(t, null, 1) + '\n');
}

/** The PKCS#11 key type name (CKK_EC / CKK_RSA without prefix, SM2 as vendors' CKK_SM2), as the PKCS#11 driver reports it. */
const ckk = (keyType: KeyType): string => (keyType === 'sm2' ? 'SM2' : keyType.startsWith('ec-') ? 'EC' : 'RSA');

function publicView(o: SoftObjectT): ObjectSummary {
  if (o.class === 'certificate') return { class: 'certificate', id: o.id, label: o.label };
  if (o.class === 'public-key') return { class: 'public-key', id: o.id, label: o.label, keyType: ckk(o.keyType) };
  return { class: 'private-key', id: o.id, label: o.label, keyType: ckk(o.keyType), extractable: false, sensitive: true };
}

function normId(id: string): string {
  if (!/^(?:[0-9a-fA-F]{2}){1,64}$/.test(id))
    throw new TokenError(`key id must be a non-empty even-length hex string, got ${JSON.stringify(id)}`, 'INVALID_ARGUMENT');
  return id.toLowerCase();
}

// ---------------------------------------------------------------------------------------------

export interface SoftTokenInfo {
  file: string;
  label: string;
  serial: string;
  pin: PinStatus;
  hasSoPin: boolean;
}

export class SoftToken {
  readonly file: string;

  constructor(file: string) {
    this.file = path.resolve(file);
  }

  get present(): boolean {
    return existsSync(this.file);
  }

  /** Reads the file (no PIN); TOKEN_NOT_FOUND when absent, CORRUPT when unreadable. */
  read(): SoftTokenFile {
    return readTokenFile(this.file);
  }

  info(): SoftTokenInfo {
    const t = this.read();
    return { file: this.file, label: t.label, serial: t.serial, pin: pinStatusOf(t.userPin), hasSoPin: t.soPin !== undefined };
  }

  publicObjects(): ObjectSummary[] {
    const t = this.read();
    return [...t.objects.filter((o) => o.class !== 'private-key').map(publicView), ...dataViews(t)];
  }

  certificates(): StoredCertificate[] {
    return certificatesOf(this.read());
  }

  dataObjects(application: string): StoredData[] {
    return dataOf(this.read(), application);
  }

  /** Checks the user PIN (counting the attempt first) and opens a session holding the data key. */
  login(pin: string): Promise<SoftTokenSession> {
    return queue.run(this.file, async () => {
      const { dek, serial } = await this.checkPin(pin, 'user');
      return new SoftTokenSession(this, serial, dek);
    });
  }

  /** Changes the user PIN (the old one is checked and counted like a login). */
  async changePin(oldPin: string, newPin: string): Promise<void> {
    checkPinFormat(newPin, 'new PIN');
    return queue.run(this.file, async () => {
      const { dek, serial, kdf } = await this.checkPin(oldPin, 'user');
      try {
        const t = this.readSame(serial);
        t.userPin = await makePinRecord(newPin, dek, serial, 'user', kdf, t.userPin.maxRetries);
        writeTokenFile(this.file, t);
      } finally {
        dek.fill(0);
      }
    });
  }

  /** Unlocks (or resets) the user PIN with the SO PIN; the SO PIN has its own counter. */
  async unlock(soPin: string, newPin: string): Promise<void> {
    checkPinFormat(newPin, 'new PIN');
    return queue.run(this.file, async () => {
      const { dek, serial } = await this.checkPin(soPin, 'so');
      try {
        const t = this.readSame(serial);
        const kdf = t.userPin.kdf.alg === 'pbkdf2-sha256' ? 'pbkdf2' : 'scrypt';
        t.userPin = await makePinRecord(newPin, dek, serial, 'user', kdf, t.userPin.maxRetries);
        writeTokenFile(this.file, t);
      } finally {
        dek.fill(0);
      }
    });
  }

  /** @internal runs inside the file's queue */
  private async checkPin(pin: string, role: 'user' | 'so'): Promise<{ dek: Buffer; serial: string; kdf: KdfChoice }> {
    const what = role === 'user' ? 'PIN' : 'SO PIN';
    if (typeof pin !== 'string' || pin.length === 0 || pin.length > MAX_PIN_LENGTH)
      throw new TokenError(`${what} is empty or too long`, 'PIN_INVALID');
    const t = this.read();
    const rec = role === 'user' ? t.userPin : t.soPin;
    if (!rec) throw new TokenError('this soft token has no SO PIN, so it cannot be unlocked; make a new one', 'UNSUPPORTED');
    if (rec.retriesLeft <= 0) {
      throw new TokenError(
        role === 'user'
          ? 'the PIN is locked after too many wrong attempts; unlock it with the SO PIN (certdesk token unlock-soft) or at a service point'
          : 'the SO PIN is locked; the soft token cannot be unlocked any more',
        'PIN_LOCKED',
        pinStatusOf(rec),
      );
    }
    // Count the attempt on disk first: a crash from here on cannot hand back the try.
    rec.retriesLeft -= 1;
    writeTokenFile(this.file, t);
    const dek = await openPinRecord(pin, rec, t.serial, role);
    if (!dek) {
      const status = pinStatusOf(rec);
      const left = status.locked
        ? `the ${what} is now locked`
        : `${rec.retriesLeft} ${rec.retriesLeft === 1 ? 'try' : 'tries'} left before it locks`;
      throw new TokenError(`wrong ${what}: ${left}`, status.locked ? 'PIN_LOCKED' : 'PIN_INCORRECT', status);
    }
    const again = this.readSame(t.serial);
    const rec2 = role === 'user' ? again.userPin : again.soPin!;
    rec2.retriesLeft = rec2.maxRetries;
    writeTokenFile(this.file, again);
    return { dek, serial: t.serial, kdf: rec.kdf.alg === 'pbkdf2-sha256' ? 'pbkdf2' : 'scrypt' };
  }

  /** @internal the file as it is now, provided it is still the same token */
  readSame(serial: string): SoftTokenFile {
    let t: SoftTokenFile;
    try {
      t = this.read();
    } catch (e) {
      if (e instanceof TokenError && e.code === 'TOKEN_NOT_FOUND') {
        throw new TokenError(
          `the soft token ${this.file} was removed during the operation; nothing was written`,
          'TOKEN_REMOVED',
        );
      }
      throw e;
    }
    if (t.serial !== serial) {
      throw new TokenError(
        `the soft token ${this.file} was replaced by another (serial ${t.serial}) during the operation; nothing was written`,
        'TOKEN_REMOVED',
      );
    }
    return t;
  }

  /** @internal */
  mutate<T>(serial: string, fn: (t: SoftTokenFile) => T): Promise<T> {
    return queue.run(this.file, () => {
      const t = this.readSame(serial);
      const out = fn(t);
      // The token must still be there at the moment of writing: a rename would otherwise re-create a
      // file the holder just removed.
      this.readSame(serial);
      writeTokenFile(this.file, t);
      return out;
    });
  }
}

const keyInfo = (o: PrivateKeyObject): KeyInfo => ({
  id: o.id,
  label: o.label,
  keyType: o.keyType,
  spki: Buffer.from(o.spki, 'base64'),
  ...(o.usage ? { usage: o.usage } : {}),
});

interface KeyMaterial {
  spki: Buffer;
  keyType: KeyType;
  /** PKCS#8 DER; zeroed once sealed */
  pkcs8: Buffer;
}

const sm2Material = (k: Sm2PrivateKey): KeyMaterial => ({ spki: k.publicKey.toSpki(), keyType: 'sm2', pkcs8: k.toPkcs8() });

function keyObjectMaterial(privateKey: KeyObject): KeyMaterial {
  let keyType: KeyType;
  try {
    keyType = keyTypeOf(privateKey);
  } catch (e) {
    throw new TokenError((e as Error).message, 'UNSUPPORTED');
  }
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  // SM2 re-encoded as sm2-key.ts writes it (and its SPKI from there), so every SM2 key on a token looks alike.
  if (keyType === 'sm2') {
    try {
      return sm2Material(Sm2PrivateKey.fromPkcs8(pkcs8));
    } finally {
      pkcs8.fill(0);
    }
  }
  return { spki: spkiOf(createPublicKey(privateKey)), keyType, pkcs8 };
}

function certificatesOf(t: SoftTokenFile): StoredCertificate[] {
  return t.objects.flatMap((o) =>
    o.class === 'certificate' ? [{ id: o.id, label: o.label, der: Buffer.from(o.der, 'base64') }] : [],
  );
}

function dataOf(t: SoftTokenFile, application: string): StoredData[] {
  return (t.data ?? [])
    .filter((d) => d.application === application)
    .map((d) => ({ application: d.application, label: d.label, value: Buffer.from(d.value, 'base64') }));
}

const dataViews = (t: SoftTokenFile): ObjectSummary[] => (t.data ?? []).map((d) => ({ class: 'data', id: '', label: d.label }));

const sameData = (o: { application: string; label: string; value: string }, d: StoredData): boolean =>
  o.application === d.application && o.label === d.label && o.value === d.value.toString('base64');

/** A logged-in soft token session: it holds the data key, never the PIN. Close it to forget the key. */
export class SoftTokenSession implements TokenSession {
  private dek: Buffer | undefined;

  /** @internal use SoftToken.login */
  constructor(
    readonly token: SoftToken,
    readonly serial: string,
    dek: Buffer,
    readonly tokenId = `soft-${serial}`,
  ) {
    this.dek = dek;
  }

  private key(): Buffer {
    if (!this.dek) throw new TokenError('the soft token session is closed', 'FAILED');
    return this.dek;
  }

  private current(): SoftTokenFile {
    this.key();
    return this.token.readSame(this.serial);
  }

  listObjects(): Promise<ObjectSummary[]> {
    const t = this.current();
    return Promise.resolve([...t.objects.map(publicView), ...dataViews(t)]);
  }

  listKeys(): Promise<KeyInfo[]> {
    return Promise.resolve(this.current().objects.flatMap((o) => (o.class === 'private-key' ? [keyInfo(o)] : [])));
  }

  readCertificates(): Promise<StoredCertificate[]> {
    return Promise.resolve(certificatesOf(this.current()));
  }

  async generateKeyPair(opts: { label: string; keyType: KeyType; id?: string }): Promise<KeyInfo> {
    const id = opts.id ?? randomBytes(16).toString('hex');
    if (opts.keyType === 'sm2') return this.storeKey(sm2Material(Sm2PrivateKey.generate()), opts.label, id);
    const pair = generateSoftwareKeyPair(opts.keyType);
    return this.storeKey(keyObjectMaterial(pair.privateKey), opts.label, id);
  }

  /** Imports an existing private key (soft token only: hardware keys generate their own). */
  importKey(privateKey: KeyObject, opts: { label: string; id?: string }): Promise<KeyInfo> {
    if (privateKey.type !== 'private') throw new TokenError('importKey needs a private key', 'INVALID_ARGUMENT');
    const material = keyObjectMaterial(privateKey);
    return this.storeKey(material, opts.label, opts.id ?? keyIdentifier(material.spki).toString('hex'));
  }

  private async storeKey(
    material: KeyMaterial,
    label: string,
    idIn: string,
    usage?: 'encryption',
    existing?: (t: SoftTokenFile) => KeyInfo | undefined,
  ): Promise<KeyInfo> {
    const dek = this.key();
    if (!label) throw new TokenError('a key label is required', 'INVALID_ARGUMENT');
    const id = normId(idIn);
    const { spki, keyType, pkcs8 } = material;
    const sealed = seal(dek, pkcs8, keyAad(this.serial, id));
    pkcs8.fill(0);
    return this.token.mutate(this.serial, (t) => {
      const already = existing?.(t);
      if (already) return already;
      if (t.objects.some((o) => o.id === id) || t.objects.some((o) => o.class === 'private-key' && o.label === label)) {
        throw new TokenError(`an object with id ${id} or a private key labelled "${label}" already exists`, 'OBJECT_EXISTS');
      }
      const spkiB64 = spki.toString('base64');
      t.objects.push({ class: 'private-key', id, label, keyType, spki: spkiB64, sealed, ...(usage ? { usage } : {}) });
      t.objects.push({ class: 'public-key', id, label, keyType, spki: spkiB64 });
      return { id, label, keyType, spki, ...(usage ? { usage } : {}) };
    });
  }

  /** The private key object and its PKCS#8 (zero it after use). */
  private unsealKey(keyId: string): { obj: PrivateKeyObject; pkcs8: Buffer } {
    const dek = this.key();
    const id = normId(keyId);
    const obj = this.current().objects.find((o): o is PrivateKeyObject => o.class === 'private-key' && o.id === id);
    if (!obj) throw new TokenError(`no private key with id ${id} on soft token ${this.token.file}`, 'KEY_NOT_FOUND');
    const pkcs8 = unseal(dek, obj.sealed, keyAad(this.serial, id));
    if (!pkcs8) throw new TokenError(`private key ${id} on soft token ${this.token.file} is damaged`, 'CORRUPT');
    return { obj, pkcs8 };
  }

  async sign(keyId: string, data: Buffer): Promise<Buffer> {
    const { obj, pkcs8 } = this.unsealKey(keyId);
    try {
      if (obj.usage === 'encryption')
        throw new TokenError(`key ${obj.id} is an encryption key: it decrypts and does not sign`, 'INVALID_ARGUMENT');
      // SM2 through sm2.ts (default user ID): node:crypto would sign with an empty ID.
      if (obj.keyType === 'sm2') return await sm2Sign(Sm2PrivateKey.fromPkcs8(pkcs8), data);
      const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
      return cryptoSign(signatureAlgorithmFor(obj.keyType).digest, data, key);
    } finally {
      pkcs8.fill(0);
    }
  }

  // async: every refusal is a rejected promise, as from the PKCS#11 driver
  async decrypt(keyId: string, ciphertext: Buffer): Promise<Buffer> {
    const { obj, pkcs8 } = this.unsealKey(keyId);
    try {
      if (obj.keyType !== 'sm2' || obj.usage !== 'encryption')
        throw new TokenError(`key ${obj.id} is not an SM2 encryption key: it does not decrypt`, 'INVALID_ARGUMENT');
      try {
        return sm2Decrypt(Sm2PrivateKey.fromPkcs8(pkcs8), ciphertext);
      } catch (e) {
        throw new TokenError(`SM2 decryption with key ${obj.id} failed: ${(e as Error).message}`, 'INVALID_ARGUMENT');
      }
    } finally {
      pkcs8.fill(0);
    }
  }

  async unwrapSm2Key(opts: {
    unwrappingKeyId: string;
    envelope: Buffer;
    label: string;
    id?: string;
    expectedSpki?: Buffer;
    checkOnly?: boolean;
  }): Promise<KeyInfo> {
    const { obj, pkcs8 } = this.unsealKey(opts.unwrappingKeyId);
    let encryptionKey: Sm2PrivateKey;
    try {
      if (obj.keyType !== 'sm2' || obj.usage === 'encryption')
        throw new TokenError(`key ${obj.id} is not an SM2 signing key: it cannot open an SM2 key envelope`, 'INVALID_ARGUMENT');
      try {
        encryptionKey = openSm2EnvelopedKey(opts.envelope, Sm2PrivateKey.fromPkcs8(pkcs8)).encryptionKey;
      } catch (e) {
        throw new TokenError(`${(e as Error).message}; nothing was written`, 'ENVELOPE_REFUSED');
      }
    } finally {
      pkcs8.fill(0);
    }
    const material = sm2Material(encryptionKey);
    if (opts.expectedSpki && !material.spki.equals(opts.expectedSpki)) {
      material.pkcs8.fill(0);
      throw new TokenError(
        "the key in the envelope is not the encryption certificate's public key; nothing was written",
        'KEY_MISMATCH',
      );
    }
    const id = opts.id ?? keyIdentifier(material.spki).toString('hex');
    const spkiB64 = material.spki.toString('base64');
    const adopt = (t: SoftTokenFile): KeyInfo | undefined => {
      const o = t.objects.find((x): x is PrivateKeyObject => x.class === 'private-key' && x.spki === spkiB64);
      return o ? keyInfo(o) : undefined;
    };
    if (opts.checkOnly) {
      material.pkcs8.fill(0);
      return adopt(this.current()) ?? { id, label: opts.label, keyType: 'sm2', spki: material.spki, usage: 'encryption' };
    }
    return this.storeKey(material, opts.label, id, 'encryption', adopt);
  }

  async writeCertificate(opts: { id: string; label: string; der: Buffer }): Promise<void> {
    this.key();
    const id = normId(opts.id);
    try {
      parseCertificate(opts.der);
    } catch (e) {
      throw new TokenError(`not a DER X.509 certificate: ${(e as Error).message}`, 'INVALID_ARGUMENT');
    }
    const b = opts.der.toString('base64');
    await this.token.mutate(this.serial, (t) => {
      const existing = t.objects.filter((o) => o.class === 'certificate' && o.id === id);
      if (existing.some((o) => o.class === 'certificate' && o.der === b)) return;
      if (existing.length > 0) throw new TokenError(`a different certificate with id ${id} exists`, 'OBJECT_EXISTS');
      t.objects.push({ class: 'certificate', id, label: opts.label, der: b });
    });
  }

  readData(application: string): Promise<StoredData[]> {
    return Promise.resolve(dataOf(this.current(), application));
  }

  async writeData(d: StoredData): Promise<void> {
    this.key();
    await this.token.mutate(this.serial, (t) => {
      const same = (t.data ?? []).filter((o) => o.application === d.application && o.label === d.label);
      if (same.some((o) => sameData(o, d))) return;
      if (same.length > 0) throw new TokenError(`a different data object labelled ${d.label} exists`, 'OBJECT_EXISTS');
      (t.data ??= []).push({ application: d.application, label: d.label, value: d.value.toString('base64') });
    });
  }

  relabelData(d: StoredData, label: string): Promise<number> {
    this.key();
    return this.token.mutate(this.serial, (t) => {
      let n = 0;
      for (const o of t.data ?? []) {
        if (sameData(o, d)) {
          o.label = label;
          n++;
        }
      }
      return n;
    });
  }

  deleteData(d: StoredData): Promise<number> {
    this.key();
    return this.token.mutate(this.serial, (t) => {
      const before = t.data?.length ?? 0;
      t.data = (t.data ?? []).filter((o) => !sameData(o, d));
      return before - t.data.length;
    });
  }

  relabel(id: string, label: string): Promise<number> {
    this.key();
    const nid = normId(id);
    return this.token.mutate(this.serial, (t) => {
      let n = 0;
      for (const o of t.objects) {
        if (o.id === nid) {
          o.label = label;
          n++;
        }
      }
      return n;
    });
  }

  deleteObjects(id: string): Promise<number> {
    this.key();
    const nid = normId(id);
    return this.token.mutate(this.serial, (t) => {
      const before = t.objects.length;
      t.objects = t.objects.filter((o) => o.id !== nid);
      return before - t.objects.length;
    });
  }

  deleteCertificate(id: string, der: Buffer): Promise<number> {
    this.key();
    const nid = normId(id);
    const b = der.toString('base64');
    return this.token.mutate(this.serial, (t) => {
      const before = t.objects.length;
      t.objects = t.objects.filter((o) => !(o.class === 'certificate' && o.id === nid && o.der === b));
      return before - t.objects.length;
    });
  }

  close(): Promise<void> {
    this.dek?.fill(0);
    this.dek = undefined;
    return Promise.resolve();
  }
}

// ---------------------------------------------------------------------------------------------
// Library functions for the CLI, the demo and tests

export interface CreateSoftTokenOptions {
  label: string;
  pin: string;
  /** SO PIN (unlocks a locked user PIN); without one a locked token stays locked */
  soPin?: string;
  kdf?: KdfChoice;
  maxRetries?: number;
  /** replace an existing file (default: refuse) */
  overwrite?: boolean;
}

/** Creates an empty soft token file (mode 0600). */
export async function createSoftToken(file: string, opts: CreateSoftTokenOptions): Promise<SoftTokenInfo> {
  const target = path.resolve(file);
  if (!opts.label || opts.label.length > 32) throw new TokenError('the token label must be 1–32 characters', 'INVALID_ARGUMENT');
  const maxRetries = opts.maxRetries ?? DEFAULT_MAX_RETRIES;
  if (!Number.isInteger(maxRetries) || maxRetries < 2 || maxRetries > 100)
    throw new TokenError('maxRetries must be 2–100', 'INVALID_ARGUMENT');
  if (!opts.overwrite && existsSync(target))
    throw new TokenError(`${target} already exists; choose another file or remove it first`, 'OBJECT_EXISTS');
  const serial = randomBytes(8).toString('hex');
  const dek = randomBytes(32);
  const kdf = opts.kdf ?? 'scrypt';
  try {
    const t: SoftTokenFile = {
      format: SOFT_TOKEN_FORMAT,
      version: 1,
      label: opts.label,
      serial,
      createdAt: new Date().toISOString(),
      userPin: await makePinRecord(opts.pin, dek, serial, 'user', kdf, maxRetries),
      ...(opts.soPin !== undefined
        ? { soPin: await makePinRecord(opts.soPin, dek, serial, 'so', kdf, DEFAULT_SO_MAX_RETRIES) }
        : {}),
      objects: [],
    };
    writeTokenFile(target, t);
  } finally {
    dek.fill(0);
  }
  return new SoftToken(target).info();
}

function toPrivateKey(k: KeyObject | Buffer | string): KeyObject {
  if (typeof k !== 'string' && !Buffer.isBuffer(k)) return k;
  const pem =
    typeof k === 'string' ? k : k.subarray(0, 64).toString('latin1').includes('-----BEGIN') ? k.toString('latin1') : undefined;
  if (pem === undefined) return createPrivateKey({ key: k, format: 'der', type: 'pkcs8' });
  try {
    return createPrivateKey(pem);
  } catch (e) {
    // `openssl ec` writes SM2 keys as "SM2 PRIVATE KEY", which node:crypto does not read.
    if (!pem.includes('SM2 PRIVATE KEY'))
      throw new TokenError(`cannot read the private key: ${(e as Error).message}`, 'INVALID_ARGUMENT');
    return Sm2PrivateKey.fromPem(pem).nativeKey();
  }
}

/**
 * Puts an existing key pair (and its certificate) on a soft token: the demo's way to give a holder a
 * certificate from the demo CA. The certificate must belong to the key.
 */
export async function importToSoftToken(
  file: string,
  opts: { pin: string; privateKey: KeyObject | Buffer | string; certificate?: Buffer; label: string; id?: string },
): Promise<{ key: KeyInfo; certificateId?: string }> {
  const privateKey = toPrivateKey(opts.privateKey);
  let certDer: Buffer | undefined;
  if (opts.certificate) {
    certDer = derOrPem(opts.certificate, 'CERTIFICATE');
    let spki: Buffer;
    try {
      spki = parseCertificate(certDer).spki;
    } catch (e) {
      throw new TokenError(`not an X.509 certificate: ${(e as Error).message}`, 'INVALID_ARGUMENT');
    }
    if (!spki.equals(spkiOf(createPublicKey(privateKey))))
      throw new TokenError('the certificate does not belong to the private key', 'INVALID_ARGUMENT');
  }
  const session = await new SoftToken(file).login(opts.pin);
  try {
    const key = await session.importKey(privateKey, { label: opts.label, id: opts.id });
    if (certDer) await session.writeCertificate({ id: key.id, label: opts.label, der: certDer });
    return { key, certificateId: certDer ? key.id : undefined };
  } finally {
    await session.close();
  }
}

/**
 * A soft token with a key pair generated on it and the certificate `issue` returns for its CSR: the
 * demo's holder key (e.g. from the demo CA with notAfter about 30 days ahead, so renewal is open).
 */
export async function provisionSoftToken(
  file: string,
  opts: CreateSoftTokenOptions & {
    subject: NameAttribute[];
    keyType?: KeyType;
    keyLabel?: string;
    issue: (csr: Buffer) => Promise<Buffer>;
  },
): Promise<{ tokenId: string; keyId: string; certificate: Buffer }> {
  const info = await createSoftToken(file, opts);
  const session = await new SoftToken(file).login(opts.pin);
  try {
    const keyType = opts.keyType ?? 'ec-p256';
    const label = opts.keyLabel ?? 'certdesk';
    const key = await session.generateKeyPair({ label, keyType });
    const csr = await buildCsr({
      subject: opts.subject,
      spki: key.spki,
      signatureAlgId: signatureAlgorithmFor(keyType).algId,
      sign: (d) => session.sign(key.id, d),
    });
    const certificate = derOrPem(await opts.issue(csr), 'CERTIFICATE');
    if (!parseCertificate(certificate).spki.equals(key.spki)) {
      throw new TokenError('the issued certificate is not for the key generated on the soft token', 'INVALID_ARGUMENT');
    }
    await session.writeCertificate({ id: key.id, label, der: certificate });
    return { tokenId: `soft-${info.serial}`, keyId: key.id, certificate };
  } finally {
    await session.close();
  }
}

/** What a CA + KMC hand back for an SM2 dual pair's CSR (the RA's issue answer, as bytes). */
export interface IssuedDualPair {
  certificate: Buffer;
  encryption: { certificate: Buffer; envelope: Buffer };
}

/**
 * Adds an SM2 dual pair to an existing soft token: the signing key pair generated on the token
 * (label `keyLabel`), the certificate `issue` returns for its CSR, and the encryption key from the
 * KMC's envelope, opened inside the token with the signing key exactly as a renewal's install does
 * (unwrapSm2Key: refused before anything is stored if the envelope is for another key or carries
 * another key than the certificate's), label `keyLabel:enc`. The demo's SM2 holder.
 */
export async function provisionSm2DualPair(
  file: string,
  opts: { pin: string; subject: NameAttribute[]; keyLabel: string; issue: (csr: Buffer) => Promise<IssuedDualPair> },
): Promise<{ keyId: string; encryptionKeyId: string; certificate: Buffer; encryptionCertificate: Buffer }> {
  const session = await new SoftToken(file).login(opts.pin);
  try {
    // a key left by an earlier attempt that stopped before its certificate was written is used again
    const key =
      (await session.listKeys()).find((k) => k.label === opts.keyLabel && k.keyType === 'sm2' && !k.usage) ??
      (await session.generateKeyPair({ label: opts.keyLabel, keyType: 'sm2' }));
    const csr = await buildCsr({
      subject: opts.subject,
      spki: key.spki,
      signatureAlgId: signatureAlgorithmFor('sm2').algId,
      sign: (d) => session.sign(key.id, d),
    });
    const issued = await opts.issue(csr);
    const signing = parseCertificate(issued.certificate);
    const enc = parseCertificate(issued.encryption.certificate);
    if (!signing.spki.equals(key.spki))
      throw new TokenError('the issued certificate is not for the key generated on the soft token', 'INVALID_ARGUMENT');
    if (certificateUsage(enc) !== 'encryption' || !enc.subjectDer.equals(signing.subjectDer))
      throw new TokenError(
        'the encryption certificate is not an encryption certificate for the signing certificate’s subject',
        'INVALID_ARGUMENT',
      );
    const encKey = await session.unwrapSm2Key({
      unwrappingKeyId: key.id,
      envelope: issued.encryption.envelope,
      label: `${opts.keyLabel}${ENCRYPTION_LABEL_SUFFIX}`,
      expectedSpki: enc.spki,
    });
    await session.writeCertificate({
      id: encKey.id,
      label: `${opts.keyLabel}${ENCRYPTION_LABEL_SUFFIX}`,
      der: issued.encryption.certificate,
    });
    await session.writeCertificate({ id: key.id, label: opts.keyLabel, der: issued.certificate });
    return {
      keyId: key.id,
      encryptionKeyId: encKey.id,
      certificate: issued.certificate,
      encryptionCertificate: issued.encryption.certificate,
    };
  } finally {
    await session.close();
  }
}
