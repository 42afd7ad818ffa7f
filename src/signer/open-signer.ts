// Opens the signer a stored KeyRef names. Secrets are asked for lazily, so a deployment with only
// software keys needs no PKCS#11 PIN and one with only token keys needs no key passphrase.
import { Pkcs11Signer } from './pkcs11-signer.js';
import type { KeyRef, Signer } from './signer.js';
import { SoftwareSigner } from './software-signer.js';

export interface SignerContext {
  dataDir: string;
  /** CA key passphrase for software keys */
  passphrase: () => string;
  /** user PIN of the PKCS#11 token */
  pkcs11Pin: () => string;
}

export async function openSigner(ref: KeyRef, ctx: SignerContext): Promise<Signer> {
  switch (ref.kind) {
    case 'software':
      return SoftwareSigner.open(ctx.dataDir, ref.file, ctx.passphrase());
    case 'pkcs11':
      return Pkcs11Signer.open(ref, ctx.pkcs11Pin());
  }
}
