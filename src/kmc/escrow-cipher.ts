// How an escrowed private key is kept: SM4-CBC (random IV, PKCS#7) then HMAC-SM3 over the version,
// the master key id, the row's key id and public key hash, the IV and the ciphertext
// (encrypt-then-MAC). Node 20's OpenSSL has no SM4-GCM, so this is the authenticated construction
// built from what it has; the MAC is checked before anything is decrypted, and binding the row's
// identifiers means a ciphertext moved to another row is refused too.
//   sealed = version (1) ‖ IV (16) ‖ SM4-CBC ciphertext ‖ HMAC-SM3 tag (32)
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { hmacSm3, SM3_SIZE } from '../pki/sm3.js';
import { SM4_BLOCK, sm4CbcDecrypt, sm4CbcEncrypt } from '../pki/sm4.js';
import { KmcError } from './errors.js';
import type { MasterKey } from './master-key.js';

const VERSION = 1;

/** What a sealed key is bound to: a ciphertext opens only for the row it was made for. */
export interface EscrowBinding {
  keyId: string;
  spkiSha256: string;
}

function keys(mk: MasterKey): { enc: Buffer; mac: Buffer } {
  return { enc: mk.derive('escrow sm4-cbc v1', SM4_BLOCK), mac: mk.derive('escrow hmac-sm3 v1', SM3_SIZE) };
}

function lengthPrefixed(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function tag(mac: Buffer, mk: MasterKey, bound: EscrowBinding, head: Buffer, ct: Buffer): Buffer {
  return hmacSm3(
    mac,
    Buffer.from('certdesk-kmc-escrow'),
    lengthPrefixed(mk.id),
    lengthPrefixed(bound.keyId),
    lengthPrefixed(bound.spkiSha256),
    head,
    ct,
  );
}

export function sealPrivateKey(mk: MasterKey, plain: Buffer, bound: EscrowBinding): Buffer {
  const { enc, mac } = keys(mk);
  try {
    const head = Buffer.concat([Buffer.from([VERSION]), randomBytes(SM4_BLOCK)]);
    const ct = sm4CbcEncrypt(enc, head.subarray(1), plain);
    return Buffer.concat([head, ct, tag(mac, mk, bound, head, ct)]);
  } finally {
    enc.fill(0);
    mac.fill(0);
  }
}

export function openPrivateKey(mk: MasterKey, sealed: Buffer, bound: EscrowBinding): Buffer {
  const damaged = (why: string) =>
    new KmcError('escrow_damaged', `escrowed key ${bound.keyId} ${why}: the stored row was altered or damaged`);
  if (sealed.length < 1 + SM4_BLOCK + SM4_BLOCK + SM3_SIZE || sealed[0] !== VERSION)
    throw damaged(`is not in the sealed format (version ${sealed[0]}, ${sealed.length} bytes)`);
  const { enc, mac } = keys(mk);
  try {
    const head = sealed.subarray(0, 1 + SM4_BLOCK);
    const ct = sealed.subarray(head.length, sealed.length - SM3_SIZE);
    const expected = tag(mac, mk, bound, head, ct);
    if (!timingSafeEqual(expected, sealed.subarray(sealed.length - SM3_SIZE)))
      throw damaged('fails its integrity check (HMAC-SM3)');
    return sm4CbcDecrypt(enc, head.subarray(1), ct);
  } finally {
    enc.fill(0);
    mac.fill(0);
  }
}
