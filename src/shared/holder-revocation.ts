// The reasons a holder may give for 撤销证书 (RFC 5280 CRLReason names), shared by the server, the
// assistant and the web (no Node imports here: the web bundles it).
export const HOLDER_REVOCATION_REASONS = ['keyCompromise', 'cessationOfOperation', 'affiliationChanged', 'superseded'] as const;
export type HolderRevocationReason = (typeof HOLDER_REVOCATION_REASONS)[number];

export const isHolderRevocationReason = (r: unknown): r is HolderRevocationReason =>
  typeof r === 'string' && (HOLDER_REVOCATION_REASONS as readonly string[]).includes(r);
