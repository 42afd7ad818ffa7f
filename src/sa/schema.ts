// Table types for Kysely. Times are integer milliseconds since the epoch (bigint in PostgreSQL,
// parsed back to number), binary values are Buffers (BLOB / bytea).
import type { Generated } from 'kysely';

export type CaKind = 'root' | 'issuing' | 'ocsp';
export type CertificateStatus = 'valid' | 'revoked';
export type HolderKind = 'org' | 'person';

export interface CaTable {
  id: string;
  kind: CaKind;
  parent_id: string | null;
  name: string;
  cert_der: Buffer;
  /** JSON KeyRef (software file or PKCS#11 token/id) */
  key_ref: string;
  key_type: string;
  not_before: number;
  not_after: number;
  /** 1 for the CA that issues now (one root, one issuing CA, one OCSP responder per issuing CA) */
  active: number;
  created_at: number;
}

export interface HolderTable {
  id: Generated<number>;
  kind: HolderKind;
  name: string;
  /** 唯一识别号 */
  unique_id: string;
  contact_name: string | null;
  phone: string | null;
  email: string | null;
  address: string | null;
  postcode: string | null;
  created_at: number;
  /** when the holder opted out of expiry reminders (the unsubscribe link); null: reminders are sent */
  reminders_opt_out_at: number | null;
}

export interface CertificateTable {
  /** lowercase hex, no leading zeros */
  serial: string;
  ca_id: string;
  holder_id: number | null;
  profile: string;
  /** RFC 4514 subject for display and search */
  subject: string;
  not_before: number;
  not_after: number;
  status: CertificateStatus;
  revoked_at: number | null;
  /** RFC 5280 CRLReason code */
  revocation_reason: number | null;
  /** serial of the certificate this one renews */
  renews_serial: string | null;
  /** the order it was issued for: unique, so one order can never yield two certificates */
  order_id: string | null;
  spki_sha256: string;
  der: Buffer;
  issued_at: number;
  /**
   * Set on the encryption certificate of an SM2 dual pair: the serial of its signing certificate
   * (unique: one encryption certificate per signing certificate, hence per order). Null otherwise.
   */
  signing_serial: string | null;
  /**
   * The CRL shard chosen at issuance, named in the certificate's CRL DP (/pki/crl/{ca}/{shard}.crl);
   * null for certificates from before migration 0021, whose DP is the CA's full CRL.
   */
  crl_shard: number | null;
}

export interface CrlTable {
  ca_id: string;
  crl_number: number;
  this_update: number;
  next_update: number;
  der: Buffer;
}

/** One CRL of a shard: its own scope (issuingDistributionPoint), numbered per (ca_id, shard). */
export interface ShardCrlTable {
  ca_id: string;
  shard: number;
  crl_number: number;
  this_update: number;
  next_update: number;
  der: Buffer;
  entries: number;
}

/** CAs with certificates from before CRL shards (migration 0021): their full CRL is kept fresh until `not_after`. */
export interface LegacyCrlScopeTable {
  ca_id: string;
  not_after: number;
}

/**
 * A CRL scope owed a CRL: a revocation in it committed without its CRL (the CA key unavailable, or
 * not in that process). The refresher signs it at its next run; any publication of the scope settles it.
 */
export interface CrlOwedTable {
  /** the CA id, or `{caId}/{shard}` as in the audit's crl.published target */
  scope: string;
  ca_id: string;
  shard: number | null;
  owed_since: number;
}

/** A PKI_URL certificates were issued under: every shard CRL names its URL under each (pki-urls.ts). */
export interface PkiUrlTable {
  url: string;
  first_used_at: number;
}

export interface AuditTable {
  seq: number;
  at: number;
  /** who: 'system', 'cli:<user>', 'staff:<name>', 'holder:<serial>' */
  actor: string;
  action: string;
  target: string | null;
  /** JSON object */
  details: string;
  prev_hash: string;
  hash: string;
}

export type OrderState =
  'awaiting_payment' | 'paid' | 'issuing' | 'issued' | 'installed' | 'completed' | 'cancelled' | 'expired' | 'refunded';
export type PaymentMethod = 'online' | 'postal' | 'bank';

export interface CertificateTypeTable {
  code: string;
  name: string;
  name_en: string;
  profile: string;
  renew_before_days: number;
  renew_after_days: number;
  online_renewal: number;
  /** 1: the unused period is refunded on revocation; 0 (default): nothing is refunded */
  refund_unused: number;
  updated_at: number;
}

export interface PriceTable {
  type_code: string;
  term_years: number;
  price_fen: number;
}

/** An upgrade path (升级证书) in the catalogue: from one certificate type to another. */
export interface UpgradePathTable {
  from_type: string;
  to_type: string;
  price_fen: number;
  term_years: number;
  /** 1: the holder generates a new key (always when the algorithm changes) */
  new_key: number;
  /** 1: the old certificate's remaining validity is added to the new term */
  carry_over: number;
  active: number;
  updated_at: number;
}

export interface UpgradeOrderTable {
  order_id: string;
  from_type: string;
  to_type: string;
  /** the target type's profile at order time */
  to_profile: string;
  term_years: number;
  carry_over: number;
  new_key: number;
  created_at: number;
}

export interface SettingTable {
  key: string;
  /** JSON */
  value: string;
}

/** what an order buys: 更新证书, 升级证书, 变更证书, 印章申请, 应用开通 */
export type OrderKind = 'renewal' | 'upgrade' | 'change' | 'seal' | 'app';

export interface OrderTable {
  id: string;
  kind: OrderKind;
  holder_id: number | null;
  /** the certificate being renewed */
  certificate_serial: string;
  type_code: string;
  /** snapshot at creation: later catalogue edits do not change an order */
  type_name: string;
  /** the type's English name, snapshot with type_name ('' in orders made before it was kept) */
  type_name_en: string;
  organization: string;
  term_years: number;
  amount_fen: number;
  payment_method: PaymentMethod;
  recipient: string;
  phone: string;
  address: string;
  postcode: string;
  /** the code the holder writes on an offline transfer */
  reference: string;
  state: OrderState;
  created_at: number;
  updated_at: number;
  /** an unpaid order expires then */
  expires_at: number;
  paid_at: number | null;
  issued_serial: string | null;
}

export interface OrderEventTable {
  id: Generated<number>;
  order_id: string;
  at: number;
  type: string;
  actor: string;
  /** JSON */
  detail: string;
}

export interface PaymentTable {
  id: Generated<number>;
  order_id: string;
  /** 'sandbox' (or another gateway id), 'postal', 'bank' */
  channel: string;
  /** the gateway's transaction number, or the bank/postal transfer reference */
  trade_no: string;
  amount_fen: number;
  paid_at: number;
  recorded_at: number;
  recorded_by: string;
  /** JSON: what the gateway or the staff member sent */
  raw: string;
}

export interface SandboxTradeTable {
  trade_no: string;
  merchant_id: string;
  out_trade_no: string;
  amount_fen: number;
  subject: string;
  notify_url: string;
  return_url: string;
  status: 'pending' | 'paid' | 'closed';
  bank: string | null;
  created_at: number;
  paid_at: number | null;
  notify_attempts: number;
  next_notify_at: number | null;
  notified_at: number | null;
}

export interface LoginChallengeTable {
  nonce: string;
  origin: string;
  /** SHA-256 (hex) of the exact challenge text issued; a login must have signed those bytes */
  text_sha256: string | null;
  expires_at: number;
  used_at: number | null;
}

export interface PortalSessionTable {
  /** sha256 of the cookie value: a database reader cannot hijack sessions */
  id: string;
  holder_id: number | null;
  certificate_serial: string;
  csrf_token: string;
  renewal_only: number;
  created_at: number;
  last_seen_at: number;
  ended_at: number | null;
}

export type StaffRole = 'operator' | 'reviewer' | 'auditor' | 'admin' | 'kmc';

export interface StaffAccountTable {
  id: Generated<number>;
  username: string;
  display_name: string;
  /** comma-separated StaffRole values */
  roles: string;
  /** argon2id PHC string */
  password_hash: string;
  /** base32 TOTP secret (RFC 6238) */
  totp_secret: string;
  /** set when the first code was entered (enrolment done) */
  totp_confirmed_at: number | null;
  /** the last 30-second step whose code was accepted: a code is never accepted twice */
  totp_last_step: number | null;
  failed_attempts: number;
  locked_until: number | null;
  disabled_at: number | null;
  password_changed_at: number;
  last_login_at: number | null;
  created_at: number;
  created_by: string;
}

export interface StaffSessionTable {
  /** sha256 of the cookie value */
  id: string;
  staff_id: number;
  csrf_token: string;
  /** 0 after the password, 1 after the TOTP code: only full sessions reach the console */
  mfa_passed: number;
  ip: string | null;
  created_at: number;
  last_seen_at: number;
  ended_at: number | null;
}

export interface InvoiceTable {
  id: Generated<number>;
  order_id: string;
  number: string;
  issuer_name: string;
  issuer_tax_id: string;
  buyer_name: string;
  buyer_unique_id: string | null;
  /** JSON: [{ name, quantity, amountFen }] */
  items: string;
  amount_fen: number;
  paid_at: number;
  payment_channel: string;
  payment_trade_no: string;
  status: 'issued' | 'void';
  /** the paper 定额发票 mailed to 发票邮寄地址 */
  paper_status: 'to_mail' | 'mailed' | 'not_required';
  carrier: string | null;
  tracking_no: string | null;
  mailed_at: number | null;
  mailed_by: string | null;
  /** the electronic receipt/invoice, rendered once from the frozen content */
  pdf: Buffer | null;
  pdf_sha256: string | null;
  created_at: number;
  voided_at: number | null;
  void_reason: string | null;
}

/**
 * A payment the order did not need (to refund): the same record as a payment, one per
 * (channel, trade_no), any number per order (order_id not UNIQUE).
 */
export type ExtraPaymentTable = PaymentTable;

export interface RefundTable {
  id: Generated<number>;
  order_id: string;
  /** order: the order's payment (the order becomes refunded); extra: a payment the order did not need */
  kind: 'order' | 'extra';
  channel: string;
  /** the payment being refunded */
  trade_no: string;
  amount_fen: number;
  /** the outgoing transfer's reference */
  refund_reference: string;
  reason: string;
  recorded_by: string;
  recorded_at: number;
}

export interface StatementImportTable {
  id: Generated<number>;
  filename: string;
  sha256: string;
  lines: number;
  recorded: number;
  unmatched: number;
  imported_by: string;
  imported_at: number;
}

export interface StatementLineTable {
  id: Generated<number>;
  source: string;
  transaction_id: string;
  import_id: number;
  line_date: string;
  amount_fen: number;
  memo: string;
  payer: string;
  outcome: string;
  order_id: string | null;
  processed_at: number;
}

/** One row per scheduled job and period: whoever inserted it ran the job for that period. */
export interface JobRunTable {
  job: string;
  /** floor(time / interval): the period this run is for */
  period: number;
  /** the `certdesk serve` process that ran it (host:pid:random) */
  instance: string;
  started_at: number;
  finished_at: number | null;
  error: string | null;
}

/** Request counters shared by every instance (per route and client address). */
export interface RateLimitTable {
  key: string;
  window_start: number;
  hits: number;
}

/** A KMC master key, registered by id and check value (the key itself is never in the database). */
export interface KmcMasterKeyTable {
  /** derived from the key (src/kmc/master-key.ts) */
  id: string;
  algorithm: 'sm4';
  /** HMAC-SM3 check value: a different key never matches */
  check_value: string;
  /** where the key is kept, for operators: 'file:<path>' */
  storage: string;
  created_at: number;
  created_by: string;
}

/** An escrowed SM2 encryption key pair (append-only). */
export interface KmcKeyTable {
  key_id: string;
  /** the order it was made for: unique, so one order never yields two keys */
  request_id: string;
  public_spki: Buffer;
  /** SHA-256 of public_spki (hex), as certificates.spki_sha256 */
  spki_sha256: string;
  /** the private key under the master key (src/kmc/escrow-cipher.ts) */
  encrypted_private_key: Buffer;
  master_key_id: string;
  /** SHA-256 of the signing SPKI the key was first delivered to */
  signing_spki_sha256: string;
  created_at: number;
  created_by: string;
}

export type DocumentMediaType = 'application/pdf' | 'image/jpeg' | 'image/png';

/** A supporting document a holder uploaded (营业执照, 变更通知书, 公安备案 …). */
export interface DocumentTable {
  /** 'DOC' + 20 hex */
  id: string;
  holder_id: number | null;
  /** what it supports, e.g. 'seal_application', 'change_request', 'loss_report' */
  purpose: string;
  /** the name the holder's file had (shown only; the type comes from the content) */
  file_name: string;
  media_type: DocumentMediaType;
  size_bytes: number;
  /** lowercase hex SHA-256 of content */
  sha256: string;
  content: Buffer;
  uploaded_at: number;
  uploaded_by: string;
}

/** A relying application (应用开通): e-tax, social insurance … */
export interface RelyingAppTable {
  id: string;
  name: string;
  name_en: string;
  description: string;
  /** JSON array of certificate type codes it accepts */
  accepted_types: string;
  fee_per_year_fen: number;
  /** the application's API credential: public id, and the hash of its secret */
  credential_id: string;
  credential_hash: string;
  webhook_url: string | null;
  /** HMAC key of X-Certdesk-Signature */
  webhook_secret: string | null;
  active: number;
  created_at: number;
  updated_at: number;
}

/** A holder's certificate enabled for a relying application, for a term. */
export interface AppEnablementTable {
  id: string;
  app_id: string;
  holder_id: number;
  /** the order that paid for it (null for a fee-free or staff-made enablement) */
  order_id: string | null;
  starts_at: number;
  ends_at: number;
  state: 'active' | 'ended';
  created_at: number;
  ended_at: number | null;
}

/** The seal-making unit (制章者) of an SM2 issuing CA. */
export interface SealMakerTable {
  id: string;
  issuing_ca_id: string;
  cert_der: Buffer;
  key_ref: string;
  key_type: string;
  not_before: number;
  not_after: number;
  active: number;
  created_at: number;
}

export type SealStatus = 'valid' | 'revoked';

/** An electronic seal, as currently made (bound to the holder's current signing certificate). */
export interface SealTable {
  es_id: string;
  holder_id: number | null;
  holder_unique_id: string | null;
  type_code: string;
  /** SES_ESPropertyInfo.type */
  type_number: number;
  name: string;
  picture_png: Buffer;
  width_mm: number;
  height_mm: number;
  status: SealStatus;
  valid_start: number;
  valid_end: number;
  term_end: number;
  bound_serial: string;
  maker_id: string;
  generation: number;
  der: Buffer;
  order_id: string | null;
  created_at: number;
  created_by: string;
  updated_at: number;
  revoked_at: number | null;
  revoked_reason: string | null;
  /** the change order (变更证书) whose new 名称 this seal's name no longer matches: apply for a new seal */
  reapply_order: string | null;
  reapply_at: number | null;
}

/** Every seal DER ever made (append-only). */
export interface SealVersionTable {
  es_id: string;
  generation: number;
  bound_serial: string;
  der: Buffer;
  made_at: number;
  made_by: string;
}

/** An electronic seal type (印章种类) in the catalogue. */
export interface SealTypeTable {
  code: string;
  name: string;
  name_en: string;
  price_fen: number;
  validity_days: number;
  /** 1: the seal name must equal the organisation on the holder's certificate (单位公章) */
  name_is_organization: number;
  active: number;
  updated_at: number;
}

export type SealReviewState = 'pending' | 'approved' | 'rejected';

/** A holder's seal application (印章申请): one per order of kind 'seal'. */
export interface SealApplicationTable {
  order_id: string;
  holder_id: number | null;
  /** the holder's signing certificate the seal is bound to (the one logged in when applying) */
  certificate_serial: string;
  type_code: string;
  /** snapshot of the type's name at application */
  type_name: string;
  seal_name: string;
  picture_png: Buffer;
  picture_width_mm: number;
  picture_height_mm: number;
  picture_source: 'generated' | 'uploaded';
  validity_days: number;
  /** the supporting document (公安备案 …) in documents */
  document_id: string;
  review_state: SealReviewState;
  reviewer: string | null;
  reviewed_at: number | null;
  /** why it was rejected, shown to the holder */
  reason: string | null;
  /** the seal made for this application (set once) */
  es_id: string | null;
  made_at: number | null;
  created_at: number;
}

export interface Database {
  job_runs: JobRunTable;
  rate_limits: RateLimitTable;
  cas: CaTable;
  holders: HolderTable;
  certificates: CertificateTable;
  crls: CrlTable;
  shard_crls: ShardCrlTable;
  legacy_crl_scopes: LegacyCrlScopeTable;
  pki_urls: PkiUrlTable;
  crls_owed: CrlOwedTable;
  audit_log: AuditTable;
  certificate_types: CertificateTypeTable;
  prices: PriceTable;
  upgrade_paths: UpgradePathTable;
  upgrade_orders: UpgradeOrderTable;
  settings: SettingTable;
  orders: OrderTable;
  order_events: OrderEventTable;
  payments: PaymentTable;
  extra_payments: ExtraPaymentTable;
  sandbox_trades: SandboxTradeTable;
  login_challenges: LoginChallengeTable;
  portal_sessions: PortalSessionTable;
  staff_accounts: StaffAccountTable;
  staff_sessions: StaffSessionTable;
  invoices: InvoiceTable;
  refunds: RefundTable;
  statement_imports: StatementImportTable;
  statement_lines: StatementLineTable;
  kmc_master_keys: KmcMasterKeyTable;
  kmc_keys: KmcKeyTable;
  documents: DocumentTable;
  relying_apps: RelyingAppTable;
  app_enablements: AppEnablementTable;
  seal_makers: SealMakerTable;
  seals: SealTable;
  seal_versions: SealVersionTable;
  seal_types: SealTypeTable;
  seal_applications: SealApplicationTable;
  revocation_statements: RevocationStatementTable;
  revocation_requests: RevocationRequestTable;
  change_requests: ChangeRequestTable;
  change_reviews: ChangeReviewTable;
  outbox: OutboxTable;
  sms_sandbox: SmsSandboxTable;
}

export type OutboxChannel = 'webhook' | 'email' | 'sms';
/** pending → sent, or pending → dead after the last attempt; a retry puts a dead message back to pending */
export type OutboxState = 'pending' | 'sent' | 'dead';

/** A message the CA owes someone (docs/ARCHITECTURE.md, "Outbox"). */
export interface OutboxTable {
  id: string;
  /** unique: enqueueing the same key again does nothing */
  idempotency_key: string;
  channel: OutboxChannel;
  /** relying app id (webhook), e-mail address or phone number */
  recipient: string;
  /** JSON: the channel's message */
  payload: string;
  state: OutboxState;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  sent_at: number | null;
}

/** A text message the sandbox SMS gateway accepted. */
export interface SmsSandboxTable {
  id: string;
  phone: string;
  body: string;
  created_at: number;
}

/** A holder's change of certificate details (变更证书): one per order of kind 'change' (append-only). */
export interface ChangeRequestTable {
  order_id: string;
  holder_id: number | null;
  /** the certificate whose subject changes */
  certificate_serial: string;
  holder_kind: HolderKind;
  /** JSON NameAttribute[]: the certificate's subject when the change was asked */
  old_subject: string;
  /** JSON NameAttribute[]: the subject the new certificate gets once approved (唯一识别号 unchanged) */
  new_subject: string;
  /** JSON ChangedField[] (src/ra/change-subject.ts): each field changed, old and new value */
  changes: string;
  /** 法定代表人: kept for staff, not written into the certificate */
  legal_representative: string | null;
  reason: string;
  /** JSON string[]: the supporting documents (营业执照 / 变更通知书) in documents */
  document_ids: string;
  created_at: number;
  created_by: string;
}

/** The reviewer's decision on a change request (append-only; one per request). */
export interface ChangeReviewTable {
  order_id: string;
  decision: 'approved' | 'rejected';
  /** why it was rejected (shown to the holder); an optional note on an approval */
  reason: string | null;
  reviewer: string;
  decided_at: number;
}

export interface RevocationStatementTable {
  /** 'RVS' + 20 hex */
  id: string;
  serial: string;
  /** RFC 5280 CRLReason name */
  reason: string;
  source: 'holder' | 'staff';
  /** the statement's one-time nonce (holder statements); null for staff decisions */
  nonce: string | null;
  /** the exact signed JSON (holder) or the decision record JSON (staff) */
  statement: string;
  signature: Buffer | null;
  actor: string;
  /** the 挂失 request a staff decision answers */
  request_id: string | null;
  created_at: number;
}

export type RevocationRequestState = 'pending' | 'approved' | 'rejected';

export interface RevocationRequestTable {
  /** 'RVQ' + 20 hex */
  id: string;
  /** 唯一识别号 as given */
  unique_id: string;
  /** 名称 as given */
  name: string;
  contact: string;
  reason: string;
  /** the certificate it identifies, if any (never shown to the requester) */
  matched_serial: string | null;
  /** the serial the requester named (证书序列号, optional), normalised; matched only if it is a live one of theirs */
  given_serial: string | null;
  state: RevocationRequestState;
  reviewer: string | null;
  decision_reason: string | null;
  reviewed_at: number | null;
  created_at: number;
}
