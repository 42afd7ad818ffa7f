// The staff console's server API (docs/STAFF.md) under /api/staff/ on the same origin. The session
// is an HttpOnly cookie (path /api/staff); state-changing requests carry the CSRF token. Requests
// carry the console's language as Accept-Language, so error messages come back in that language.
import { currentLang } from './i18n';
import { ApiError, jsonClient } from '../http-client';
import type { SealReviewStateView, SealReviewView, SealTypeView } from '../../../src/shared/seal-views.js';
import type { ChangeReviewStateView, ChangeReviewView } from '../../../src/shared/change-views.js';

import type {
  AuditEntryView,
  CatalogueView,
  CertificateRowView,
  CertificateTypeView,
  ImportResult,
  InvoiceView,
  LineResult,
  LoginStepView,
  OrderState,
  Paged,
  StaffAccountView,
  StaffCertificateDetailView,
  StaffOrderDetailView,
  StaffOrderView,
  StaffRole,
  StaffSessionView,
  RevocationRequestView,
  UpgradePathView,
  RelyingAppView,
  OutboxMessageView,
} from '../../../src/api/staff/shapes.js';

// The server's shapes (type-only: erased from the bundle), under the names the console's pages use.
export type { ImportResult, LineResult, OrderState, Paged };
export type Role = StaffRole;
export type StaffAccount = StaffAccountView;
export type Session = StaffSessionView;
export type LoginStep = LoginStepView;
export type Order = StaffOrderView;
export type AuditEntry = AuditEntryView;
export type Invoice = InvoiceView;
export type OutboxMessage = OutboxMessageView;
export type OrderDetail = StaffOrderDetailView;
export type CertificateRow = CertificateRowView;
export type CertificateDetail = StaffCertificateDetailView;
export type CertificateType = CertificateTypeView;
export type Catalogue = CatalogueView;
export type RevocationRequest = RevocationRequestView;

export { ApiError };

const client = jsonClient({
  headers: () => ({ 'accept-language': currentLang() === 'zh' ? 'zh-CN' : 'en' }),
  // a wrong password at login is a 401 too, but no session was lost
  sessionLost: (status, code, path) =>
    status === 401 && (code === 'no_session' || code === 'session_expired') && !path.startsWith('/api/staff/login'),
});
const call = client.call;
export const setCsrf = (t: string): void => client.setCsrf(t);
export const setSessionLostHandler = (fn: () => void): void => client.setSessionLostHandler(fn);

const qs = (params: Record<string, string | number | undefined | null>): string => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
};

export const api = {
  sealReviews: (state: SealReviewStateView) =>
    call<{ items: SealReviewView[] }>('GET', `/api/staff/seal-reviews${qs({ state })}`),
  decideSeal: (id: string, approve: boolean, reason?: string) =>
    call<{ application: SealReviewView }>('POST', `/api/staff/seal-reviews/${encodeURIComponent(id)}/decision`, {
      approve,
      reason,
    }),
  changeReviews: (state: ChangeReviewStateView) =>
    call<{ items: ChangeReviewView[] }>('GET', `/api/staff/change-reviews${qs({ state })}`),
  decideChange: (id: string, approve: boolean, reason?: string) =>
    call<{ change: ChangeReviewView }>('POST', `/api/staff/change-reviews/${encodeURIComponent(id)}/decision`, {
      approve,
      reason,
    }),
  setChangePrice: (priceFen: number) => call<{ changePriceFen: number }>('PUT', '/api/staff/settings/change-price', { priceFen }),
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

  revocationRequests: (state?: string) =>
    call<{ items: RevocationRequest[] }>('GET', `/api/staff/revocation-requests${qs({ state })}`),
  approveRevocation: (id: string, note: string, serial?: string) =>
    call<unknown>('POST', `/api/staff/revocation-requests/${encodeURIComponent(id)}/approve`, { note, serial }),
  rejectRevocation: (id: string, reason: string) =>
    call<unknown>('POST', `/api/staff/revocation-requests/${encodeURIComponent(id)}/reject`, { reason }),
  catalogue: () => call<Catalogue>('GET', '/api/staff/catalogue'),
  relyingApps: () => call<{ items: RelyingAppView[] }>('GET', '/api/staff/relying-apps'),
  createRelyingApp: (b: Record<string, unknown>) =>
    call<{ app: RelyingAppView; credentialSecret: string; webhookSecret: string }>('POST', '/api/staff/relying-apps', b),
  updateRelyingApp: (id: string, b: Record<string, unknown>) =>
    call<{ app: RelyingAppView }>('PUT', `/api/staff/relying-apps/${encodeURIComponent(id)}`, b),
  rotateRelyingApp: (id: string, what: 'credential' | 'webhook-secret') =>
    call<Record<string, string>>('POST', `/api/staff/relying-apps/${encodeURIComponent(id)}/${what}`, {}),
  saveUpgradePath: (p: Omit<UpgradePathView, 'updatedAt'>) =>
    call<Catalogue>(
      'PUT',
      `/api/staff/catalogue/upgrade-paths/${encodeURIComponent(p.fromType)}/${encodeURIComponent(p.toType)}`,
      p,
    ),
  saveSealType: (t: SealTypeView) => call<Catalogue>('PUT', `/api/staff/catalogue/seal-types/${encodeURIComponent(t.code)}`, t),
  saveType: (t: CertificateType) => call<Catalogue>('PUT', `/api/staff/catalogue/types/${encodeURIComponent(t.code)}`, t),
  setPaymentMethods: (paymentMethods: string[]) =>
    call<{ paymentMethods: string[] }>('PUT', '/api/staff/settings/payment-methods', { paymentMethods }),
  setRemittance: (r: Catalogue['remittance']) => call<unknown>('PUT', '/api/staff/settings/remittance', r),
  setInvoiceIssuer: (r: Catalogue['invoiceIssuer']) => call<unknown>('PUT', '/api/staff/settings/invoice-issuer', r),

  audit: (params: Record<string, string | number | undefined>) =>
    call<{ items: AuditEntry[]; nextBeforeSeq: number | null }>('GET', `/api/staff/audit${qs(params)}`),
  auditCsvUrl: (params: Record<string, string | undefined>) => `/api/staff/audit.csv${qs(params)}`,
  verifyAudit: () => call<{ ok: boolean; entries: number; brokenAt?: number; reason?: string }>('GET', '/api/staff/audit/verify'),

  outbox: (state?: string) => call<{ items: OutboxMessageView[] }>('GET', `/api/staff/outbox${qs({ state })}`),
  retryOutbox: (id: string) =>
    call<{ message: OutboxMessageView }>('POST', `/api/staff/outbox/${encodeURIComponent(id)}/retry`, {}),

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

/** "300", "300.5", "300.50" (yuan, as staff type it) → fen exactly; undefined when blank, NaN when not an amount. */
export function fenOf(v: string | undefined): number | undefined {
  if (v === undefined || v === null || String(v).trim() === '') return undefined;
  const m = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(String(v).trim());
  if (!m) return NaN;
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}

export const fmtTime = (iso: string | null | undefined): string => {
  if (!iso) return '';
  const d = new Date(iso);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
};
