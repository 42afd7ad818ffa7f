// Assembling and signing certificates. The parts of a TBSCertificate that are the same for every
// certificate of one profile under one issuer (version, algorithm, issuer name, most extensions) are
// encoded once into a template; per certificate we only encode serial, validity, subject, key and SKI,
// and write the whole TBSCertificate into one buffer (the issuance hot path: no generic ASN.1 objects).
import { hash, randomBytes } from 'node:crypto';
import * as der from '../pki/der.js';
import { subjectPublicKeyBits } from '../pki/algorithms.js';
import type { Signer } from '../signer/signer.js';
import * as ext from './extensions.js';

const VERSION_3 = der.explicit(0, der.int(2));

// CSPRNG output is drawn in blocks: one randomBytes call per 4 KiB instead of one per certificate.
// Every byte is handed out once.
const POOL_SIZE = 4096;
let pool = Buffer.alloc(0);
let poolOffset = 0;
function randomPart(n: number): Buffer {
  if (poolOffset + n > pool.length) {
    pool = randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  const out = pool.subarray(poolOffset, poolOffset + n);
  poolOffset += n;
  return out;
}

const SERIAL_BYTES = 16;
const SERIAL_TIME_BYTES = 6;

/**
 * A positive 16-octet serial: the issuance time in milliseconds (48 bits, big-endian) followed by
 * 80 bits from the CSPRNG. The random part keeps serials unguessable (CA/B Forum BR §7.1 asks for
 * at least 64 bits of CSPRNG output); the time prefix makes serials ascend, so recording a
 * certificate appends to the serial index instead of dirtying a random page of it per certificate
 * (which made the random-key B-tree the cost of a durable commit).
 */
export function randomSerial(now = Date.now()): Buffer {
  const b = Buffer.allocUnsafe(SERIAL_BYTES);
  b.writeUIntBE(Math.max(0, Math.floor(now)) % 2 ** 48, 0, SERIAL_TIME_BYTES);
  randomPart(SERIAL_BYTES - SERIAL_TIME_BYTES).copy(b, SERIAL_TIME_BYTES);
  b[0]! &= 0x7f;
  if (b[0] === 0) b[0] = 0x01; // keep the full 16 octets so every serial has the same length
  return b;
}

export interface TbsTemplate {
  /** signature AlgorithmIdentifier (fixed by the issuer key) */
  readonly algId: Buffer;
  readonly issuerName: Buffer;
  /** encoded extensions shared by every certificate from this template */
  readonly fixedExtensions: Buffer;
  /** algId ‖ issuerName: adjacent in every TBSCertificate, so copied as one piece */
  readonly algIdAndIssuer: Buffer;
}

export function makeTemplate(issuer: { signer: Signer; subjectDer: Buffer }, fixedExtensions: Buffer[]): TbsTemplate {
  const algId = issuer.signer.algorithm.algId;
  return {
    algId,
    issuerName: issuer.subjectDer,
    fixedExtensions: Buffer.concat(fixedExtensions),
    algIdAndIssuer: Buffer.concat([algId, issuer.subjectDer]),
  };
}

export interface TbsVariables {
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
  subjectDer: Buffer;
  spki: Buffer;
  /** per-certificate extensions besides SKI (e.g. 唯一识别号) */
  extraExtensions?: Buffer[];
}

// Validity times repeat from one certificate to the next (whole seconds): keep the last few encodings.
const timeCache = new Map<number, Buffer>();
function encodedTime(d: Date): Buffer {
  const ms = d.getTime();
  let t = timeCache.get(ms);
  if (!t) {
    if (timeCache.size >= 64) timeCache.clear();
    t = der.time(d);
    timeCache.set(ms, t);
  }
  return t;
}

/** SubjectKeyIdentifier extension up to its 20-byte key identifier, taken from the generic encoder. */
const SKI_PREFIX = ext.subjectKeyIdentifier(Buffer.alloc(20)).subarray(0, -20);

/** Copies `b` into `out` at `off`; returns the offset after it. */
function put(out: Buffer, off: number, b: Uint8Array): number {
  out.set(b, off);
  return off + b.length;
}

/** The subjectPublicKey bits of a DER SubjectPublicKeyInfo (what SKI is computed over). */
function publicKeyBits(spki: Buffer): Buffer {
  const seq = der.readNode(spki, 0);
  const alg = der.readNode(spki, seq.contentStart, seq.end);
  const bits = der.readNode(spki, alg.end, seq.end);
  if (seq.tag !== der.Tag.SEQUENCE || bits.tag !== der.Tag.BIT_STRING || bits.end === bits.contentStart)
    return subjectPublicKeyBits(spki); // not the usual shape: let the strict parser report it
  return spki.subarray(bits.contentStart + 1, bits.end);
}

/**
 * TBSCertificate ::= SEQUENCE { [0] version, serialNumber, signature, issuer, validity, subject,
 * subjectPublicKeyInfo, [3] extensions } — SKI (RFC 5280 method 1) follows the template's extensions.
 */
export function buildTbs(t: TbsTemplate, v: TbsVariables): Buffer {
  const serial = der.intFromUnsigned(v.serial);
  const notBefore = encodedTime(v.notBefore);
  const notAfter = encodedTime(v.notAfter);
  // RFC 5280 §4.2.1.2 method 1, as keyIdentifier() computes it (one-shot hash: no Hash object).
  const ski = hash('sha1', publicKeyBits(v.spki), 'buffer');
  const extras = v.extraExtensions;

  let extsLen = t.fixedExtensions.length + SKI_PREFIX.length + ski.length;
  if (extras) for (const e of extras) extsLen += e.length;
  const extsSeqLen = der.headerLength(extsLen) + extsLen;
  const validityLen = notBefore.length + notAfter.length;
  const len =
    VERSION_3.length +
    serial.length +
    t.algIdAndIssuer.length +
    der.headerLength(validityLen) +
    validityLen +
    v.subjectDer.length +
    v.spki.length +
    der.headerLength(extsSeqLen) +
    extsSeqLen;

  const out = Buffer.allocUnsafe(der.headerLength(len) + len);
  let off = der.writeHeader(out, 0, der.Tag.SEQUENCE, len);
  off = put(out, off, VERSION_3);
  off = put(out, off, serial);
  off = put(out, off, t.algIdAndIssuer);
  off = der.writeHeader(out, off, der.Tag.SEQUENCE, validityLen);
  off = put(out, off, notBefore);
  off = put(out, off, notAfter);
  off = put(out, off, v.subjectDer);
  off = put(out, off, v.spki);
  off = der.writeHeader(out, off, 0xa3, extsSeqLen);
  off = der.writeHeader(out, off, der.Tag.SEQUENCE, extsLen);
  off = put(out, off, t.fixedExtensions);
  off = put(out, off, SKI_PREFIX);
  off = put(out, off, ski);
  if (extras) for (const e of extras) off = put(out, off, e);
  if (off !== out.length) throw new der.DerError(`TBSCertificate length mismatch (${off} ≠ ${out.length})`);
  return out;
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } — also CertificateList. */
export function assemble(tbs: Buffer, algId: Buffer, signature: Uint8Array): Buffer {
  const bitsLen = 1 + signature.length;
  const len = tbs.length + algId.length + der.headerLength(bitsLen) + bitsLen;
  const out = Buffer.allocUnsafe(der.headerLength(len) + len);
  let off = der.writeHeader(out, 0, der.Tag.SEQUENCE, len);
  out.set(tbs, off);
  off += tbs.length;
  out.set(algId, off);
  off += algId.length;
  off = der.writeHeader(out, off, der.Tag.BIT_STRING, bitsLen);
  out[off++] = 0; // no unused bits
  out.set(signature, off);
  return out;
}

/** A signer that can also sign without a round trip through the event loop (software keys). */
interface SyncSigner extends Signer {
  signSync(data: Buffer): Buffer;
  /** one signature costs far more than a thread-pool round trip: sign concurrently on the pool instead */
  readonly poolFirst?: boolean;
}
export const canSignSync = (s: Signer): s is SyncSigner => typeof (s as Partial<SyncSigner>).signSync === 'function';

/** Signs a TBSCertificate into a certificate (CA certificates; the issuance hot path uses SignatureBatcher). */
export async function signTbs(signer: Signer, tbs: Buffer): Promise<Buffer> {
  return assemble(tbs, signer.algorithm.algId, await signer.sign(tbs));
}

/**
 * Signs for many concurrent callers back to back. A signature made between other work costs about
 * half as much again as one made right after another (the signing code and its tables are no longer
 * in the CPU caches), so the data of every caller of the same turn (microtask burst) is signed in
 * one tight loop. Signers without synchronous signing (PKCS#11) sign each request as it comes, and
 * so do those whose signatures are slow enough (SM2) that libuv's pool, on every core, wins.
 */
export class SignatureBatcher {
  private queue: { data: Buffer; resolve: (sig: Uint8Array) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  constructor(private readonly signer: Signer) {}

  sign(data: Buffer): Promise<Uint8Array> {
    if (!canSignSync(this.signer) || this.signer.poolFirst) return this.signer.sign(data);
    return new Promise((resolve, reject) => {
      this.queue.push({ data, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => this.flush());
      }
    });
  }

  private flush(): void {
    const q = this.queue;
    this.queue = [];
    this.scheduled = false;
    const signer = this.signer as SyncSigner;
    const sigs: (Uint8Array | undefined)[] = new Array(q.length);
    const errors: unknown[] = new Array(q.length);
    for (let i = 0; i < q.length; i++) {
      try {
        sigs[i] = signer.signSync(q[i]!.data);
      } catch (e) {
        errors[i] = e ?? new Error('signing failed');
      }
    }
    for (let i = 0; i < q.length; i++) {
      const s = sigs[i];
      if (s) q[i]!.resolve(s);
      else q[i]!.reject(errors[i]);
    }
  }
}

/** Whole-second times: DER times carry seconds, and the database should match the certificate. */
export const wholeSeconds = (ms: number): Date => new Date(Math.floor(ms / 1000) * 1000);
