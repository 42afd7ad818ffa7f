// RFC 5280 §5.3.1 CRLReason codes, by the names operators type. No Node imports: the staff web bundles it.
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;
export type RevocationReason = keyof typeof REVOCATION_REASONS;

/** Reasons a subscriber certificate may be revoked for (holds are not supported: revocation is final). */
export const END_ENTITY_REASONS: RevocationReason[] = [
  'unspecified',
  'keyCompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'privilegeWithdrawn',
];

export function reasonCode(name: string): number {
  if (!(END_ENTITY_REASONS as string[]).includes(name)) {
    throw new RangeError(
      `unknown or unsupported revocation reason ${JSON.stringify(name)}; use one of: ${END_ENTITY_REASONS.join(', ')}`,
    );
  }
  return REVOCATION_REASONS[name as RevocationReason];
}

export function reasonName(code: number): string {
  return Object.entries(REVOCATION_REASONS).find(([, c]) => c === code)?.[0] ?? `reason-${code}`;
}
