// SM4 (GB/T 32907) block cipher from node:crypto (OpenSSL): ECB without padding, as the SM2
// envelope (GB/T 35276 §7.4) uses it, and CBC with PKCS#7 padding for general use.
import { createCipheriv, createDecipheriv } from 'node:crypto';

export const SM4_BLOCK = 16;

export class Sm4Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Sm4Error';
  }
}

function checkKey(key: Uint8Array): void {
  if (key.length !== SM4_BLOCK) throw new Sm4Error(`SM4 key must be 16 bytes, got ${key.length}`);
}

function run(
  dir: 'encrypt' | 'decrypt',
  mode: 'sm4-ecb' | 'sm4-cbc',
  key: Uint8Array,
  iv: Uint8Array | null,
  data: Uint8Array,
  pad: boolean,
): Buffer {
  checkKey(key);
  if (iv !== null && iv.length !== SM4_BLOCK) throw new Sm4Error(`SM4-CBC IV must be 16 bytes, got ${iv.length}`);
  if ((!pad || dir === 'decrypt') && data.length % SM4_BLOCK !== 0) {
    throw new Sm4Error(
      `SM4 ${dir === 'encrypt' ? 'plaintext' : 'ciphertext'} must be a multiple of 16 bytes, got ${data.length}`,
    );
  }
  const c = dir === 'encrypt' ? createCipheriv(mode, key, iv) : createDecipheriv(mode, key, iv);
  c.setAutoPadding(pad);
  try {
    return Buffer.concat([c.update(data), c.final()]);
  } catch {
    // Only reachable when removing PKCS#7 padding: the key or the data is wrong.
    throw new Sm4Error('SM4 decryption failed: bad padding (wrong key or damaged data)');
  }
}

/** SM4-ECB without padding: `data` must be whole blocks. */
export const sm4EcbEncrypt = (key: Uint8Array, data: Uint8Array): Buffer => run('encrypt', 'sm4-ecb', key, null, data, false);
export const sm4EcbDecrypt = (key: Uint8Array, data: Uint8Array): Buffer => run('decrypt', 'sm4-ecb', key, null, data, false);

/** SM4-CBC with PKCS#7 padding (what `openssl enc -sm4-cbc` does by default). */
export const sm4CbcEncrypt = (key: Uint8Array, iv: Uint8Array, data: Uint8Array): Buffer =>
  run('encrypt', 'sm4-cbc', key, iv, data, true);
export const sm4CbcDecrypt = (key: Uint8Array, iv: Uint8Array, data: Uint8Array): Buffer =>
  run('decrypt', 'sm4-cbc', key, iv, data, true);
