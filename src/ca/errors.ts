// Errors the CA reports to its callers (CLI, RA, API): a stable code, the field at fault, a message
// that says what is wrong and how to fix it.
export type CaErrorCode =
  | 'bad_csr'
  | 'unknown_profile'
  | 'key_not_allowed'
  | 'bad_subject'
  | 'bad_validity'
  | 'not_found'
  | 'already_revoked'
  | 'bad_reason'
  | 'not_initialised'
  | 'already_initialised'
  | 'bad_key'
  | 'not_dual'
  | 'conflict';

export class CaError extends Error {
  constructor(
    readonly code: CaErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'CaError';
  }
}
