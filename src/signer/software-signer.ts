// Software keys: PKCS#8 encrypted at rest (AES-256-CBC under PBKDF2, as `openssl pkcs8 -topk8`
// writes) with the CA key passphrase from configuration.
import { createPrivateKey, createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generateKeyPair, keyTypeOf, signatureAlgorithmFor, spkiOf, type KeyType } from '../pki/algorithms.js';
import { Sm2PrivateKey, sm2Sign, sm2SignSync } from '../pki/sm2.js';
import { SignerError, type KeyRef, type Signer } from './signer.js';

export class SoftwareSigner implements Signer {
  readonly keyType: KeyType;
  readonly spki: Buffer;
  readonly algorithm;
  private readonly opts: { dsaEncoding?: 'der' };
  /** SM2 keys sign through sm2.ts (default user ID); node:crypto alone would use the empty ID */
  private readonly sm2: Sm2PrivateKey | undefined;
  /**
   * SM2: a signature (~0.5 ms, a scalar multiplication) dwarfs a thread-pool round trip, so the
   * issuance path signs concurrently on the pool (every core) rather than batched on the event loop.
   */
  readonly poolFirst: boolean;

  constructor(
    private readonly key: KeyObject,
    readonly ref: KeyRef,
  ) {
    this.keyType = keyTypeOf(key);
    this.spki = spkiOf(createPublicKey(key));
    this.algorithm = signatureAlgorithmFor(this.keyType);
    this.opts = this.keyType.startsWith('ec-') ? { dsaEncoding: 'der' } : {};
    this.sm2 = this.keyType === 'sm2' ? Sm2PrivateKey.fromPkcs8(key.export({ format: 'der', type: 'pkcs8' })) : undefined;
    this.poolFirst = this.sm2 !== undefined;
  }

  /** Signs on libuv's thread pool, so the event loop goes on serving requests meanwhile. */
  sign(data: Buffer): Promise<Buffer> {
    if (this.sm2) return sm2Sign(this.sm2, data);
    return new Promise((resolve, reject) =>
      cryptoSign(this.algorithm.digest, data, { key: this.key, ...this.opts }, (err, sig) => (err ? reject(err) : resolve(sig))),
    );
  }

  /** Synchronous signing, for callers that batch many signatures in one tick. */
  signSync(data: Buffer): Buffer {
    if (this.sm2) return sm2SignSync(this.sm2, data);
    return cryptoSign(this.algorithm.digest, data, { key: this.key, ...this.opts });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Generates a key and writes it encrypted to `dataDir/file`. */
  static async generate(dataDir: string, file: string, keyType: KeyType, passphrase: string): Promise<SoftwareSigner> {
    const privateKey = keyType === 'sm2' ? Sm2PrivateKey.generate().nativeKey() : generateKeyPair(keyType).privateKey;
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase });
    const full = path.join(dataDir, file);
    await mkdir(path.dirname(full), { recursive: true, mode: 0o700 });
    await writeFile(full, pem, { mode: 0o600, flag: 'wx' });
    return new SoftwareSigner(privateKey, { kind: 'software', file });
  }

  static async open(dataDir: string, file: string, passphrase: string): Promise<SoftwareSigner> {
    const full = path.join(dataDir, file);
    let pem: Buffer;
    try {
      pem = await readFile(full);
    } catch (e) {
      throw new SignerError(`cannot read CA key ${full}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    try {
      return new SoftwareSigner(createPrivateKey({ key: pem, format: 'pem', passphrase }), { kind: 'software', file });
    } catch {
      throw new SignerError(`cannot decrypt CA key ${full}: wrong CA key passphrase (CA_KEY_PASSPHRASE) or damaged file`);
    }
  }
}
