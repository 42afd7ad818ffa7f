// A one-event iCalendar file (RFC 5545) for reminder mails: an all-day VEVENT on the certificate's
// last day of validity, in China time (the day the holder sees on the certificate).

const CHINA_OFFSET_MS = 8 * 3600_000;

/** YYYYMMDD of `at` in China time (UTC+8, no DST). */
export function chinaDate(at: Date): string {
  return new Date(at.getTime() + CHINA_OFFSET_MS).toISOString().slice(0, 10).replace(/-/g, '');
}

function escapeText(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/;/g, '\\;').replace(/,/g, '\\,').replace(/\r?\n/g, '\\n');
}

export function expiryEvent(opts: { uid: string; lastDay: Date; summary: string; description: string; url: string }): string {
  const day = chinaDate(opts.lastDay);
  const next = chinaDate(new Date(opts.lastDay.getTime() + 86_400_000));
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//certdesk//notify//EN',
    'METHOD:PUBLISH',
    'BEGIN:VEVENT',
    `UID:${opts.uid}`,
    `DTSTAMP:${stamp}`,
    `DTSTART;VALUE=DATE:${day}`,
    `DTEND;VALUE=DATE:${next}`,
    `SUMMARY:${escapeText(opts.summary)}`,
    `DESCRIPTION:${escapeText(opts.description)}`,
    `URL:${opts.url}`,
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}
