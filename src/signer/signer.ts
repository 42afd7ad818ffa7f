// The Signer: the only way CA code reaches a private key. Implementations keep the key in software
// (encrypted PKCS#8 under DATA_DIR) or on a PKCS#11 token (HSM); callers cannot tell the difference.
import type { KeyType, SignatureAlgorithm } from '../pki/algorithms.js';

/** Where a key lives; stored as JSON with the CA record so any process can reopen it. */
export type KeyRef =
  | { kind: 'software'; /** path relative to DATA_DIR */ file: string }
  | {
      kind: 'pkcs11';
      module: string;
      /** token label */
      token: string;
      /** CKA_ID of the key pair, hex */
      id: string;
      /** CKA_LABEL of the key pair */
      label: string;
    };

export interface Signer {
  readonly keyType: KeyType;
  /** DER SubjectPublicKeyInfo of the key */
  readonly spki: Buffer;
  /** the X.509 signature algorithm this signer produces */
  readonly algorithm: SignatureAlgorithm;
  readonly ref: KeyRef;
  /** Signs `data` and returns the signature as X.509 carries it (DER ECDSA-Sig-Value, PKCS#1 v1.5 RSA). */
  sign(data: Buffer): Promise<Buffer>;
  /** Releases sessions/handles (PKCS#11); a no-op for software keys. */
  close(): Promise<void>;
}

export class SignerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SignerError';
  }
}
