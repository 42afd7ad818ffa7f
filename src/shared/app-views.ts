// What the relying-application API (/api/apps/v1) and the portal's 应用开通 answer: shared with the
// web pages (type-only there) so neither re-declares the other.

export interface AppEnablementView {
  startsAt: string;
  endsAt: string;
  state: 'active' | 'ended';
}

/** GET /api/portal/apps: one application open to the holder's certificate. */
export interface AppOfferView {
  id: string;
  name: string;
  nameEn: string;
  description: string;
  feePerYearFen: number;
  /** the enablement in force or starting later (null: not enabled) */
  enabled: AppEnablementView | null;
}

/** /api/apps/v1: a certificate as a relying application sees it (only for its own holders). */
export interface AppCertificateView {
  serial: string;
  status: 'valid' | 'revoked' | 'expired';
  revocationReason: string | null;
  notBefore: string;
  notAfter: string;
  certificateType: string | null;
  holder: { uniqueId: string | null; name: string | null };
  /** the certificate is valid AND its holder's enablement for this application is in force now */
  enabled: boolean;
  enablement: AppEnablementView | null;
}

/** /api/apps/v1/holders/:uniqueId: the holder's enablement and current certificates. */
export interface AppHolderView {
  uniqueId: string;
  name: string;
  enabled: boolean;
  enablement: AppEnablementView | null;
  certificates: { serial: string; status: 'valid' | 'revoked' | 'expired'; notAfter: string; certificateType: string | null }[];
}
