// Distinguished names: encode subject/issuer DNs as UTF-8 (Chinese names stay intact), decode any
// DirectoryString, and print them RFC 4514 style (most specific first: "CN=企业测试, O=企业测试, C=CN").
import * as der from './der.js';
import { OID } from './oids.js';

export interface NameAttribute {
  /** short name (CN, O, OU, C, ST, L, …) or dotted OID for types we do not name */
  type: string;
  value: string;
}

const SHORT: Record<string, string> = {
  CN: OID.commonName,
  SN: OID.surname,
  serialNumber: OID.serialNumber,
  C: OID.countryName,
  L: OID.localityName,
  ST: OID.stateOrProvinceName,
  street: OID.streetAddress,
  O: OID.organizationName,
  OU: OID.organizationalUnitName,
  title: OID.title,
  GN: OID.givenName,
  emailAddress: OID.emailAddress,
};
const BY_OID = new Map(Object.entries(SHORT).map(([k, v]) => [v, k]));

/** The canonical order we write attributes in (least specific first in the DER). */
export const ATTRIBUTE_ORDER = ['C', 'ST', 'L', 'street', 'O', 'OU', 'title', 'SN', 'GN', 'CN', 'serialNumber', 'emailAddress'];

export class NameError extends Error {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'NameError';
  }
}

export const isKnownAttribute = (type: string): boolean => type in SHORT;

function encodeValue(type: string, value: string): Buffer {
  if (type === 'C') {
    if (!/^[A-Z]{2}$/.test(value)) throw new NameError(`C must be a two-letter country code, got ${JSON.stringify(value)}`, 'C');
    return der.printableString(value);
  }
  if (type === 'emailAddress') {
    if (!/^[\x21-\x7e]+@[\x21-\x7e]+$/.test(value)) throw new NameError('emailAddress must be an ASCII e-mail address', type);
    return der.ia5String(value);
  }
  if (type === 'serialNumber') {
    if (!/^[A-Za-z0-9 '()+,\-./:=?]+$/.test(value)) throw new NameError('serialNumber must be printable ASCII', type);
    return der.printableString(value);
  }
  return der.utf8String(value);
}

export function encodeName(attrs: NameAttribute[]): Buffer {
  const rdns = attrs.map((a) => {
    const oidStr = SHORT[a.type] ?? (/^\d+(\.\d+)+$/.test(a.type) ? a.type : undefined);
    if (!oidStr) throw new NameError(`unknown subject attribute ${JSON.stringify(a.type)}`, a.type);
    if (a.value.length === 0) throw new NameError(`subject attribute ${a.type} is empty`, a.type);
    if (a.value.length > 256) throw new NameError(`subject attribute ${a.type} is longer than 256 characters`, a.type);
    if (/[\u0000-\u001f\u007f]/.test(a.value))
      throw new NameError(`subject attribute ${a.type} contains control characters`, a.type);
    return der.setOf(der.seq(der.oid(oidStr), encodeValue(a.type, a.value)));
  });
  return der.seq(...rdns);
}

/** Sorts attributes into canonical order (unknown types last, stable). */
export function canonicalOrder(attrs: NameAttribute[]): NameAttribute[] {
  const rank = (t: string): number => {
    const i = ATTRIBUTE_ORDER.indexOf(t);
    return i < 0 ? ATTRIBUTE_ORDER.length : i;
  };
  return attrs
    .map((a, i) => ({ a, i }))
    .sort((x, y) => rank(x.a.type) - rank(y.a.type) || x.i - y.i)
    .map((x) => x.a);
}

export function decodeName(node: der.Node): NameAttribute[] {
  der.expect(node, der.Tag.SEQUENCE, 'Name');
  const out: NameAttribute[] = [];
  for (const rdn of der.children(node)) {
    der.expect(rdn, der.Tag.SET, 'RelativeDistinguishedName');
    for (const atv of der.children(rdn)) {
      const [t, v] = der.children(der.expect(atv, der.Tag.SEQUENCE, 'AttributeTypeAndValue'));
      const oidStr = der.decodeOid(der.expect(t, der.Tag.OID, 'attribute type'));
      if (!v) throw new der.DerError('attribute value missing');
      out.push({ type: BY_OID.get(oidStr) ?? oidStr, value: der.decodeString(v) });
    }
  }
  return out;
}

function escape(v: string): string {
  return v
    .replace(/([,+"\\<>;=])/g, '\\$1')
    .replace(/^([ #])/, '\\$1')
    .replace(/ $/, '\\ ');
}

/** RFC 4514 string, most specific attribute first. */
export function nameToString(attrs: NameAttribute[]): string {
  return [...attrs]
    .reverse()
    .map((a) => `${a.type}=${escape(a.value)}`)
    .join(', ');
}

export function attributeValue(attrs: NameAttribute[], type: string): string | undefined {
  return attrs.find((a) => a.type === type)?.value;
}

/** Builds attributes from a JSON object such as {"CN":"企业测试","O":"企业测试","C":"CN"}. */
export function attributesFromObject(obj: Record<string, unknown>): NameAttribute[] {
  const out: NameAttribute[] = [];
  for (const [type, v] of Object.entries(obj)) {
    const values = Array.isArray(v) ? v : [v];
    for (const value of values) {
      if (typeof value !== 'string') throw new NameError(`subject.${type} must be a string`, type);
      if (!isKnownAttribute(type)) throw new NameError(`unknown subject attribute ${JSON.stringify(type)}`, type);
      out.push({ type, value });
    }
  }
  return canonicalOrder(out);
}
