// PKCS#11 tokens as a TokenDriver, over the shared graphene-pk11 layer (src/pkcs11). Any number of
// vendor modules, any number of tokens in each. Token ids are `p11-<hash of module path>-<serial>`.
import { createHash } from 'node:crypto';
import {
  deleteCertificates,
  deleteDataObject,
  deleteObjects,
  findKeyPair,
  findKeyPairs,
  generateKeyPair,
  listObjects,
  openModule,
  openTokenSession,
  Pkcs11Error,
  readCertificates,
  readDataObjects,
  relabelDataObject,
  setLabel,
  writeCertificate,
  writeDataObject,
  type ObjectInfo,
  type TokenInfo,
  type TokenSelector,
  type TokenSession as Pkcs11Session,
} from '../../pkcs11/index.js';
import { toPkcs11Error } from '../../pkcs11/errors.js';
import type { KeyType } from '../../pki/algorithms.js';
import {
  TokenError,
  type KeyInfo,
  type ObjectSummary,
  type PinStatus,
  type StoredCertificate,
  type StoredData,
  type TokenDriver,
  type TokenErrorCode,
  type TokenSession,
  type TokenSummary,
} from './driver.js';

export const PKCS11_ID_PREFIX = 'p11-';

export function pinStatusFromFlags(t: TokenInfo): PinStatus {
  const f = t.flags;
  return {
    retriesLeft: f.userPinLocked ? 0 : f.userPinFinalTry ? 1 : null,
    maxRetries: null,
    countLow: f.userPinCountLow,
    finalTry: f.userPinFinalTry,
    locked: f.userPinLocked,
  };
}

const REMOVED = new Set([
  'TOKEN_NOT_PRESENT',
  'DEVICE_REMOVED',
  'SESSION_CLOSED',
  'TOKEN_NOT_FOUND',
  'CLOSED',
  'TOKEN_NOT_RECOGNIZED',
]);
const MAP: Partial<Record<string, TokenErrorCode>> = {
  PIN_INCORRECT: 'PIN_INCORRECT',
  PIN_LOCKED: 'PIN_LOCKED',
  PIN_INVALID: 'PIN_INVALID',
  PIN_EXPIRED: 'PIN_INVALID',
  KEY_NOT_FOUND: 'KEY_NOT_FOUND',
  KEY_AMBIGUOUS: 'INVALID_ARGUMENT',
  OBJECT_EXISTS: 'OBJECT_EXISTS',
  OBJECT_AMBIGUOUS: 'INVALID_ARGUMENT',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  TEMPLATE_INVALID: 'INVALID_ARGUMENT',
  UNSUPPORTED_KEY: 'UNSUPPORTED',
  MECHANISM_INVALID: 'UNSUPPORTED',
};

function toTokenError(e: unknown, inSession: boolean, pin?: PinStatus): TokenError {
  if (e instanceof TokenError) return e;
  if (!(e instanceof Pkcs11Error)) return new TokenError((e as Error)?.message ?? String(e), 'FAILED');
  if (REMOVED.has(e.code)) {
    return inSession
      ? new TokenError(`the key was removed during the operation (${e.message})`, 'TOKEN_REMOVED')
      : new TokenError(e.message, 'TOKEN_NOT_FOUND');
  }
  return new TokenError(e.message, MAP[e.code] ?? 'FAILED', pin);
}

interface Located {
  module: string;
  selector: TokenSelector;
  info: TokenInfo;
}

export class Pkcs11Driver implements TokenDriver {
  readonly kind = 'pkcs11' as const;
  private readonly byId = new Map<string, Located>();
  /** module path → why it could not be used */
  readonly problems = new Map<string, string>();

  private readonly modules: string[];

  constructor(modules: string[]) {
    this.modules = [...new Set(modules)];
  }

  static tokenId(modulePath: string, t: Pick<TokenInfo, 'serial' | 'label'>): string {
    const m = createHash('sha256').update(modulePath).digest('hex').slice(0, 8);
    const serial = t.serial.replace(/[^A-Za-z0-9]/g, '');
    const part = serial || `l${createHash('sha256').update(t.label).digest('hex').slice(0, 12)}`;
    return `${PKCS11_ID_PREFIX}${m}-${part}`;
  }

  owns(tokenId: string): boolean {
    return tokenId.startsWith(PKCS11_ID_PREFIX);
  }

  list(): Promise<TokenSummary[]> {
    const out: TokenSummary[] = [];
    this.byId.clear();
    for (const path of this.modules) {
      let tokens: TokenInfo[];
      try {
        tokens = openModule(path).listTokens();
        this.problems.delete(path);
      } catch (e) {
        this.problems.set(path, (e as Error).message);
        continue;
      }
      for (const t of tokens) {
        if (!t.flags.initialized) continue;
        const id = Pkcs11Driver.tokenId(path, t);
        const selector: TokenSelector = t.serial.trim() ? { serial: t.serial } : { label: t.label };
        this.byId.set(id, { module: path, selector, info: t });
        out.push({
          id,
          kind: 'pkcs11',
          label: t.label,
          serial: t.serial,
          manufacturer: t.manufacturer,
          model: t.model,
          source: path,
          pin: pinStatusFromFlags(t),
        });
      }
    }
    return Promise.resolve(out);
  }

  private async locate(tokenId: string): Promise<Located> {
    let hit = this.byId.get(tokenId);
    if (!hit) {
      await this.list();
      hit = this.byId.get(tokenId);
    }
    if (!hit) throw new TokenError(`key ${tokenId} is not inserted`, 'TOKEN_NOT_FOUND');
    return hit;
  }

  private async publicSession<T>(tokenId: string, fn: (s: Pkcs11Session) => Promise<T>): Promise<T> {
    const at = await this.locate(tokenId);
    let s: Pkcs11Session;
    try {
      s = openModule(at.module).openSession(at.selector, { readOnly: true });
    } catch (e) {
      throw toTokenError(e, false);
    }
    try {
      return await fn(s);
    } catch (e) {
      throw toTokenError(e, true);
    } finally {
      await s.close();
    }
  }

  listPublicObjects(tokenId: string): Promise<ObjectSummary[]> {
    return this.publicSession(tokenId, async (s) => (await listObjects(s)).filter((o) => !o.private).map(objectSummary));
  }

  readCertificates(tokenId: string): Promise<StoredCertificate[]> {
    return this.publicSession(tokenId, (s) => readCertificates(s));
  }

  readData(tokenId: string, application: string): Promise<StoredData[]> {
    return this.publicSession(tokenId, (s) => readDataObjects(s, application));
  }

  /** PIN status as the token reports it now (after a failed login the flags change). */
  private pinNow(at: Located): PinStatus | undefined {
    try {
      const t = openModule(at.module).findToken(at.selector).token;
      return pinStatusFromFlags(t);
    } catch {
      return undefined;
    }
  }

  async openSession(tokenId: string, pin: string): Promise<TokenSession> {
    const at = await this.locate(tokenId);
    try {
      const s = await openTokenSession({ module: at.module, token: at.selector, pin });
      return new Pkcs11TokenSession(tokenId, s);
    } catch (e) {
      throw toTokenError(e, false, this.pinNow(at));
    }
  }

  async changePin(tokenId: string, oldPin: string, newPin: string): Promise<void> {
    const at = await this.locate(tokenId);
    let s: Pkcs11Session;
    try {
      s = await openTokenSession({ module: at.module, token: at.selector, pin: oldPin });
    } catch (e) {
      throw toTokenError(e, false, this.pinNow(at));
    }
    try {
      await s.run((raw) => {
        try {
          raw.setPin(oldPin, newPin);
        } catch (e) {
          throw toPkcs11Error(e, `changing the PIN of token "${at.info.label}"`, newPin);
        }
      });
    } catch (e) {
      throw toTokenError(e, true);
    } finally {
      await s.close();
    }
  }

  close(): Promise<void> {
    // Modules are process-wide (src/pkcs11/module.ts); the agent finalizes them all at shutdown.
    return Promise.resolve();
  }
}

function objectSummary(o: ObjectInfo): ObjectSummary {
  const cls =
    o.class === 'certificate' || o.class === 'public-key' || o.class === 'private-key' || o.class === 'data' ? o.class : 'other';
  const out: ObjectSummary = { class: cls, id: o.id, label: o.label };
  if (o.keyType !== undefined) out.keyType = o.keyType;
  if (cls === 'private-key') {
    if (o.extractable !== undefined) out.extractable = o.extractable;
    if (o.sensitive !== undefined) out.sensitive = o.sensitive;
  }
  return out;
}

class Pkcs11TokenSession implements TokenSession {
  constructor(
    readonly tokenId: string,
    private readonly s: Pkcs11Session,
  ) {}

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw toTokenError(e, true);
    }
  }

  listObjects(): Promise<ObjectSummary[]> {
    return this.guard(async () => (await listObjects(this.s)).map(objectSummary));
  }

  listKeys(): Promise<KeyInfo[]> {
    return this.guard(async () =>
      (await findKeyPairs(this.s)).map((k) => ({ id: k.id, label: k.label, keyType: k.keyType, spki: k.spki })),
    );
  }

  readCertificates(): Promise<StoredCertificate[]> {
    return this.guard(() => readCertificates(this.s));
  }

  generateKeyPair(opts: { label: string; keyType: KeyType; id?: string }): Promise<KeyInfo> {
    if (opts.keyType === 'sm2') return Promise.reject(sm2Unsupported('generate SM2 keys'));
    return this.guard(async () => {
      const k = await generateKeyPair(this.s, { keyType: opts.keyType, label: opts.label, id: opts.id });
      return { id: k.id, label: k.label, keyType: k.keyType, spki: k.spki };
    });
  }

  sign(keyId: string, data: Buffer): Promise<Buffer> {
    return this.guard(async () => (await findKeyPair(this.s, { id: keyId })).sign(data));
  }

  decrypt(): Promise<Buffer> {
    return Promise.reject(sm2Unsupported('decrypt with SM2 encryption keys'));
  }

  unwrapSm2Key(): Promise<KeyInfo> {
    return Promise.reject(sm2Unsupported('open SM2 key envelopes (dual certificates)'));
  }

  writeCertificate(opts: { id: string; label: string; der: Buffer }): Promise<void> {
    return this.guard(async () => {
      await writeCertificate(this.s, { der: opts.der, label: opts.label, id: opts.id });
    });
  }

  readData(application: string): Promise<StoredData[]> {
    return this.guard(() => readDataObjects(this.s, application));
  }

  writeData(d: StoredData): Promise<void> {
    return this.guard(() => writeDataObject(this.s, d));
  }

  relabelData(d: StoredData, label: string): Promise<number> {
    return this.guard(() => relabelDataObject(this.s, d, label));
  }

  deleteData(d: StoredData): Promise<number> {
    return this.guard(() => deleteDataObject(this.s, d));
  }

  relabel(id: string, label: string): Promise<number> {
    return this.guard(() => setLabel(this.s, { id }, label));
  }

  deleteObjects(id: string): Promise<number> {
    return this.guard(() => deleteObjects(this.s, { id }));
  }

  deleteCertificate(id: string, der: Buffer): Promise<number> {
    return this.guard(async () => {
      const at = await readCertificates(this.s, { id });
      if (!at.some((c) => c.der.equals(der))) return 0;
      // deleteCertificates selects by id: refuse rather than take another certificate with it
      if (at.length > 1)
        throw new TokenError(`several certificates share id ${id}; delete them with the vendor's tool`, 'UNSUPPORTED');
      return deleteCertificates(this.s, { id });
    });
  }

  close(): Promise<void> {
    return this.s.close();
  }
}

// PKCS#11 has no standard SM2 mechanism (SoftHSM2 has none); vendor mechanisms may come later.
const sm2Unsupported = (what: string): TokenError =>
  new TokenError(
    `PKCS#11 keys cannot ${what}: PKCS#11 has no standard SM2 mechanism (SoftHSM2 has none). Use a soft token for SM2 certificates`,
    'UNSUPPORTED',
  );
