// The seal application shapes the portal and the staff console exchange with the server
// (docs/PORTAL-API.md 印章申请); the web imports these, never a copy.
import type { SealTypeTable } from '../sa/schema.js';

export interface SealTypeView {
  code: string;
  /** 单位公章 … */
  name: string;
  nameEn: string;
  priceFen: number;
  validityDays: number;
  /** the seal's name must be the organisation on the certificate (单位公章) */
  nameIsOrganization: boolean;
  active: boolean;
}

/** A seal_types row (src/sa/schema.ts SealTypeTable) as the web sees it. */
export const sealTypeView = (t: SealTypeTable): SealTypeView => ({
  code: t.code,
  name: t.name,
  nameEn: t.name_en,
  priceFen: t.price_fen,
  validityDays: t.validity_days,
  nameIsOrganization: t.name_is_organization === 1,
  active: t.active === 1,
});

export type SealReviewStateView = 'pending' | 'approved' | 'rejected';

export interface SealApplicationView {
  orderId: string;
  orderState: string;
  typeCode: string;
  typeName: string;
  sealName: string;
  /** data: URL of the PNG, for an <img> */
  picture: string;
  widthMm: number;
  heightMm: number;
  pictureSource: 'generated' | 'uploaded';
  validityDays: number;
  reviewState: SealReviewStateView;
  /** why it was rejected (shown to the holder) */
  reason: string | null;
  reviewedAt: string | null;
  esId: string | null;
  madeAt: string | null;
  /** the seal's validity end, once made (made + validityDays) */
  validUntil: string | null;
  amountFen: number;
  createdAt: string;
  certificateSerial: string;
  document: { id: string; fileName: string; mediaType: string; sizeBytes: number } | null;
  /**
   * The seal's name was the holder's old 名称, which a change of details (变更证书, order `orderId`)
   * replaced: it still works, but no longer names the holder — apply for a new one.
   */
  reapply: { orderId: string; at: string } | null;
}

/** The staff queue adds the holder. */
export interface SealReviewView extends SealApplicationView {
  holder: { name: string | null; uniqueId: string | null };
  reviewer: string | null;
}
