// Login challenges: the server issues a small JSON document, the key assistant signs its exact bytes
// with the key of the certificate the holder chose, the server verifies. The assistant checks `type`,
// `origin` (must equal the Origin of the page asking) and the expiry before signing, so it cannot be
// used as a signing oracle by another site or for another purpose.
//
//   {"v":1,"type":"certdesk-login","origin":"https://portal.example","nonce":"…","iat":1700000000,"exp":1700000120}
//
// The signature is the key's X.509 scheme (algorithms.ts signatureAlgorithmFor): ECDSA P-256 with
// SHA-256 (DER ECDSA-Sig-Value), ECDSA P-384 with SHA-384, RSA PKCS#1 v1.5 with SHA-256, SM2 with SM3
// and the default user ID 1234567812345678 (DER { r, s }; sm2.ts).
import { createHash, randomBytes } from 'node:crypto';
import { keyTypeOfSpki, signatureAlgorithmFor, verifyWithAlgId, type KeyType } from './algorithms.js';
import { parseCertificate } from './certificate.js';
import * as der from './der.js';

export const LOGIN_CHALLENGE_TYPE = 'certdesk-login';
/** challenges live at most this long (exp − iat), seconds */
export const MAX_CHALLENGE_LIFETIME_SECONDS = 600;
/** clock skew tolerated between server and holder's PC, seconds */
export const CLOCK_SKEW_SECONDS = 120;

export interface LoginChallenge {
  v: 1;
  type: typeof LOGIN_CHALLENGE_TYPE;
  /** the web origin the challenge is for, e.g. "https://portal.example" (scheme://host[:port]) */
  origin: string;
  /** base64url, at least 16 random bytes */
  nonce: string;
  /** issued at, seconds since the epoch */
  iat: number;
  /** expires at, seconds since the epoch */
  exp: number;
}

export type LoginChallengeErrorCode =
  'challenge_malformed' | 'challenge_wrong_type' | 'challenge_origin_mismatch' | 'challenge_expired' | 'challenge_not_yet_valid';

export class LoginChallengeError extends Error {
  constructor(
    message: string,
    readonly code: LoginChallengeErrorCode,
  ) {
    super(message);
    this.name = 'LoginChallengeError';
  }
}

/** True for a serialized web origin: scheme://host[:port] with nothing after it. */
export function isWebOrigin(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.origin === s;
  } catch {
    return false;
  }
}

/** Builds a fresh challenge (server side). The bytes to hand out are `bytes`; sign and verify those. */
export function buildLoginChallenge(opts: { origin: string; ttlSeconds?: number; now?: Date }): {
  challenge: LoginChallenge;
  /** the exact bytes that are signed: UTF-8 JSON */
  text: string;
} {
  if (!isWebOrigin(opts.origin))
    throw new LoginChallengeError(
      `origin must be scheme://host[:port], got ${JSON.stringify(opts.origin)}`,
      'challenge_malformed',
    );
  const ttl = opts.ttlSeconds ?? 120;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_CHALLENGE_LIFETIME_SECONDS) {
    throw new LoginChallengeError(`ttlSeconds must be 1–${MAX_CHALLENGE_LIFETIME_SECONDS}`, 'challenge_malformed');
  }
  const iat = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  const challenge: LoginChallenge = {
    v: 1,
    type: LOGIN_CHALLENGE_TYPE,
    origin: opts.origin,
    nonce: randomBytes(24).toString('base64url'),
    iat,
    exp: iat + ttl,
  };
  return { challenge, text: JSON.stringify(challenge) };
}

/** Parses challenge text and checks its shape (not its origin or time: see checkLoginChallenge). */
export function parseLoginChallenge(text: string): LoginChallenge {
  if (text.length > 2048) throw new LoginChallengeError('challenge is longer than 2048 characters', 'challenge_malformed');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new LoginChallengeError('challenge is not JSON', 'challenge_malformed');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new LoginChallengeError('challenge must be a JSON object', 'challenge_malformed');
  const o = v as Record<string, unknown>;
  if (o.type !== LOGIN_CHALLENGE_TYPE) {
    throw new LoginChallengeError(
      `challenge type must be "${LOGIN_CHALLENGE_TYPE}", got ${JSON.stringify(o.type)}`,
      'challenge_wrong_type',
    );
  }
  if (o.v !== 1) throw new LoginChallengeError(`challenge version must be 1, got ${JSON.stringify(o.v)}`, 'challenge_malformed');
  if (typeof o.origin !== 'string' || !isWebOrigin(o.origin)) {
    throw new LoginChallengeError('challenge origin must be a web origin (scheme://host[:port])', 'challenge_malformed');
  }
  if (typeof o.nonce !== 'string' || !/^[A-Za-z0-9_-]{22,}$/.test(o.nonce)) {
    throw new LoginChallengeError('challenge nonce must be base64url of at least 16 bytes', 'challenge_malformed');
  }
  for (const k of ['iat', 'exp'] as const) {
    if (typeof o[k] !== 'number' || !Number.isInteger(o[k]))
      throw new LoginChallengeError(`challenge ${k} must be whole seconds`, 'challenge_malformed');
  }
  const iat = o.iat as number;
  const exp = o.exp as number;
  if (exp <= iat || exp - iat > MAX_CHALLENGE_LIFETIME_SECONDS) {
    throw new LoginChallengeError(
      `challenge lifetime must be 1–${MAX_CHALLENGE_LIFETIME_SECONDS} seconds`,
      'challenge_malformed',
    );
  }
  return { v: 1, type: LOGIN_CHALLENGE_TYPE, origin: o.origin, nonce: o.nonce, iat, exp };
}

/**
 * What the key assistant checks before signing: the right type, the origin of the page asking, and
 * the time window. Returns the parsed challenge or throws LoginChallengeError.
 */
export function checkLoginChallenge(text: string, opts: { origin: string; now?: Date }): LoginChallenge {
  const c = parseLoginChallenge(text);
  if (c.origin !== opts.origin) {
    throw new LoginChallengeError(
      `challenge is for ${c.origin} but was presented by ${opts.origin}; refusing to sign for another site`,
      'challenge_origin_mismatch',
    );
  }
  const now = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  if (now > c.exp + CLOCK_SKEW_SECONDS)
    throw new LoginChallengeError('challenge has expired; ask the server for a new one', 'challenge_expired');
  if (now < c.iat - CLOCK_SKEW_SECONDS)
    throw new LoginChallengeError('challenge is not valid yet (check the clock)', 'challenge_not_yet_valid');
  return c;
}

/** The signature algorithm a login signature by this key type uses (the X.509 one, see header). */
export function loginSignatureAlgorithm(keyType: KeyType): { oid: string; digest: string; name: string } {
  const a = signatureAlgorithmFor(keyType);
  const name =
    keyType === 'sm2'
      ? 'SM2-with-SM3'
      : keyType.startsWith('ec-')
        ? `ecdsa-with-${a.digest.toUpperCase()}`
        : 'sha256WithRSAEncryption';
  return { oid: a.oid, digest: a.digest, name };
}

/**
 * Server side: true when `signature` over `challengeText` (exact bytes as issued) verifies with the
 * public key of the DER certificate. Does not check the challenge itself (nonce, expiry, origin) nor
 * the certificate's validity or status: the caller does, with its own records.
 */
export function verifyLoginSignature(challengeText: string | Buffer, signature: Buffer, certDer: Buffer): boolean {
  const cert = parseCertificate(certDer);
  const { keyType, key } = keyTypeOfSpki(cert.spki);
  const alg = signatureAlgorithmFor(keyType);
  const data = typeof challengeText === 'string' ? Buffer.from(challengeText, 'utf8') : challengeText;
  return verifyWithAlgId(der.parse(alg.algId), key, data, signature);
}

/** SHA-256 of the challenge bytes, hex: a short handle for logs (never log the signature). */
export const challengeDigest = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
