// Where the renewal window is decided: from `renew_before_days` before notAfter to
// `renew_after_days` after it (the seed: three months either side), and the validity stacking rule.
export interface RenewalWindow {
  opensAt: Date;
  closesAt: Date;
}

export type Eligibility =
  | { eligible: true; window: RenewalWindow }
  | { eligible: false; reason: 'too_early' | 'too_late' | 'revoked' | 'online_renewal_disabled'; window: RenewalWindow };

const DAY = 86_400_000;

export function renewalWindow(notAfter: Date, beforeDays: number, afterDays: number): RenewalWindow {
  return { opensAt: new Date(notAfter.getTime() - beforeDays * DAY), closesAt: new Date(notAfter.getTime() + afterDays * DAY) };
}

export function renewalEligibility(opts: {
  notAfter: Date;
  revoked: boolean;
  onlineRenewal: boolean;
  beforeDays: number;
  afterDays: number;
  now?: Date;
}): Eligibility {
  const now = opts.now ?? new Date();
  const window = renewalWindow(opts.notAfter, opts.beforeDays, opts.afterDays);
  if (opts.revoked) return { eligible: false, reason: 'revoked', window };
  if (!opts.onlineRenewal) return { eligible: false, reason: 'online_renewal_disabled', window };
  if (now < window.opensAt) return { eligible: false, reason: 'too_early', window };
  if (now > window.closesAt) return { eligible: false, reason: 'too_late', window };
  return { eligible: true, window };
}

/** Adds calendar years in UTC; 29 February becomes 28 February in a non-leap year. */
export function addYears(d: Date, years: number): Date {
  const r = new Date(d.getTime());
  r.setUTCFullYear(r.getUTCFullYear() + years);
  if (r.getUTCDate() !== d.getUTCDate()) r.setUTCDate(0);
  return r;
}

/** Validity stacking (BJCA's rule): unexpired → old notAfter + term; expired → now + term. */
export function renewedNotAfter(oldNotAfter: Date, termYears: number, now = new Date()): Date {
  return addYears(oldNotAfter > now ? oldNotAfter : now, termYears);
}
