// Maps domain errors to HTTP answers: { error, message, field? } with a 4xx status.
import { CaError } from '../ca/errors.js';
import { KMC_HTTP_STATUS, KmcError } from '../kmc/errors.js';
import { FieldError } from '../ra/order-form.js';
import { RaError, type RaErrorCode } from '../ra/errors.js';
import { LoginRefused } from '../ra/holder-login.js';
import { HttpError } from './portal/session.js';

const RA_STATUS: Record<RaErrorCode, number> = {
  not_found: 404,
  forbidden: 403,
  not_eligible: 409,
  order_open: 409,
  invalid_state: 409,
  order_not_paid: 409,
  certificate_revoked: 409,
  amount_mismatch: 422,
  method_mismatch: 422,
  proof_invalid: 422,
  csr_invalid: 422,
  payment_unavailable: 503,
  kmc_unavailable: 503,
  awaiting_review: 409,
  four_eyes: 403,
  invalid: 400,
};

export function mapError(err: unknown): { status: number; body: Record<string, unknown> } | undefined {
  if (err instanceof HttpError)
    return {
      status: err.statusCode,
      body: { error: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) },
    };
  if (err instanceof FieldError) return { status: 400, body: { error: 'invalid', message: err.message, field: err.field } };
  if (err instanceof LoginRefused) return { status: 401, body: { error: err.code, message: err.message } };
  if (err instanceof RaError)
    return {
      status: RA_STATUS[err.code],
      body: { error: err.code, message: err.message, ...(err.field ? { field: err.field } : {}), ...(err.details ?? {}) },
    };
  if (err instanceof CaError)
    return {
      status: err.code === 'not_found' ? 404 : err.code === 'conflict' ? 409 : 400,
      body: { error: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) },
    };
  if (err instanceof KmcError) {
    return {
      status: KMC_HTTP_STATUS[err.code],
      body: { error: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) },
    };
  }
  return undefined;
}
