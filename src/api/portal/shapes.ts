// The JSON the portal API answers with (docs/PORTAL-API.md): views.ts builds these, and the web app
// imports them type-only (web/src/api.ts: erased from its bundle), so the two cannot drift.
import type { OrderState, PaymentMethod, OrderKind } from '../../sa/schema.js';

export type { OrderState, PaymentMethod };
import type { CertificateSummary } from '../../ra/certificate-summary.js';

export type { CertificateSummary };

/** GET /api/portal/config */
export interface PortalConfigView {
  productName: string;
  /** the product name in the English portal */
  productNameEn: string;
  agentUrl: string;
  publicUrl: string;
  /** the oldest key assistant version this portal works with (AGENT_MIN_VERSION) */
  agentMinVersion: string;
}

/** One file of the key assistant in the 下载中心 (GET /api/portal/downloads). */
export interface AgentDownloadView {
  name: string;
  platform: 'linux-x64' | 'windows-x64' | 'macos';
  /** binary: the single executable; deb: Debian/Ubuntu package; msi/pkg: Windows/macOS installers */
  kind: 'binary' | 'deb' | 'msi' | 'pkg';
  version: string;
  size: number;
  sha256: string;
  url: string;
  /** the CA's detached CMS signature (DER), checked with `openssl cms -verify` against the CA root */
  signatureUrl: string;
}

/** A key vendor's PKCS#11 driver, for the 下载中心's hints. */
export interface KeyDriverHint {
  vendor: string;
  vendorEn: string;
  keys: string;
  linux: string;
  windows: string;
  macos: string;
  note: string;
  noteEn: string;
}

/** GET /api/portal/downloads */
export interface DownloadsView {
  agent: { latestVersion: string | null; minimumVersion: string; files: AgentDownloadView[] };
  /** the CA root (PEM) to check signatures against */
  caRootUrl: string;
  drivers: KeyDriverHint[];
}

/** Where to send an offline payment: bank transfers carry bank + account, postal remittances address + postcode. */
export interface RemittanceView {
  payee: string;
  bank: string | null;
  account: string | null;
  postalAddress: string | null;
  postcode: string | null;
  reference: string;
  note: string;
}

export interface OrderInvoiceView {
  number: string;
  status: 'issued' | 'void';
  amountFen: number;
  pdfUrl: string;
  paper: 'to_mail' | 'mailed' | 'not_required';
  carrier: string | null;
  trackingNo: string | null;
  mailedAt: string | null;
}

export interface OrderEventView {
  at: string;
  type: string;
  actor: string;
  /** free text or a small object (amount, gateway, serial…) */
  detail: unknown;
}

export interface OrderView {
  id: string;
  /** what it buys: renewal, seal (印章申请) … */
  kind: OrderKind;
  state: OrderState;
  certificateSerial: string;
  /** 证书种类, snapshot when the order was made, in Chinese and in English */
  certificateTypeName: string;
  certificateTypeNameEn: string;
  organization: string;
  termYears: number;
  months: number;
  amountFen: number;
  paymentMethod: PaymentMethod;
  recipient: string;
  phone: string;
  address: string;
  postcode: string;
  reference: string;
  createdAt: string;
  expiresAt: string;
  paidAt: string | null;
  newNotAfter: string | null;
  /** 升级证书 to another algorithm: the key type the assistant makes (null: as the old certificate's) */
  newKeyType: string | null;
  issuedSerial: string | null;
  remittance: RemittanceView | null;
  /** the order's invoice (null: none yet); left out of lists */
  invoice?: OrderInvoiceView | null;
  /** a change of details (kind change): its review — it is paid (or free) only once approved; left out of lists */
  review?: { state: 'pending' | 'approved' | 'rejected'; reason: string | null };
  events: OrderEventView[];
}

/** GET /api/portal/upgrades: one upgrade open to the certificate (升级证书). */
export interface UpgradeOptionView {
  toType: string;
  name: string;
  nameEn: string;
  /** the key the assistant makes for it (a change of algorithm always takes a new key) */
  keyType: string;
  /** an SM2 dual pair: 签名证书 + 加密证书 */
  dual: boolean;
  termYears: number;
  priceFen: number;
  /** the old certificate's remaining time is added to the term */
  carryOver: boolean;
  /** the new certificate's end if issued now */
  notAfter: string;
}

/** GET /api/portal/upgrades (升级证书) */
export interface UpgradesView {
  certificate: CertificateSummary;
  certificateType: { code: string; name: string; nameEn: string };
  /** why no upgrade is open for this certificate (revoked, expired …); null: the options apply */
  refusal: string | null;
  options: UpgradeOptionView[];
  paymentMethods: PaymentMethod[];
  /** an order already open for this certificate (renewal, upgrade or change): continue it instead */
  openOrder: OrderView | null;
}

/** POST /api/portal/orders/:id/issue: the renewed certificate (base64 DER) and its issuing CA. */
/** A seal re-made for the new certificate (印章更新), for the assistant to write to the key beside it. */
export interface IssuedSealView {
  esId: string;
  name: string;
  /** base64 DER SESeal (GB/T 38540) whose certList is exactly the new certificate */
  der: string;
  /** base64 PNG, for the update page's 印章更新 step */
  picture: string;
}

export interface IssueView {
  order: OrderView;
  certificate: string;
  /** the holder's seals bound to the new certificate; empty when the holder has none */
  seals: IssuedSealView[];
  chain: string[];
  summary: CertificateSummary;
  /** an SM2 dual pair: the encryption certificate and the KMC's envelope of its key (the page relays both to the assistant) */
  encryption?: {
    certificate: string;
    /** base64 DER SM2EnvelopedKey to the new signing key; null when the policy reuses the old encryption key */
    envelope: string | null;
    chain: string[];
    summary: CertificateSummary;
  };
}

/** POST /api/portal/revocation/statement: the statement the key signs (exact text), and the refund rule */
export interface RevocationStatementView {
  statement: string;
  serial: string;
  reason: string;
  expiresAt: string;
  /** whether the catalogue refunds the unused period (default: no refund) */
  refundUnused: boolean;
}

/** POST /api/portal/revocation and the staff approval of a 挂失 request */
export interface RevocationView {
  serial: string;
  status: 'revoked';
  reason: string;
  revokedAt: string;
  /** the encryption certificate of an SM2 pair, revoked with its signing certificate */
  encryptionSerial: string | null;
  /** base64 DER of the revoked certificate (the assistant deletes exactly this one from the key) */
  certificate: string;
}

/** GET /api/portal/revocation: what the holder sees before confirming 撤销证书 */
export interface RevocationTermsView {
  serial: string;
  reasons: string[];
  /** whether the catalogue refunds the unused period (default: no refund) */
  refundUnused: boolean;
}

/** POST /api/revocation-requests: the same answer whatever was asked */
export interface LossReportView {
  id: string;
  message: string;
}

/** GET /api/status/:serial: certificate status for relying parties without OCSP */
export interface PublicStatusView {
  serial: string;
  status: 'good' | 'revoked' | 'expired';
  reason: string | null;
  revokedAt: string | null;
  notBefore: string;
  notAfter: string;
  issuer: string;
}
