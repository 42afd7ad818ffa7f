// The renewal window of a certificate: from `beforeDays` before notAfter to `afterDays` after it.
// The catalogue sets the days per certificate type; the default (92, "three months either side" in
// the seed manual) is what the key assistant shows, as it does not know the CA's catalogue.
// Pure, like china-date.ts: the RA, the key assistant and the web app compute it the same way.
export interface RenewalWindow {
  opensAt: Date;
  closesAt: Date;
}

export const DEFAULT_RENEWAL_DAYS = 92;
const DAY_MS = 86_400_000;

export function renewalWindow(
  notAfter: Date,
  beforeDays: number = DEFAULT_RENEWAL_DAYS,
  afterDays: number = DEFAULT_RENEWAL_DAYS,
): RenewalWindow {
  return {
    opensAt: new Date(notAfter.getTime() - beforeDays * DAY_MS),
    closesAt: new Date(notAfter.getTime() + afterDays * DAY_MS),
  };
}

export const inRenewalWindow = (w: RenewalWindow, now: Date = new Date()): boolean => now >= w.opensAt && now <= w.closesAt;
