// A test-only KeyManagement (src/kmc/kmc-api.ts) for the RA's dual-pair tests until the real KMC
// (h/kmc) is merged: real SM2 keys and real SM2EnvelopedKeys (src/pki/sm2-envelope.ts), kept in
// memory, idempotent per requestId like the real one. Counts calls so tests can see retries.
import { createHash } from 'node:crypto';
import type { EncryptionKeyIssued, KeyManagement } from '../../src/kmc/kmc-api.js';
import { makeSm2EnvelopedKey } from '../../src/pki/sm2-envelope.js';
import { Sm2PrivateKey, Sm2PublicKey } from '../../src/pki/sm2-key.js';

export class TestKeyManagement implements KeyManagement {
  /** the keys made, by requestId */
  readonly keys = new Map<string, { keyId: string; key: Sm2PrivateKey }>();
  issueCalls = 0;
  /** set to make the next issueEncryptionKey fail after the key is stored (a lost reply) */
  failAfterStoring: Error | undefined;

  async issueEncryptionKey(req: { requestId: string; signingSpki: Buffer; actor: string }): Promise<EncryptionKeyIssued> {
    this.issueCalls++;
    let k = this.keys.get(req.requestId);
    if (!k) {
      k = { keyId: `test-kmc-${this.keys.size + 1}`, key: Sm2PrivateKey.generate() };
      this.keys.set(req.requestId, k);
    }
    if (this.failAfterStoring) {
      const e = this.failAfterStoring;
      this.failAfterStoring = undefined;
      throw e;
    }
    return {
      keyId: k.keyId,
      publicSpki: k.key.publicKey.toSpki(),
      envelope: makeSm2EnvelopedKey({ protectionKey: Sm2PublicKey.fromSpki(req.signingSpki), encryptionKey: k.key }),
    };
  }

  async recover(req: { encSpkiSha256: string; signingSpki: Buffer }): Promise<{ keyId: string; envelope: Buffer }> {
    for (const k of this.keys.values()) {
      if (createHash('sha256').update(k.key.publicKey.toSpki()).digest('hex') !== req.encSpkiSha256) continue;
      return {
        keyId: k.keyId,
        envelope: makeSm2EnvelopedKey({ protectionKey: Sm2PublicKey.fromSpki(req.signingSpki), encryptionKey: k.key }),
      };
    }
    throw new Error(`no escrowed key with SPKI SHA-256 ${req.encSpkiSha256}`);
  }
}
