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
}

export interface CrlTable {
  ca_id: string;
  crl_number: number;
  this_update: number;
  next_update: number;
  der: Buffer;
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

export interface Database {
  cas: CaTable;
  holders: HolderTable;
  certificates: CertificateTable;
  crls: CrlTable;
  audit_log: AuditTable;
}
