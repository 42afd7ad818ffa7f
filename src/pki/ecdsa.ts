// ECDSA signature encodings: PKCS#11 and WebCrypto return raw r||s, X.509 wants DER ECDSA-Sig-Value.
import * as der from './der.js';

export function rawToDer(raw: Uint8Array): Buffer {
  if (raw.length % 2 !== 0) throw new der.DerError('raw ECDSA signature has odd length');
  const half = raw.length / 2;
  return der.seq(der.intFromUnsigned(raw.subarray(0, half)), der.intFromUnsigned(raw.subarray(half)));
}

export function derToRaw(sig: Buffer, size: number): Buffer {
  const [r, s] = der.children(der.parse(sig));
  const out = Buffer.alloc(size * 2);
  const put = (n: der.Node, at: number): void => {
    let b = der.content(n);
    while (b.length > size && b[0] === 0) b = b.subarray(1);
    b.copy(out, at + size - b.length);
  };
  put(r!, 0);
  put(s!, size);
  return out;
}
