// The JSON the staff API answers with (docs/STAFF.md): views.ts and the route files build these, and
// the console imports them type-only (web/src/staff/api.ts: erased from its bundle), so the two
// cannot drift. Money is integer fen, times ISO 8601.
import type { SealTypeView } from '../../shared/seal-views.js';
import type { OrderState, PaymentMethod, StaffRole } from '../../sa/schema.js';
import type { CertificateSummary } from '../../ra/certificate-summary.js';
import type { RemittanceInfo } from '../../sa/catalogue.js';
import type { ImportResult, LineOutcome, LineResult } from '../../staff/statement.js';

export type { ImportResult, LineOutcome, LineResult, OrderState, PaymentMethod, StaffRole };
export type { OutboxMessageView } from '../../notify/outbox.js';

export interface StaffAccountView {
  id: number;
  username: string;
  displayName: string;
  roles: StaffRole[];
  totpEnrolled: boolean;
  locked: boolean;
  lockedUntil: string | null;
  disabled: boolean;
  lastLoginAt: string | null;
  createdAt: string;
  createdBy: string;
}

/** GET /api/staff/session, POST /api/staff/login/totp */
export interface StaffSessionView {
  staff: StaffAccountView;
  permissions: string[];
  csrfToken: string;
  idleMinutes: number;
}

/** POST /api/staff/login: the second factor comes next */
export interface LoginStepView {
  next: 'totp' | 'enrol';
  csrfToken: string;
  enrol?: { otpauthUri: string; secret: string; qr: string };
}

export interface StaffOrderView {
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
  paymentMethod: PaymentMethod;
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

export interface AuditEntryView {
  seq: number;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  details: unknown;
  hash: string;
}

export interface OrderEventView {
  at: string;
  type: string;
  actor: string;
  detail: Record<string, unknown>;
}

export interface PaymentView {
  channel: string;
  tradeNo: string;
  amountFen: number;
  paidAt: string;
  recordedAt: string;
  recordedBy: string;
}

export interface RefundView {
  kind: string;
  channel: string;
  tradeNo: string;
  amountFen: number;
  refundReference: string;
  reason: string;
  recordedBy: string;
  recordedAt: string;
}

export interface InvoiceView {
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
  pdfSha256: string | null;
  createdAt: string;
  voidedAt: string | null;
  voidReason: string | null;
  mailTo?: { recipient: string; address: string; postcode: string; phone: string };
}

/** GET /api/staff/orders/:id */
export interface StaffOrderDetailView {
  order: StaffOrderView;
  events: OrderEventView[];
  payment: PaymentView | null;
  refunds: RefundView[];
  invoice: InvoiceView | null;
  certificate: { serial: string; notAfter: string; status: string } | null;
  audit: AuditEntryView[];
}

export interface CertificateRowView {
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

/** GET /api/staff/certificates/:serial */
export interface StaffCertificateDetailView {
  certificate: CertificateSummary;
  pem: string;
  holder: { name: string; uniqueId: string; kind: string } | null;
  revocation: { at: string; reason: string } | null;
  ocsp: string;
  crl: { number: number; thisUpdate: string; nextUpdate: string; listed: boolean } | null;
  orders: { id: string; state: string; amountFen: number; createdAt: string; role: 'issued' | 'renews' }[];
  audit: AuditEntryView[];
  /** an SM2 dual pair: the signing certificate of an encryption one, the encryption certificate of a signing one */
  pair: { signingSerial: string | null; encryptionSerial: string | null };
}

export interface CertificateTypeView {
  code: string;
  name: string;
  nameEn: string;
  profile: string;
  renewBeforeDays: number;
  renewAfterDays: number;
  onlineRenewal: boolean;
  /** the unused period is refunded when the holder revokes */
  refundUnused: boolean;
  updatedAt?: string;
  /** price in fen by term in years */
  prices: Partial<Record<string, number>>;
}

/** The remittance details as staff set them (the setting itself). */
export type RemittanceView = RemittanceInfo;

export interface InvoiceIssuerView {
  name: string;
  taxId: string;
  address: string;
  phone: string;
  paper: boolean;
}

/** GET /api/staff/catalogue */
export interface CatalogueView {
  types: CertificateTypeView[];
  profiles: { id: string; name: string }[];
  paymentMethods: string[];
  remittance: RemittanceView | null;
  invoiceIssuer: InvoiceIssuerView;
  /** 印章种类 (electronic seal types) */
  sealTypes: SealTypeView[];
  /** what a change of certificate details (变更证书) costs; 0: no payment step */
  changePriceFen: number;
  /** 升级证书 paths */
  upgradePaths: UpgradePathView[];
}

export interface UpgradePathView {
  fromType: string;
  toType: string;
  priceFen: number;
  termYears: number;
  carryOver: boolean;
  newKey: boolean;
  active: boolean;
  updatedAt: string;
}

export interface Paged<T> {
  items: T[];
  total: number;
  /** more match than `total`: the count stopped there (COUNT_CAP in src/sa/backoffice.ts) */
  totalCapped?: boolean;
  page: number;
  pageSize: number;
}

/** GET /api/staff/relying-apps (应用管理): secrets are never in a view, only in create/rotate answers. */
export interface RelyingAppView {
  id: string;
  name: string;
  nameEn: string;
  description: string;
  acceptedTypes: string[];
  feePerYearFen: number;
  credentialId: string;
  webhookUrl: string | null;
  hasWebhookSecret: boolean;
  active: boolean;
  createdAt: string;
  updatedAt: string;
}

/** GET /api/staff/revocation-requests: a 挂失/撤销申请 with what it identifies (staff only) */
export interface RevocationRequestView {
  id: string;
  uniqueId: string;
  name: string;
  contact: string;
  reason: string;
  state: 'pending' | 'approved' | 'rejected';
  createdAt: string;
  /** the certificate the 唯一识别号 + 名称 identify, if any (approve revokes it and its pair) */
  certificate: { serial: string; subject: string; notAfter: string; status: string } | null;
  /** the 证书序列号 the requester named (optional): `certificate` when it is a live one of theirs */
  givenSerial: string | null;
  /**
   * pending: every live signing certificate of that holder, newest first — approve may name another
   * than `certificate` (`serial`), for a holder with several keys
   */
  candidates: { serial: string; subject: string; profile: string; issuedAt: string; notAfter: string }[];
  reviewer: string | null;
  decisionReason: string | null;
  reviewedAt: string | null;
}
