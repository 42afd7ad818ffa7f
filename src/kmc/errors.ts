// Errors of the key management centre: a stable code, the field at fault when a request is wrong.
// Messages never carry key material.

export type KmcErrorCode =
  /** a request field is wrong (field says which) */
  | 'invalid'
  /** no escrowed key for the given public key */
  | 'not_escrowed'
  /** the request's key was delivered to another signing key: only a recovery may send it elsewhere */
  | 'conflict'
  /** the master key is missing, wrong or unreadable: the KMC cannot run */
  | 'master_key'
  /** an escrowed key fails its integrity check (altered row, or a master key that is not its own) */
  | 'escrow_damaged';

export class KmcError extends Error {
  constructor(
    readonly code: KmcErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'KmcError';
  }
}

/** The HTTP status each code maps to, for the API layers that report KMC errors. */
export const KMC_HTTP_STATUS: Record<KmcErrorCode, number> = {
  invalid: 400,
  not_escrowed: 404,
  conflict: 409,
  master_key: 503,
  escrow_damaged: 500,
};
