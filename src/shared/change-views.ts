// The change-of-details shapes (变更证书, docs/PORTAL-API.md; 变更审核, docs/STAFF.md) the portal and
// the staff console exchange with the server; the web imports these, never a copy.
import type { OrderKind } from '../sa/schema.js';
/** The details a holder may change (src/ra/change-subject.ts has the rules). */
export type ChangeField = 'organization' | 'personName' | 'province' | 'locality' | 'legalRepresentative';

export type ChangeReviewStateView = 'pending' | 'approved' | 'rejected';

export interface ChangeFieldView {
  field: ChangeField;
  /** the subject attribute it is written to (O, CN, ST, L); null for 法定代表人 (not in the certificate) */
  attribute: string | null;
  old: string | null;
  new: string;
}

export interface ChangeDocumentView {
  id: string;
  fileName: string;
  mediaType: string;
  sizeBytes: number;
  /** lowercase hex SHA-256 of the bytes reviewed */
  sha256: string;
  /** where the holder (portal) or staff (console) download it */
  url: string;
}

/** A seal whose name was the old 名称: it keeps working, and must be applied for again under the new name. */
export interface SealToReapplyView {
  esId: string;
  name: string;
  typeCode: string;
  /** marked already (the new certificate is issued), or will be once it is */
  marked: boolean;
}

export interface ChangeRequestView {
  orderId: string;
  orderState: string;
  amountFen: number;
  paymentMethod: string;
  certificateSerial: string;
  holderKind: 'org' | 'person';
  uniqueId: string | null;
  /** RFC 4514, most specific first */
  oldSubject: string;
  newSubject: string;
  changes: ChangeFieldView[];
  legalRepresentative: string | null;
  reason: string;
  documents: ChangeDocumentView[];
  reviewState: ChangeReviewStateView;
  /** the rejection reason (shown to the holder), or a note on an approval */
  reviewReason: string | null;
  reviewedAt: string | null;
  /** the new certificate keeps the old end: a change does not extend the term */
  notAfter: string | null;
  issuedSerial: string | null;
  sealsToReapply: SealToReapplyView[];
  createdAt: string;
}

/** The staff queue adds the holder, the reviewer and who recorded the payment (four eyes). */
export interface ChangeReviewView extends ChangeRequestView {
  holder: { name: string | null; uniqueId: string | null };
  reviewer: string | null;
  paymentRecordedBy: string | null;
}

/** GET /api/portal/change: what the logged-in certificate's holder may change, at what price. */
export interface ChangeTermsView {
  certificateSerial: string;
  holderKind: 'org' | 'person';
  fields: ChangeField[];
  current: Record<ChangeField, string | null>;
  uniqueId: string | null;
  notAfter: string;
  priceFen: number;
  paymentMethods: string[];
  /** the open order (renewal, upgrade or change) that blocks a new change, if any */
  openOrder: { id: string; kind: OrderKind; state: string } | null;
  maxDocuments: number;
  maxDocumentBytes: number;
}
