// Errors the RA reports: a stable code, an HTTP-ish status class, the field at fault.
export type RaErrorCode =
  | 'not_found'
  | 'forbidden'
  | 'not_eligible'
  | 'order_open'
  | 'invalid_state'
  | 'amount_mismatch'
  | 'method_mismatch'
  | 'proof_invalid'
  | 'csr_invalid'
  | 'order_not_paid'
  | 'certificate_revoked'
  | 'payment_unavailable'
  | 'kmc_unavailable'
  | 'awaiting_review'
  | 'four_eyes'
  | 'invalid';

export class RaError extends Error {
  constructor(
    readonly code: RaErrorCode,
    message: string,
    readonly field?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'RaError';
  }
}
