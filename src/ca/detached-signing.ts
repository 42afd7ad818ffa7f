// The CA's detached signatures (CMS, pki/detached-signature.ts) on what it hands out: the key
// assistant's downloads in the 下载中心 and its signed configuration. Made with the active issuing
// CA's key, so the holder's side checks them against the CA root it already trusts.
import { buildDetachedSignature } from '../pki/detached-signature.js';
import type { LoadedCa } from './authority.js';

export async function signDetached(issuing: LoadedCa, content: Buffer): Promise<Buffer> {
  return buildDetachedSignature(issuing.cert.der, issuing.signer.algorithm, await issuing.signer.sign(content));
}
