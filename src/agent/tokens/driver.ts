// One interface for every kind of key (UKey) the assistant talks to: PKCS#11 tokens (any vendor
// module, graphene-pk11) and PIN-protected soft token files. The rest of the assistant (API, renewal
// journal, UKey 管理 page) only sees this.
import type { KeyType } from '../../pki/algorithms.js';

export type TokenKind = 'pkcs11' | 'soft';

export interface PinStatus {
  /** tries left before the PIN locks; null when the token does not say (PKCS#11 tokens only raise flags) */
  retriesLeft: number | null;
  maxRetries: number | null;
  /** a wrong PIN was entered since the last good one (CKF_USER_PIN_COUNT_LOW) */
  countLow: boolean;
  /** the next wrong PIN locks the token (CKF_USER_PIN_FINAL_TRY, or retriesLeft === 1) */
  finalTry: boolean;
  locked: boolean;
}

export interface TokenSummary {
  /** stable across restarts and re-insertions: derived from the module/file kind and the token serial */
  id: string;
  kind: TokenKind;
  label: string;
  serial: string;
  manufacturer: string;
  model: string;
  /** PKCS#11 module path or soft token file */
  source: string;
  pin: PinStatus;
}

export type ObjectClass = 'certificate' | 'public-key' | 'private-key' | 'data' | 'other';

export interface ObjectSummary {
  class: ObjectClass;
  /** CKA_ID, lowercase hex */
  id: string;
  label: string;
  /** keys only */
  keyType?: string;
  /** private keys only */
  extractable?: boolean;
  sensitive?: boolean;
}

export interface StoredCertificate {
  /** CKA_ID, lowercase hex */
  id: string;
  label: string;
  der: Buffer;
}

/**
 * A public data object (PKCS#11 CKO_DATA: CKA_APPLICATION, CKA_LABEL, CKA_VALUE). An electronic seal
 * is one: application SEAL_APPLICATION, label its esID (or pending:/retired: during a renewal).
 */
export interface StoredData {
  application: string;
  label: string;
  value: Buffer;
}

/** CKA_APPLICATION of the seal data objects (GB/T 38540 SESeal DER in CKA_VALUE). */
export const SEAL_APPLICATION = 'GB/T 38540 SESeal';

export interface KeyInfo {
  /** CKA_ID of the private key, lowercase hex */
  id: string;
  label: string;
  keyType: KeyType;
  /** DER SubjectPublicKeyInfo */
  spki: Buffer;
  /** an SM2 encryption key (from a KMC envelope): decrypts, never signs. Absent: a signing key */
  usage?: 'encryption';
}

/** A logged-in session on one token. The PIN is not kept: only the token's own login state. */
export interface TokenSession {
  readonly tokenId: string;
  /** every object, private ones included */
  listObjects(): Promise<ObjectSummary[]>;
  /** private keys whose public key is known */
  listKeys(): Promise<KeyInfo[]>;
  readCertificates(): Promise<StoredCertificate[]>;
  /** a non-extractable key pair; refuses a label or id already in use */
  generateKeyPair(opts: { label: string; keyType: KeyType; id?: string }): Promise<KeyInfo>;
  /** the key's X.509 signature (DER ECDSA-Sig-Value or RSA PKCS#1 v1.5) over `data` */
  sign(keyId: string, data: Buffer): Promise<Buffer>;
  /** SM2 decryption (DER SM2Cipher or C1‖C3‖C2) with an encryption key on the token */
  decrypt(keyId: string, ciphertext: Buffer): Promise<Buffer>;
  /**
   * Opens a KMC's SM2EnvelopedKey with the SM2 key `unwrappingKeyId` inside the token and stores the
   * encryption key pair it carries, non-exportable (like C_UnwrapKey). An envelope for another key
   * (ENVELOPE_REFUSED) or whose key is not `expectedSpki` (KEY_MISMATCH) is refused before anything is
   * written; `checkOnly` opens and checks without storing. A key already stored with the same public
   * key is returned as it is (redoing the step after a crash).
   */
  unwrapSm2Key(opts: {
    unwrappingKeyId: string;
    envelope: Buffer;
    label: string;
    id?: string;
    expectedSpki?: Buffer;
    checkOnly?: boolean;
  }): Promise<KeyInfo>;
  /** stores a certificate; the same certificate under the same id again is a no-op */
  writeCertificate(opts: { id: string; label: string; der: Buffer }): Promise<void>;
  /** data objects of this application */
  readData(application: string): Promise<StoredData[]>;
  /** stores a public data object; the same label and bytes again is a no-op, the same label with other bytes OBJECT_EXISTS */
  writeData(d: StoredData): Promise<void>;
  /** relabels the data object with exactly this application, label and bytes; returns how many */
  relabelData(d: StoredData, label: string): Promise<number>;
  /** deletes the data object with exactly this application, label and bytes; returns how many */
  deleteData(d: StoredData): Promise<number>;
  /** sets the label of every object with this CKA_ID; returns how many */
  relabel(id: string, label: string): Promise<number>;
  /** deletes every object with this CKA_ID (key pair and certificate); returns how many */
  deleteObjects(id: string): Promise<number>;
  /** deletes only the certificate object with this id and these bytes (its key stays); returns how many */
  deleteCertificate(id: string, der: Buffer): Promise<number>;
  close(): Promise<void>;
}

export interface TokenDriver {
  readonly kind: TokenKind;
  /** tokens present now */
  list(): Promise<TokenSummary[]>;
  /** public objects, without a PIN */
  listPublicObjects(tokenId: string): Promise<ObjectSummary[]>;
  /** certificates, without a PIN */
  readCertificates(tokenId: string): Promise<StoredCertificate[]>;
  /** data objects of this application, without a PIN */
  readData(tokenId: string, application: string): Promise<StoredData[]>;
  /** logs in; a wrong PIN is a TokenError PIN_INCORRECT carrying the PIN status after the attempt */
  openSession(tokenId: string, pin: string): Promise<TokenSession>;
  changePin(tokenId: string, oldPin: string, newPin: string): Promise<void>;
  /** true when this driver owns the id (by prefix) */
  owns(tokenId: string): boolean;
  /** modules or files that could not be used at the last listing, with why */
  readonly problems: ReadonlyMap<string, string>;
  close(): Promise<void>;
}

export type TokenErrorCode =
  | 'PIN_INCORRECT'
  | 'PIN_LOCKED'
  | 'PIN_INVALID'
  | 'TOKEN_NOT_FOUND'
  /** the key was removed (or replaced by another) during the operation */
  | 'TOKEN_REMOVED'
  | 'KEY_NOT_FOUND'
  | 'OBJECT_EXISTS'
  | 'INVALID_ARGUMENT'
  | 'UNSUPPORTED'
  /** an SM2EnvelopedKey that does not open with the key it was given (made for another signing key, or damaged) */
  | 'ENVELOPE_REFUSED'
  /** an unwrapped key that is not the one expected (its certificate's) */
  | 'KEY_MISMATCH'
  | 'CORRUPT'
  | 'FAILED';

export class TokenError extends Error {
  constructor(
    message: string,
    readonly code: TokenErrorCode,
    /** PIN errors: the PIN status after the attempt */
    readonly pin?: PinStatus,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}

/** The key among `keys` whose public key is the certificate's. */
export function keyForSpki(keys: KeyInfo[], spki: Buffer): KeyInfo | undefined {
  return keys.find((k) => k.spki.equals(spki));
}

/** A one-line English description of tries left, for error messages. */
export function describeTriesLeft(pin: PinStatus): string {
  if (pin.locked) return 'the PIN is now locked';
  if (pin.retriesLeft !== null) return `${pin.retriesLeft} ${pin.retriesLeft === 1 ? 'try' : 'tries'} left before the PIN locks`;
  if (pin.finalTry) return 'one try left before the PIN locks';
  if (pin.countLow) return 'the key does not say how many tries are left; it has counted wrong PINs';
  return 'the key does not say how many tries are left';
}

/** Labels the renewal journal puts on token objects (see install/renewal.ts). */
export const PENDING_PREFIX = 'pending:';
export const RETIRED_PREFIX = 'retired:';
/** An SM2 encryption pair is labelled after its signing pair: `<label>:enc`, `pending:<order>:enc`, `retired:<order>:enc`. */
export const ENCRYPTION_LABEL_SUFFIX = ':enc';

export function labelState(label: string): 'pending' | 'retired' | 'current' {
  if (label.startsWith(PENDING_PREFIX)) return 'pending';
  if (label.startsWith(RETIRED_PREFIX)) return 'retired';
  return 'current';
}
