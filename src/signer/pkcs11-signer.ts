// CA keys on a PKCS#11 token (HSM). The private key is generated on the token and never leaves it;
// the signer holds one logged-in session and signs through it.
import { randomBytes, verify } from 'node:crypto';
import { keyTypeOfSpki, signatureAlgorithmFor, type KeyType, type SignatureAlgorithm } from '../pki/algorithms.js';
import { findKeyPair, generateKeyPair, type TokenKeyPair } from '../pkcs11/keys.js';
import { openTokenSession, type TokenSession } from '../pkcs11/module.js';
import { Pkcs11Error } from '../pkcs11/errors.js';
import { SignerError, type KeyRef, type Signer } from './signer.js';

export type Pkcs11KeyRef = Extract<KeyRef, { kind: 'pkcs11' }>;

export class Pkcs11Signer implements Signer {
  readonly keyType: KeyType;
  readonly spki: Buffer;
  readonly algorithm: SignatureAlgorithm;

  private constructor(
    private readonly session: TokenSession,
    private readonly key: TokenKeyPair,
    readonly ref: Pkcs11KeyRef,
  ) {
    this.keyType = key.keyType;
    this.spki = key.spki;
    this.algorithm = signatureAlgorithmFor(key.keyType);
  }

  /** Signs on the token; returns a DER ECDSA-Sig-Value or a PKCS#1 v1.5 RSA signature. */
  sign(data: Buffer): Promise<Buffer> {
    return this.key.sign(data);
  }

  /** Logs out (unless another signer of this process still uses the token) and closes the session. */
  close(): Promise<void> {
    return this.session.close();
  }

  /**
   * Generates a key pair on the token and returns a signer for it. `id` (hex CKA_ID) is random when
   * omitted; an id or label already on the token is refused.
   */
  static async generate(opts: {
    module: string;
    token: string;
    pin: string;
    label: string;
    keyType: KeyType;
    id?: string;
  }): Promise<Pkcs11Signer> {
    return Pkcs11Signer.withSession(opts, opts.pin, async (session) => {
      const key = await generateKeyPair(session, { keyType: opts.keyType, label: opts.label, id: opts.id });
      const ref: Pkcs11KeyRef = { kind: 'pkcs11', module: opts.module, token: opts.token, id: key.id, label: key.label };
      return new Pkcs11Signer(session, key, ref);
    });
  }

  /**
   * Opens the key a stored KeyRef names. The key is found by its CKA_ID (labels may be changed by
   * operators); the returned signer's ref is the one given.
   */
  static async open(ref: Pkcs11KeyRef, pin: string): Promise<Pkcs11Signer> {
    return Pkcs11Signer.withSession(ref, pin, async (session) => {
      const key = await findKeyPair(session, { id: ref.id });
      return new Pkcs11Signer(session, key, ref);
    });
  }

  /**
   * Opens and logs in a session, builds the signer and proves it with one signature: a public key
   * object that does not belong to the private key would otherwise only show up as certificates
   * that fail to verify.
   */
  private static async withSession(
    where: { module: string; token: string },
    pin: string,
    build: (session: TokenSession) => Promise<Pkcs11Signer>,
  ): Promise<Pkcs11Signer> {
    let session: TokenSession;
    try {
      session = await openTokenSession({ module: where.module, token: where.token, pin });
    } catch (e) {
      throw normalizeError(e);
    }
    try {
      const signer = await build(session);
      await signer.selfTest();
      return signer;
    } catch (e) {
      await session.close();
      throw normalizeError(e);
    }
  }

  private async selfTest(): Promise<void> {
    const probe = randomBytes(32);
    const sig = await this.sign(probe);
    const { key } = keyTypeOfSpki(this.spki);
    if (!verify(this.algorithm.digest, probe, key, sig)) {
      throw new SignerError(
        `PKCS#11 key "${this.ref.label}" (id ${this.ref.id}) on token "${this.ref.token}": a test signature does not verify with the public key on the token`,
      );
    }
  }
}

/**
 * Keeps the Pkcs11Error (callers branch on `code`, e.g. PIN_INCORRECT) — it is what the CA reports;
 * anything else becomes a SignerError.
 */
function normalizeError(e: unknown): Error {
  if (e instanceof Pkcs11Error || e instanceof SignerError) return e;
  return new SignerError(`PKCS#11 signer: ${(e as Error).message}`);
}
