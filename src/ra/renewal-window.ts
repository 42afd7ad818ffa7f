// Where renewal eligibility is decided: the window (shared/renewal-window.ts) with the catalogue's
// `renew_before_days` / `renew_after_days` (the seed: three months either side), and the validity
// stacking rule.
import { inRenewalWindow, renewalWindow, type RenewalWindow } from '../shared/renewal-window.js';

export { renewalWindow, type RenewalWindow };

export type Eligibility =
  | { eligible: true; window: RenewalWindow }
  | { eligible: false; reason: 'too_early' | 'too_late' | 'revoked' | 'online_renewal_disabled'; window: RenewalWindow };

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
  if (inRenewalWindow(window, now)) return { eligible: true, window };
  return { eligible: false, reason: now < window.opensAt ? 'too_early' : 'too_late', window };
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
