// Errors the staff services report: a stable code, the HTTP status it maps to, the field at fault.
export class StaffError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'StaffError';
  }
}

export const invalid = (message: string, field?: string): StaffError => new StaffError(400, 'invalid', message, field);
export const notFound = (message: string): StaffError => new StaffError(404, 'not_found', message);
export const conflict = (code: string, message: string, field?: string): StaffError => new StaffError(409, code, message, field);
