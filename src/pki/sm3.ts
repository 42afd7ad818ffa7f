// SM3 (GB/T 32905) and HMAC-SM3 from node:crypto (OpenSSL), and the SM3 key derivation function of SM2
// encryption (GM/T 0003.4 §5.4.3).
import { createHash, createHmac } from 'node:crypto';

export const SM3_SIZE = 32;

export function sm3(...parts: Uint8Array[]): Buffer {
  const h = createHash('sm3');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** HMAC-SM3 (RFC 2104 with SM3; GM/T 0042 uses it as the SM3 MAC). */
export function hmacSm3(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac('sm3', key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** KDF(Z, klen): SM3(Z ‖ ct) for ct = 1, 2, … (32-bit big-endian), truncated to `length` bytes. */
export function sm3Kdf(z: Uint8Array, length: number): Buffer {
  const out = Buffer.allocUnsafe(Math.ceil(length / SM3_SIZE) * SM3_SIZE);
  const ct = Buffer.alloc(4);
  for (let i = 0, off = 0; off < length; i++, off += SM3_SIZE) {
    ct.writeUInt32BE(i + 1);
    createHash('sm3').update(z).update(ct).digest().copy(out, off);
  }
  return out.subarray(0, length);
}
