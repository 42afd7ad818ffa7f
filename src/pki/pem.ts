// PEM armour (RFC 7468).
export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Returns the DER of every PEM block with the given label (any label when omitted). */
export function fromPemAll(text: string, label?: string): Buffer[] {
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  const out: Buffer[] = [];
  for (const m of text.matchAll(re)) {
    if (label && m[1] !== label) continue;
    out.push(Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64'));
  }
  return out;
}

export function fromPem(text: string, label: string): Buffer {
  const [first] = fromPemAll(text, label);
  if (!first) throw new Error(`no PEM block "${label}" found`);
  return first;
}

/** Accepts DER bytes or PEM text with the given label. */
export function derOrPem(input: Buffer, label: string): Buffer {
  const head = input.subarray(0, 64).toString('latin1');
  return head.includes('-----BEGIN') ? fromPem(input.toString('latin1'), label) : input;
}
