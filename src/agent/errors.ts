// Errors the assistant's API returns: `{ error: code, message, ...details }` with an HTTP status.
// Messages say what is wrong and, where there is one, what to do; none contains a PIN.
import { TokenError, type TokenErrorCode } from './tokens/driver.js';

export class AgentError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AgentError';
  }
}

const TOKEN_HTTP: Record<TokenErrorCode, [number, string]> = {
  PIN_INCORRECT: [401, 'pin_incorrect'],
  PIN_LOCKED: [423, 'pin_locked'],
  PIN_INVALID: [400, 'pin_invalid'],
  TOKEN_NOT_FOUND: [404, 'token_not_found'],
  TOKEN_REMOVED: [409, 'token_removed'],
  KEY_NOT_FOUND: [404, 'key_not_found'],
  OBJECT_EXISTS: [409, 'object_exists'],
  INVALID_ARGUMENT: [400, 'invalid_argument'],
  UNSUPPORTED: [422, 'unsupported'],
  ENVELOPE_REFUSED: [409, 'envelope_wrong_key'],
  KEY_MISMATCH: [422, 'encryption_key_mismatch'],
  CORRUPT: [500, 'token_corrupt'],
  FAILED: [500, 'token_failed'],
};

export function toAgentError(e: unknown): AgentError {
  if (e instanceof AgentError) return e;
  if (e instanceof TokenError) {
    const [status, code] = TOKEN_HTTP[e.code];
    const details: Record<string, unknown> = {};
    if (e.pin) details.pin = e.pin;
    if (e.pin?.retriesLeft !== undefined && e.pin.retriesLeft !== null) details.retriesLeft = e.pin.retriesLeft;
    return new AgentError(status, code, e.message, details);
  }
  return new AgentError(500, 'internal_error', (e as Error)?.message ?? String(e));
}
