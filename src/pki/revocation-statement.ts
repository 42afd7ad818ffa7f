// Revocation statements: the holder's signed "revoke this certificate for this reason", kept as
// evidence. Same shape and signature scheme as the login challenge (login-challenge.ts): the server
// builds a small JSON document naming the serial, the reason and a one-time nonce, the key assistant
// shows it in its PIN window and signs its exact bytes with the key of that certificate, the server
// verifies against the certificate being revoked. The assistant imports this module (src/pki only).
//
//   {"v":1,"type":"certdesk-revocation","origin":"https://portal.example","serial":"1a2b…",
//    "reason":"keyCompromise","nonce":"…","iat":1700000000,"exp":1700000300}
import { isWebOrigin, MAX_CHALLENGE_LIFETIME_SECONDS, CLOCK_SKEW_SECONDS, verifyLoginSignature } from './login-challenge.js';
import { randomBytes } from 'node:crypto';
import { HOLDER_REVOCATION_REASONS, isHolderRevocationReason, type HolderRevocationReason } from '../shared/holder-revocation.js';

export { HOLDER_REVOCATION_REASONS, isHolderRevocationReason, type HolderRevocationReason };

export const REVOCATION_STATEMENT_TYPE = 'certdesk-revocation';

export interface RevocationStatement {
  v: 1;
  type: typeof REVOCATION_STATEMENT_TYPE;
  origin: string;
  /** lowercase hex serial of the certificate to revoke (the signing one of a dual pair) */
  serial: string;
  reason: HolderRevocationReason;
  /** base64url, 24 random bytes, one use */
  nonce: string;
  iat: number;
  exp: number;
}

export class RevocationStatementError extends Error {
  constructor(
    message: string,
    readonly field = 'statement',
  ) {
    super(message);
    this.name = 'RevocationStatementError';
  }
}

export function buildRevocationStatement(opts: {
  origin: string;
  serial: string;
  reason: string;
  ttlSeconds?: number;
  now?: Date;
}): { statement: RevocationStatement; text: string } {
  if (!isWebOrigin(opts.origin)) throw new RevocationStatementError('origin must be scheme://host[:port]', 'origin');
  if (!/^[0-9a-f]{1,40}$/.test(opts.serial)) throw new RevocationStatementError('serial must be lowercase hexadecimal', 'serial');
  if (!isHolderRevocationReason(opts.reason)) {
    throw new RevocationStatementError(`reason must be one of ${HOLDER_REVOCATION_REASONS.join(', ')}`, 'reason');
  }
  const ttl = opts.ttlSeconds ?? 300;
  const iat = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  const statement: RevocationStatement = {
    v: 1,
    type: REVOCATION_STATEMENT_TYPE,
    origin: opts.origin,
    serial: opts.serial,
    reason: opts.reason,
    nonce: randomBytes(24).toString('base64url'),
    iat,
    exp: iat + ttl,
  };
  return { statement, text: JSON.stringify(statement) };
}

/** Parses statement text and checks its shape (not origin or time: checkRevocationStatement). */
export function parseRevocationStatement(text: string): RevocationStatement {
  if (text.length > 2048) throw new RevocationStatementError('statement is longer than 2048 characters');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new RevocationStatementError('statement is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new RevocationStatementError('statement must be a JSON object');
  const o = v as Record<string, unknown>;
  if (o.type !== REVOCATION_STATEMENT_TYPE)
    throw new RevocationStatementError(`statement type must be "${REVOCATION_STATEMENT_TYPE}"`);
  if (o.v !== 1) throw new RevocationStatementError('statement version must be 1');
  if (typeof o.origin !== 'string' || !isWebOrigin(o.origin))
    throw new RevocationStatementError('statement origin must be a web origin');
  if (typeof o.serial !== 'string' || !/^[0-9a-f]{1,40}$/.test(o.serial))
    throw new RevocationStatementError('statement serial must be lowercase hexadecimal');
  if (!isHolderRevocationReason(o.reason))
    throw new RevocationStatementError(`statement reason must be one of ${HOLDER_REVOCATION_REASONS.join(', ')}`);
  if (typeof o.nonce !== 'string' || !/^[A-Za-z0-9_-]{22,}$/.test(o.nonce))
    throw new RevocationStatementError('statement nonce must be base64url of at least 16 bytes');
  if (!Number.isInteger(o.iat) || !Number.isInteger(o.exp))
    throw new RevocationStatementError('statement iat/exp must be whole seconds');
  const iat = o.iat as number;
  const exp = o.exp as number;
  if (exp <= iat || exp - iat > MAX_CHALLENGE_LIFETIME_SECONDS)
    throw new RevocationStatementError(`statement lifetime must be 1–${MAX_CHALLENGE_LIFETIME_SECONDS} seconds`);
  return {
    v: 1,
    type: REVOCATION_STATEMENT_TYPE,
    origin: o.origin,
    serial: o.serial,
    reason: o.reason,
    nonce: o.nonce,
    iat,
    exp,
  };
}

/**
 * What the assistant checks before signing: a revocation statement, for the page's origin, for the
 * certificate it is asked to sign with, in its time window. The PIN window shows serial and reason.
 */
export function checkRevocationStatement(
  text: string,
  opts: { origin: string; serial: string; now?: Date },
): RevocationStatement {
  const s = parseRevocationStatement(text);
  if (s.origin !== opts.origin)
    throw new RevocationStatementError(`statement is for ${s.origin} but was presented by ${opts.origin}; refusing to sign`);
  if (s.serial !== opts.serial)
    throw new RevocationStatementError(
      `statement names certificate ${s.serial}, not the selected ${opts.serial}; refusing to sign`,
    );
  const now = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  if (now > s.exp + CLOCK_SKEW_SECONDS) throw new RevocationStatementError('statement has expired; start the revocation again');
  if (now < s.iat - CLOCK_SKEW_SECONDS) throw new RevocationStatementError('statement is not valid yet (check the clock)');
  return s;
}

/** True when `signature` over the exact statement bytes verifies with the certificate's public key. */
export const verifyRevocationSignature = (text: string, signature: Buffer, certDer: Buffer): boolean =>
  verifyLoginSignature(text, signature, certDer);
