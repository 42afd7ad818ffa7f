// SM2EnvelopedKey (GB/T 35276-2017 §7.4, GM/T 0009): how a KMC hands an encryption key pair to the
// holder's key. A fresh SM4 key, SM2-encrypted to the holder's *signing* public key, encrypts the
// encryption private key d (32 bytes, SM4-ECB, no padding — emmansun/gmsm's choice; the standard
// is silent on padding, so opening also takes a PKCS#7-padded 48-byte or a left-zero-padded
// 64-byte form).
//   SM2EnvelopedKey ::= SEQUENCE { symAlgID AlgorithmIdentifier, symEncryptedKey SM2Cipher,
//                                  sm2PublicKey BIT STRING (04 ‖ x ‖ y), sm2EncryptedPrivateKey BIT STRING }
import { randomBytes } from 'node:crypto';
import * as der from './der.js';
import { OID } from './oids.js';
import { SIZE, SM2_CURVE, Sm2Error, toBytes32 } from './sm2-curve.js';
import { decryptParts, encodeSm2Cipher, sm2CipherFromNode, sm2EncryptParts } from './sm2-encrypt.js';
import { Sm2PrivateKey, Sm2PublicKey } from './sm2-key.js';
import { SM4_BLOCK, sm4EcbDecrypt, sm4EcbEncrypt } from './sm4.js';

const SYM_ALG_ID = der.seq(der.oid(OID.sm4Ecb), der.nullValue());

export class EnvelopeError extends Sm2Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

/** Envelopes `encryptionKey` to `protectionKey` (the holder's signing public key). */
export function makeSm2EnvelopedKey(opts: { protectionKey: Sm2PublicKey; encryptionKey: Sm2PrivateKey }): Buffer {
  const symKey = randomBytes(SM4_BLOCK);
  const d = toBytes32(opts.encryptionKey.d);
  try {
    return der.seq(
      SYM_ALG_ID,
      encodeSm2Cipher(sm2EncryptParts(opts.protectionKey, symKey)),
      der.bitString(opts.encryptionKey.publicKey.bytes),
      der.bitString(sm4EcbEncrypt(symKey, d)),
    );
  } finally {
    symKey.fill(0);
    d.fill(0);
  }
}

export interface OpenedEnvelope {
  /** the encryption key pair; its public key equals the envelope's sm2PublicKey */
  encryptionKey: Sm2PrivateKey;
  /** symAlgID as written (SM4 1.2.156.10197.1.104 or SM4-ECB …104.1) */
  symAlgorithm: string;
}

/** The 32-byte d out of the decrypted sm2EncryptedPrivateKey, in the layouts implementations use. */
function privateScalar(plain: Buffer): Buffer {
  if (plain.length === SIZE) return plain;
  const pad = plain.length === SIZE + SM4_BLOCK && plain.subarray(SIZE).every((b) => b === SM4_BLOCK);
  if (pad) return plain.subarray(0, SIZE);
  if (plain.length === 2 * SIZE && plain.subarray(0, SIZE).every((b) => b === 0)) return plain.subarray(SIZE);
  throw new EnvelopeError(`SM2EnvelopedKey.sm2EncryptedPrivateKey: ${plain.length} bytes after decryption, expected 32`);
}

/**
 * Opens an envelope with the holder's signing private key. Refuses, before returning anything, an
 * envelope made for another signing key, and one whose private key does not match its public key.
 */
export function openSm2EnvelopedKey(envelope: Buffer, protectionKey: Sm2PrivateKey): OpenedEnvelope {
  let fields: der.Node[];
  try {
    fields = der.children(der.expect(der.parse(envelope), der.Tag.SEQUENCE, 'SM2EnvelopedKey'));
  } catch (e) {
    throw new EnvelopeError(`SM2EnvelopedKey is not valid DER: ${(e as Error).message}`);
  }
  const [alg, cipher, pub, encPriv, extra] = fields;
  if (extra) throw new EnvelopeError('SM2EnvelopedKey: more than four fields');
  const [algOid, params] = der.children(der.expect(alg, der.Tag.SEQUENCE, 'SM2EnvelopedKey.symAlgID'));
  const symAlgorithm = der.decodeOid(der.expect(algOid, der.Tag.OID, 'SM2EnvelopedKey.symAlgID.algorithm'));
  if (symAlgorithm !== OID.sm4 && symAlgorithm !== OID.sm4Ecb) {
    throw new EnvelopeError(`SM2EnvelopedKey.symAlgID is ${symAlgorithm}, not SM4-ECB (${OID.sm4Ecb})`);
  }
  if (params && params.tag !== der.Tag.NULL)
    throw new EnvelopeError('SM2EnvelopedKey.symAlgID.parameters must be absent or NULL');
  const publicKey = Sm2PublicKey.fromPoint(
    der.decodeBitString(der.expect(pub, der.Tag.BIT_STRING, 'SM2EnvelopedKey.sm2PublicKey')),
    'SM2EnvelopedKey.sm2PublicKey',
  );
  const encrypted = der.decodeBitString(der.expect(encPriv, der.Tag.BIT_STRING, 'SM2EnvelopedKey.sm2EncryptedPrivateKey'));
  const parts = sm2CipherFromNode(
    der.expect(cipher, der.Tag.SEQUENCE, 'SM2EnvelopedKey.symEncryptedKey'),
    'SM2EnvelopedKey.symEncryptedKey',
  );
  let symKey: Buffer;
  try {
    symKey = decryptParts(SM2_CURVE, protectionKey.d, parts);
  } catch {
    throw new EnvelopeError(
      'SM2EnvelopedKey is not for this signing key: its symmetric key does not decrypt with it (made for another signing certificate?)',
    );
  }
  if (symKey.length !== SM4_BLOCK)
    throw new EnvelopeError(`SM2EnvelopedKey.symEncryptedKey: SM4 key of ${symKey.length} bytes, expected 16`);
  const plain = sm4EcbDecrypt(symKey, encrypted);
  symKey.fill(0);
  let encryptionKey: Sm2PrivateKey;
  try {
    encryptionKey = Sm2PrivateKey.fromScalar(privateScalar(plain));
  } finally {
    plain.fill(0);
  }
  if (!encryptionKey.publicKey.equals(publicKey)) {
    throw new EnvelopeError('SM2EnvelopedKey: the decrypted private key does not match sm2PublicKey');
  }
  return { encryptionKey, symAlgorithm };
}
