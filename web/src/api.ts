// The portal's server API (docs/PORTAL-API.md), under /api/portal/ on the same origin. The session
// is an HttpOnly cookie; state-changing requests carry the CSRF token from the login/session answer.

import type {
  AgentDownloadView,
  CertificateSummary,
  DownloadsView,
  KeyDriverHint,
  IssueView,
  LossReportView,
  OrderEventView,
  OrderInvoiceView,
  OrderState,
  OrderView,
  PaymentMethod,
  PortalConfigView,
  RemittanceView,
  RevocationStatementView,
  RevocationTermsView,
  RevocationView,
  UpgradeOptionView,
  UpgradesView,
} from '../../src/api/portal/shapes.js';
import type { SealApplicationView, SealTypeView } from '../../src/shared/seal-views.js';
import type { AppOfferView } from '../../src/shared/app-views.js';
import type { ChangeField, ChangeRequestView, ChangeTermsView } from '../../src/shared/change-views.js';
import { ApiError, jsonClient } from './http-client';

export type { AgentDownloadView, CertificateSummary, DownloadsView, KeyDriverHint, OrderState, PaymentMethod, UpgradeOptionView };

export type UpgradeInfo = UpgradesView;
export type { ChangeField, ChangeRequestView, ChangeTermsView };

/** POST /api/portal/changes: the new values (only those that change), reason, documents, contact (and payment when charged). */
export type NewChange = Partial<Record<ChangeField, string>> &
  Partial<Omit<NewOrder, 'termYears'>> & {
    reason: string;
    documents: { fileName: string; contentBase64: string }[];
  };
export type Order = OrderView;
export type OrderEvent = OrderEventView;
export type OrderInvoice = OrderInvoiceView;
export type Remittance = RemittanceView;

export interface PortalConfig extends PortalConfigView {
  /** where the key assistant's installer can be downloaded (optional) */
  agentDownloadUrl?: string;
  /** customer help line shown on the order page (optional) */
  hotline?: string;
}

export const DEFAULT_CONFIG: PortalConfig = {
  agentUrl: 'http://127.0.0.1:51234',
  productName: 'UNITrust 证书自助服务系统',
  productNameEn: 'UNITrust Certificate Self-Service',
  publicUrl: '',
  agentMinVersion: '0.1.0',
};

export interface Holder {
  name: string;
  uniqueId: string;
  kind: 'org' | 'person';
}

export interface CertificateDetail extends CertificateSummary {
  issuer: string;
  pem: string;
  extensions: unknown;
}

export interface Session {
  holder: Holder;
  certificate: CertificateSummary;
  csrfToken: string;
  renewalOnly: boolean;
}

export interface Term {
  years: number;
  months: number;
  priceFen: number;
}

export interface RenewalInfo {
  certificate: CertificateSummary;
  eligible: boolean;
  reason: string | null;
  window: { opensAt: string; closesAt: string } | null;
  terms: Term[];
  paymentMethods: PaymentMethod[];
  certificateType: { code: string; name: string; nameEn?: string | null };
  openOrder: Order | null;
}

export interface NewOrder {
  termYears: number;
  recipient: string;
  phone: string;
  address: string;
  postcode: string;
  paymentMethod: PaymentMethod;
  /** optional: the holder's e-mail for expiry reminders */
  email?: string;
}

export type IssueResult = IssueView;

/** States in which the certificate update (证书更新) runs or resumes; payment is behind us. */
export const UPDATE_STATES: readonly OrderState[] = ['paid', 'issuing', 'issued', 'installed'];

export { ApiError };

// the portal's session is gone when an authenticated call says so (not the login calls themselves)
const client = jsonClient({ sessionLost: (status, code) => status === 401 && code === 'no_session' });
export const setCsrfToken = client.setCsrf;
/** Called when an authenticated call finds the session gone (401 no_session). */
export const setSessionLostHandler = client.setSessionLostHandler;
const call = <T>(method: string, path: string, body?: unknown, opts: { quietAuth?: boolean } = {}): Promise<T> =>
  client.call<T>(method, path, body, opts.quietAuth);

const enc = encodeURIComponent;

export const api = {
  async config(): Promise<PortalConfig> {
    try {
      const c = await call<Partial<PortalConfig>>('GET', '/api/portal/config');
      return { ...DEFAULT_CONFIG, ...c } as PortalConfig;
    } catch {
      return DEFAULT_CONFIG;
    }
  },
  session: () => call<Session>('GET', '/api/portal/session', undefined, { quietAuth: true }),
  challenge: () => call<{ challenge: string; expiresAt: string }>('POST', '/api/portal/login/challenge', {}),
  login: (b: { challenge: string; signature: string; certificate: string }) =>
    call<Session>('POST', '/api/portal/login', b, { quietAuth: true }),
  logout: () => call<void>('POST', '/api/portal/logout', {}, { quietAuth: true }),
  renewal: () => call<RenewalInfo>('GET', '/api/portal/renewal'),
  createOrder: (b: NewOrder) => call<{ order: Order }>('POST', '/api/portal/orders', b),
  upgrades: () => call<UpgradeInfo>('GET', '/api/portal/upgrades'),
  apps: () => call<{ apps: AppOfferView[]; paymentMethods: string[] }>('GET', '/api/portal/apps'),
  enableApp: (id: string, b: Omit<NewOrder, 'termYears'> & { years: number }) =>
    call<{ order: Order }>('POST', `/api/portal/apps/${enc(id)}/enable`, b),
  endApp: (id: string) => call<{ ended: number }>('POST', `/api/portal/apps/${enc(id)}/end`, {}),
  createUpgrade: (b: Omit<NewOrder, 'termYears'> & { toType: string }) =>
    call<{ order: Order }>('POST', '/api/portal/upgrades/orders', b),
  orders: () => call<{ orders: Order[] }>('GET', '/api/portal/orders'),
  order: (id: string) => call<{ order: Order }>('GET', `/api/portal/orders/${enc(id)}`),
  pay: (id: string) => call<{ redirectUrl: string }>('POST', `/api/portal/orders/${enc(id)}/pay`, {}),
  cancel: (id: string) => call<{ order: Order }>('POST', `/api/portal/orders/${enc(id)}/cancel`, {}),
  issue: (id: string, b: { csr: string; proof: string }) => call<IssueResult>('POST', `/api/portal/orders/${enc(id)}/issue`, b),
  installed: (id: string) => call<{ order: Order }>('POST', `/api/portal/orders/${enc(id)}/installed`, {}),
  certificates: () =>
    call<{ current: CertificateSummary; history: CertificateSummary[]; orders: Order[] }>('GET', '/api/portal/certificates'),
  certificate: (serial: string, opts: { quietAuth?: boolean } = {}) =>
    call<{ certificate: CertificateDetail }>('GET', `/api/portal/certificates/${enc(serial)}`, undefined, opts),
  downloads: () => call<DownloadsView>('GET', '/api/portal/downloads'),
  revocationTerms: () => call<RevocationTermsView>('GET', '/api/portal/revocation'),
  revocationStatement: (b: { serial: string; reason: string }) =>
    call<RevocationStatementView>('POST', '/api/portal/revocation/statement', b),
  revoke: (b: { statement: string; signature: string }) => call<RevocationView>('POST', '/api/portal/revocation', b),
  lossReport: (b: { uniqueId: string; name: string; contact: string; reason: string; serial?: string }) =>
    call<LossReportView>('POST', '/api/revocation-requests', b, { quietAuth: true }),
  sealTypes: () => call<{ types: SealTypeView[]; paymentMethods: PaymentMethod[] }>('GET', '/api/portal/seals/types'),
  sealPreview: (b: { typeCode: string; name: string }) =>
    call<{ picture: string; widthMm: number; heightMm: number }>('POST', '/api/portal/seals/preview', b),
  applySeal: (b: Omit<NewOrder, 'termYears'> & { typeCode: string; name: string; picture: unknown; document: unknown }) =>
    call<{ application: SealApplicationView }>('POST', '/api/portal/seals/applications', b),
  seals: () => call<{ applications: SealApplicationView[] }>('GET', '/api/portal/seals'),
  /** the made seal's DER (base64), to hand to the assistant */
  sealDer: async (id: string): Promise<string> => {
    const res = await fetch(`/api/portal/seals/${enc(id)}/seal.der`, { credentials: 'same-origin' });
    if (!res.ok) throw new ApiError(res.status, 'seal_not_found', `GET seal.der: HTTP ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    let bin = '';
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin);
  },
  sealWritten: (id: string) => call<{ application: SealApplicationView }>('POST', `/api/portal/seals/${enc(id)}/written`, {}),
  changeTerms: () => call<ChangeTermsView>('GET', '/api/portal/change'),
  submitChange: (b: NewChange) => call<{ change: ChangeRequestView }>('POST', '/api/portal/changes', b),
  changes: () => call<{ changes: ChangeRequestView[] }>('GET', '/api/portal/changes'),
  change: (id: string) => call<{ change: ChangeRequestView }>('GET', `/api/portal/changes/${enc(id)}`),
  downloadUrl: (serial: string, format: 'pem' | 'der' | 'chain.pem') => `/api/portal/certificates/${enc(serial)}.${format}`,
};
