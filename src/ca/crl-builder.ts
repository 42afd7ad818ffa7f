// X.509 v2 CRLs (RFC 5280 §5): CRL number and AKI extensions, a reasonCode entry extension for every
// reason other than unspecified.
import * as der from '../pki/der.js';
import { OID } from '../pki/oids.js';
import type { Signer } from '../signer/signer.js';
import { assemble } from './certificate-builder.js';
import { authorityKeyIdentifier, crlNumber, extension } from './extensions.js';

export interface RevokedEntry {
  serial: string;
  revokedAt: number;
  reason: number | null;
}

export async function buildCrl(opts: {
  signer: Signer;
  issuerName: Buffer;
  issuerKeyId: Buffer;
  number: number;
  thisUpdate: Date;
  nextUpdate: Date;
  revoked: RevokedEntry[];
}): Promise<Buffer> {
  const entries = opts.revoked.map((r) => {
    const parts = [
      der.intFromUnsigned(Buffer.from(r.serial.length % 2 ? '0' + r.serial : r.serial, 'hex')),
      der.time(new Date(r.revokedAt)),
    ];
    if (r.reason !== null && r.reason !== 0) parts.push(der.seq(extension(OID.cRLReason, false, der.enumerated(r.reason))));
    return der.seq(...parts);
  });
  const tbs = der.seq(
    der.int(1),
    opts.signer.algorithm.algId,
    opts.issuerName,
    der.time(opts.thisUpdate),
    der.time(opts.nextUpdate),
    ...(entries.length ? [der.seq(...entries)] : []),
    der.explicit(0, der.seq(authorityKeyIdentifier(opts.issuerKeyId), crlNumber(opts.number))),
  );
  return assemble(tbs, opts.signer.algorithm.algId, await opts.signer.sign(tbs));
}
