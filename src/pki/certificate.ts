// Parsing X.509 certificates into the fields the rest of the system needs.
import * as der from './der.js';
import { decodeName, nameToString, type NameAttribute } from './name.js';
import { OID } from './oids.js';

export interface Extension {
  oid: string;
  critical: boolean;
  value: Buffer;
}

export interface ParsedCertificate {
  der: Buffer;
  tbs: Buffer;
  serialHex: string;
  issuer: NameAttribute[];
  issuerDer: Buffer;
  subject: NameAttribute[];
  subjectDer: Buffer;
  notBefore: Date;
  notAfter: Date;
  spki: Buffer;
  extensions: Extension[];
  signatureAlgId: der.Node;
  signature: Buffer;
}

export function parseExtensions(node: der.Node): Extension[] {
  return der.children(der.expect(node, der.Tag.SEQUENCE, 'Extensions')).map((e) => {
    const parts = der.children(der.expect(e, der.Tag.SEQUENCE, 'Extension'));
    const oid = der.decodeOid(parts[0]!);
    let critical = false;
    let valueNode = parts[1];
    if (valueNode?.tag === der.Tag.BOOLEAN) {
      critical = der.content(valueNode)[0] !== 0;
      valueNode = parts[2];
    }
    return { oid, critical, value: der.content(der.expect(valueNode, der.Tag.OCTET_STRING, 'extnValue')) };
  });
}

export function parseCertificate(input: Buffer): ParsedCertificate {
  const root = der.parse(input);
  const [tbsNode, sigAlg, sigNode] = der.children(der.expect(root, der.Tag.SEQUENCE, 'Certificate'));
  const tbs = der.expect(tbsNode, der.Tag.SEQUENCE, 'TBSCertificate');
  const f = der.children(tbs);
  let i = 0;
  if (f[0]?.tag === 0xa0) i++; // version
  const serialHex = der.decodeIntHex(f[i++]!);
  i++; // signature algorithm inside TBS
  const issuerNode = f[i++]!;
  const [nb, na] = der.children(der.expect(f[i++], der.Tag.SEQUENCE, 'Validity'));
  const subjectNode = f[i++]!;
  const spkiNode = der.expect(f[i++], der.Tag.SEQUENCE, 'SubjectPublicKeyInfo');
  let extensions: Extension[] = [];
  for (; i < f.length; i++) {
    if (f[i]!.tag === 0xa3) extensions = parseExtensions(der.children(f[i]!)[0]!);
  }
  return {
    der: input,
    tbs: der.raw(tbs),
    serialHex,
    issuer: decodeName(issuerNode),
    issuerDer: der.raw(issuerNode),
    subject: decodeName(subjectNode),
    subjectDer: der.raw(subjectNode),
    notBefore: der.decodeTime(nb!),
    notAfter: der.decodeTime(na!),
    spki: der.raw(spkiNode),
    extensions,
    signatureAlgId: der.expect(sigAlg, der.Tag.SEQUENCE, 'signatureAlgorithm'),
    signature: der.decodeBitString(der.expect(sigNode, der.Tag.BIT_STRING, 'signature')),
  };
}

export const subjectString = (c: ParsedCertificate): string => nameToString(c.subject);

export function findExtension(c: { extensions: Extension[] }, oid: string): Extension | undefined {
  return c.extensions.find((e) => e.oid === oid);
}

/** The URIs in a certificate's CRL distribution points (fullName only; none without the extension). */
export function crlDistributionPointUris(c: { extensions: Extension[] }): string[] {
  const e = findExtension(c, OID.cRLDistributionPoints);
  if (!e) return [];
  const uris: string[] = [];
  // SEQUENCE OF DistributionPoint { distributionPoint [0] { fullName [0] GeneralNames } … }
  for (const dp of der.children(der.parse(e.value))) {
    const name = der.children(dp).find((n) => n.tag === 0xa0);
    const fullName = name && der.children(name).find((n) => n.tag === 0xa0);
    for (const g of fullName ? der.children(fullName) : []) if (g.tag === 0x86) uris.push(der.content(g).toString('latin1'));
  }
  return uris;
}
