// The staff console's server API (docs/STAFF.md) under /api/staff/ on the same origin. The session
// is an HttpOnly cookie (path /api/staff); state-changing requests carry the CSRF token. Requests
// carry the console's language as Accept-Language, so error messages come back in that language.
import { currentLang } from './i18n';

export type Role = 'operator' | 'reviewer' | 'auditor' | 'admin' | 'kmc';
export type OrderState =
  'awaiting_payment' | 'paid' | 'issuing' | 'issued' | 'installed' | 'completed' | 'cancelled' | 'expired' | 'refunded';

export interface StaffAccount {
  id: number;
  username: string;
  displayName: string;
  roles: Role[];
  totpEnrolled: boolean;
  locked: boolean;
  lockedUntil: string | null;
  disabled: boolean;
  lastLoginAt: string | null;
  createdAt: string;
  createdBy: string;
}

export interface Session {
  staff: StaffAccount;
  permissions: string[];
  csrfToken: string;
  idleMinutes: number;
}

export interface LoginStep {
  next: 'totp' | 'enrol';
  csrfToken: string;
  enrol?: { otpauthUri: string; secret: string; qr: string };
}

export interface Order {
  id: string;
  state: OrderState;
  reference: string;
  organization: string;
  holderName: string | null;
  uniqueId: string | null;
  certificateSerial: string;
  certificateTypeName: string;
  certificateTypeNameEn: string;
  termYears: number;
  amountFen: number;
  paymentMethod: 'online' | 'postal' | 'bank';
  recipient: string;
  phone: string;
  address: string;
  postcode: string;
  createdAt: string;
  updatedAt: string;
  expiresAt: string;
  paidAt: string | null;
  issuedSerial: string | null;
}

export interface AuditEntry {
  seq: number;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  details: unknown;
  hash: string;
}

export interface Invoice {
  number: string;
  orderId: string;
  status: 'issued' | 'void';
  issuerName: string;
  buyerName: string;
  buyerUniqueId: string | null;
  items: { name: string; quantity: number; amountFen: number }[];
  amountFen: number;
  paidAt: string;
  paymentChannel: string;
  paymentTradeNo: string;
  paperStatus: 'to_mail' | 'mailed' | 'not_required';
  carrier: string | null;
  trackingNo: string | null;
  mailedAt: string | null;
  mailedBy: string | null;
  voidReason: string | null;
  mailTo?: { recipient: string; address: string; postcode: string; phone: string };
}

export interface OrderDetail {
  order: Order;
  events: { at: string; type: string; actor: string; detail: Record<string, unknown> }[];
  payment: { channel: string; tradeNo: string; amountFen: number; paidAt: string; recordedAt: string; recordedBy: string } | null;
  refunds: {
    kind: string;
    channel: string;
    tradeNo: string;
    amountFen: number;
    refundReference: string;
    reason: string;
    recordedBy: string;
    recordedAt: string;
  }[];
  invoice: Invoice | null;
  certificate: { serial: string; notAfter: string; status: string } | null;
  audit: AuditEntry[];
}

export interface CertificateRow {
  serial: string;
  subject: string;
  profile: string;
  status: 'valid' | 'revoked';
  notBefore: string;
  notAfter: string;
  revokedAt: string | null;
  revocationReason: string | null;
  holderName: string | null;
  uniqueId: string | null;
  orderId: string | null;
  issuedAt: string;
}

export interface CertificateDetail {
  certificate: {
    serial: string;
    subject: string;
    commonName: string;
    organization: string | null;
    profileName: string;
    uniqueId: string | null;
    issuer: string;
    notBefore: string;
    notAfter: string;
    status: string;
    daysLeft: number;
  };
  pem: string;
  holder: { name: string; uniqueId: string; kind: string } | null;
  revocation: { at: string; reason: string } | null;
  ocsp: string;
  crl: { number: number; thisUpdate: string; nextUpdate: string; listed: boolean } | null;
  orders: { id: string; state: string; amountFen: number; createdAt: string; role: string }[];
  audit: AuditEntry[];
  /** an SM2 dual pair: the signing certificate of an encryption one, the encryption certificate of a signing one */
  pair: { signingSerial: string | null; encryptionSerial: string | null };
}

export interface CertificateType {
  code: string;
  name: string;
  nameEn: string;
  profile: string;
  renewBeforeDays: number;
  renewAfterDays: number;
  onlineRenewal: boolean;
  updatedAt?: string;
  prices: Partial<Record<'1' | '2' | '3', number>>;
}

export interface Catalogue {
  types: CertificateType[];
  profiles: { id: string; name: string }[];
  paymentMethods: string[];
  remittance: { payee: string; bank: string; account: string; postalAddress: string; postcode: string; note: string } | null;
  invoiceIssuer: { name: string; taxId: string; address: string; phone: string; paper: boolean };
}

export interface LineResult {
  line: number;
  transactionId: string | null;
  date: string;
  amountFen: number | null;
  payer: string;
  memo: string;
  reference: string | null;
  orderId: string | null;
  outcome: string;
  already: boolean;
  message: string;
}

export interface ImportResult {
  importId: number;
  lines: number;
  matched: LineResult[];
  alreadyRecorded: LineResult[];
  extra: LineResult[];
  unmatched: LineResult[];
}

export interface Paged<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

let csrf = '';
let onSessionLost: (() => void) | null = null;
export const setCsrf = (t: string): void => {
  csrf = t;
};
export const setSessionLostHandler = (fn: () => void): void => {
  onSessionLost = fn;
};

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {
    accept: 'application/json',
    'accept-language': currentLang() === 'zh' ? 'zh-CN' : 'en',
  };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (csrf && method !== 'GET') headers['x-csrf-token'] = csrf;
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: Record<string, unknown> = {};
  try {
    data = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    data = { error: 'bad_response', message: text.slice(0, 200) };
  }
  if (!res.ok) {
    const code = String(data.error ?? 'error');
    if (res.status === 401 && (code === 'no_session' || code === 'session_expired') && !path.startsWith('/api/staff/login'))
      onSessionLost?.();
    throw new ApiError(
      res.status,
      code,
      String(data.message ?? res.statusText),
      typeof data.field === 'string' ? data.field : undefined,
    );
  }
  return data as T;
}

const qs = (params: Record<string, string | number | undefined | null>): string => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
};

export const api = {
  qs,
  login: (username: string, password: string) => call<LoginStep>('POST', '/api/staff/login', { username, password }),
  totp: (code: string) => call<Session>('POST', '/api/staff/login/totp', { code }),
  session: () => call<Session>('GET', '/api/staff/session'),
  logout: () => call<void>('POST', '/api/staff/logout'),
  changePassword: (current: string, next: string) => call<void>('POST', '/api/staff/password', { current, next }),

  offlineQueue: (page: number, pageSize: number) =>
    call<Paged<Order>>('GET', `/api/staff/queue/offline-payments${qs({ page, pageSize })}`),
  confirmPayment: (id: string, body: { reference: string; amount: string; note?: string }) =>
    call<{ outcome: string; order: Order }>('POST', `/api/staff/orders/${encodeURIComponent(id)}/confirm-payment`, body),
  importStatement: (filename: string, content: string) =>
    call<ImportResult>('POST', '/api/staff/statements', { filename, content }),

  orders: (params: Record<string, string | number | undefined>) => call<Paged<Order>>('GET', `/api/staff/orders${qs(params)}`),
  order: (id: string) => call<OrderDetail>('GET', `/api/staff/orders/${encodeURIComponent(id)}`),
  cancel: (id: string, reason: string) =>
    call<{ order: Order }>('POST', `/api/staff/orders/${encodeURIComponent(id)}/cancel`, { reason }),
  refund: (
    id: string,
    body: { kind: 'order' | 'extra'; tradeNo?: string; amount: string; refundReference: string; reason: string },
  ) => call<{ order: Order }>('POST', `/api/staff/orders/${encodeURIComponent(id)}/refund`, body),

  invoices: (params: Record<string, string | number | undefined>) =>
    call<Paged<Invoice>>('GET', `/api/staff/invoices${qs(params)}`),
  markMailed: (orderId: string, carrier: string, trackingNo: string) =>
    call<{ invoice: Invoice }>('POST', `/api/staff/orders/${encodeURIComponent(orderId)}/invoice/mailed`, {
      carrier,
      trackingNo,
    }),
  invoicePdfUrl: (orderId: string) => `/api/staff/orders/${encodeURIComponent(orderId)}/invoice.pdf`,

  certificates: (params: Record<string, string | number | undefined>) =>
    call<Paged<CertificateRow>>('GET', `/api/staff/certificates${qs(params)}`),
  certificate: (serial: string) => call<CertificateDetail>('GET', `/api/staff/certificates/${encodeURIComponent(serial)}`),
  revoke: (serial: string, body: { reason: string; requestedBy: string; note?: string }) =>
    call<{ status: string }>('POST', `/api/staff/certificates/${encodeURIComponent(serial)}/revoke`, body),

  catalogue: () => call<Catalogue>('GET', '/api/staff/catalogue'),
  saveType: (t: CertificateType) => call<Catalogue>('PUT', `/api/staff/catalogue/types/${encodeURIComponent(t.code)}`, t),
  setPaymentMethods: (paymentMethods: string[]) =>
    call<{ paymentMethods: string[] }>('PUT', '/api/staff/settings/payment-methods', { paymentMethods }),
  setRemittance: (r: Catalogue['remittance']) => call<unknown>('PUT', '/api/staff/settings/remittance', r),
  setInvoiceIssuer: (r: Catalogue['invoiceIssuer']) => call<unknown>('PUT', '/api/staff/settings/invoice-issuer', r),

  audit: (params: Record<string, string | number | undefined>) =>
    call<{ items: AuditEntry[]; nextBeforeSeq: number | null }>('GET', `/api/staff/audit${qs(params)}`),
  auditCsvUrl: (params: Record<string, string | undefined>) => `/api/staff/audit.csv${qs(params)}`,
  verifyAudit: () => call<{ ok: boolean; entries: number; brokenAt?: number; reason?: string }>('GET', '/api/staff/audit/verify'),

  accounts: () => call<{ items: StaffAccount[] }>('GET', '/api/staff/accounts'),
  createAccount: (body: { username: string; displayName?: string; roles: Role[] }) =>
    call<{ account: StaffAccount; password: string }>('POST', '/api/staff/accounts', body),
  updateAccount: (id: number, body: { roles?: Role[]; displayName?: string; disabled?: boolean }) =>
    call<{ account: StaffAccount }>('PATCH', `/api/staff/accounts/${id}`, body),
  resetPassword: (id: number) => call<{ password: string }>('POST', `/api/staff/accounts/${id}/reset-password`),
  resetTotp: (id: number) => call<void>('POST', `/api/staff/accounts/${id}/reset-totp`),
  unlock: (id: number) => call<void>('POST', `/api/staff/accounts/${id}/unlock`),
};

/** Fen → "300.00". */
export function yuan(fen: number | null | undefined): string {
  if (fen === null || fen === undefined) return '';
  const sign = fen < 0 ? '-' : '';
  const a = Math.abs(fen);
  return `${sign}${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`;
}

export const fmtTime = (iso: string | null | undefined): string => {
  if (!iso) return '';
  const d = new Date(iso);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
};
