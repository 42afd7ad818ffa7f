// The KMC master key: a 128-bit SM4 key in a file (KMC_MASTER_KEY_FILE, 32 hex digits, mode 0600),
// created once and never written again. The database knows it only by an id and an HMAC-SM3
// check value, both derived from the key, so a wrong or replaced file is recognised at start,
// before anything is decrypted. The keys that actually encrypt escrowed keys are derived from it
// per purpose (HMAC-SM3 as a PRF), so the master key itself never touches a ciphertext.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { hmacSm3 } from '../pki/sm3.js';
import { SM4_BLOCK } from '../pki/sm4.js';
import { KmcError } from './errors.js';

const label = (s: string): Buffer => Buffer.from(`certdesk kmc ${s}`, 'utf8');

export class MasterKey {
  /** `mk-` and 16 hex digits, derived from the key: what escrow rows and the audit log name */
  readonly id: string;
  /** HMAC-SM3 of a fixed label under the key (hex): stored, compared at start */
  readonly checkValue: string;

  private constructor(
    private readonly key: Buffer,
    /** where the key is kept, for operators ('file:<path>') */
    readonly storage: string,
  ) {
    this.id = `mk-${hmacSm3(key, label('master key id')).toString('hex').slice(0, 16)}`;
    this.checkValue = hmacSm3(key, label('check value')).toString('hex');
  }

  static fromBytes(key: Buffer, storage: string): MasterKey {
    if (key.length !== SM4_BLOCK)
      throw new KmcError('master_key', `the KMC master key must be 16 bytes (SM4), got ${key.length}`);
    return new MasterKey(Buffer.from(key), storage);
  }

  /** A key for one purpose (`length` ≤ 32 bytes), derived from the master key. */
  derive(purpose: string, length: number): Buffer {
    return hmacSm3(this.key, label(purpose)).subarray(0, length);
  }

  destroy(): void {
    this.key.fill(0);
  }
}

/** The master key in `file`, or undefined when there is no such file. Refuses a damaged or world-readable one. */
export function readMasterKeyFile(file: string): MasterKey | undefined {
  let text: string;
  try {
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077)
      throw new KmcError(
        'master_key',
        `KMC_MASTER_KEY_FILE ${file} may be read by other users (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 it`,
      );
    text = readFileSync(file, 'utf8').trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (e instanceof KmcError) throw e;
    throw new KmcError('master_key', `KMC_MASTER_KEY_FILE ${file} cannot be read: ${(e as Error).message}`);
  }
  if (!/^[0-9a-fA-F]{32}$/.test(text))
    throw new KmcError(
      'master_key',
      `KMC_MASTER_KEY_FILE ${file} is not a KMC master key (expected 32 hex digits, an SM4 key; found ${text.length} characters)`,
    );
  const bytes = Buffer.from(text, 'hex');
  try {
    return MasterKey.fromBytes(bytes, `file:${file}`);
  } finally {
    bytes.fill(0);
  }
}

/**
 * Creates `file` with a new random key (mode 0600, its directory 0700), synced to disk before the
 * key is used. When another process created it first, that one is read instead.
 */
export function createMasterKeyFile(file: string): MasterKey {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const key = randomBytes(SM4_BLOCK);
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (e) {
    key.fill(0);
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return readMasterKeyFile(file)!;
    throw new KmcError('master_key', `cannot create KMC_MASTER_KEY_FILE ${file}: ${(e as Error).message}`);
  }
  const text = Buffer.from(`${key.toString('hex')}\n`);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
    text.fill(0);
  }
  // The directory entry too: a key used for escrow must survive a power cut.
  const dir = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
  try {
    return MasterKey.fromBytes(key, `file:${file}`);
  } finally {
    key.fill(0);
  }
}
