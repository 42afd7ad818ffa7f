// What the RA may ask of the key management centre (KMC). The KMC makes the SM2 encryption key of
// a dual certificate pair, escrows its private key under the KMC's own master key, and lets it
// leave only inside an SM2EnvelopedKey (GB/T 35276 §7.4) to a holder's signing public key. In
// consolidated mode this is a function call; nothing else in the RA touches KMC storage, so the
// KMC can move out of process behind this interface.

export interface EncryptionKeyIssued {
  /** the KMC's id of the escrowed key */
  keyId: string;
  /** SubjectPublicKeyInfo (DER) of the SM2 encryption key, for the CA to certify */
  publicSpki: Buffer;
  /** DER SM2EnvelopedKey carrying the private key, encrypted to `signingSpki` */
  envelope: Buffer;
}

export interface KeyManagement {
  /**
   * A new escrowed SM2 encryption key pair for `requestId` (an order id), delivered in an envelope
   * to `signingSpki` (the holder's new SM2 signing key, from the CSR). Idempotent per requestId:
   * asking again returns the same key (keyId, publicSpki), in an envelope to the same signing key.
   */
  issueEncryptionKey(req: { requestId: string; signingSpki: Buffer; actor: string }): Promise<EncryptionKeyIssued>;
  /**
   * The escrowed private key whose public key has SHA-256(SPKI DER) = `encSpkiSha256` (hex, as
   * certificates.spki_sha256), in a new envelope to `signingSpki`. Audited with actor and reason.
   */
  recover(req: {
    encSpkiSha256: string;
    signingSpki: Buffer;
    actor: string;
    reason: string;
  }): Promise<{ keyId: string; envelope: Buffer }>;
}
