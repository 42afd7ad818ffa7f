// Typed attribute access. graphene's getAttribute(name) returns `any`; these narrow the value and
// turn "the token does not have this attribute" into undefined instead of an exception.
import type * as graphene from 'graphene-pk11';
import { Pkcs11Error } from './errors.js';

type Obj = graphene.SessionObject;
/** a graphene attribute name (see graphene's ITemplate), or a raw CKA_ number (read as a Buffer) */
type Attr = string | number;

function read(obj: Obj, attr: Attr): unknown {
  try {
    // two calls because graphene's overloads do not accept the union
    return typeof attr === 'number' ? obj.getAttribute(attr) : (obj.getAttribute(attr) as unknown);
  } catch {
    // CKR_ATTRIBUTE_TYPE_INVALID / _SENSITIVE: not present or not readable on this object
    return undefined;
  }
}

export function attrBuffer(obj: Obj, name: Attr): Buffer | undefined {
  const v = read(obj, name);
  return Buffer.isBuffer(v) ? v : undefined;
}

export function attrString(obj: Obj, name: string): string | undefined {
  const v = read(obj, name);
  return typeof v === 'string' ? v : undefined;
}

export function attrNumber(obj: Obj, name: string): number | undefined {
  const v = read(obj, name);
  return typeof v === 'number' ? v : undefined;
}

export function attrBool(obj: Obj, name: string): boolean | undefined {
  const v = read(obj, name);
  return typeof v === 'boolean' ? v : undefined;
}

/** Reads an attribute the caller cannot do without; throws a Pkcs11Error naming it. */
export function requireBuffer(obj: Obj, name: Attr, what: string): Buffer {
  const v = attrBuffer(obj, name);
  if (!v) {
    const shown = typeof name === 'number' ? `0x${name.toString(16)}` : name;
    throw new Pkcs11Error(`${what}: the token did not return attribute ${shown}`, 'FAILED');
  }
  return v;
}

/** CKA_ID as the hex string KeyRef carries. */
export const idHex = (obj: Obj): string => attrBuffer(obj, 'id')?.toString('hex') ?? '';

/** Parses a hex CKA_ID; accepts upper or lower case, no separators. */
export function parseIdHex(id: string): Buffer {
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(id)) {
    throw new Pkcs11Error(`key id must be a non-empty even-length hex string, got ${JSON.stringify(id)}`, 'INVALID_ARGUMENT');
  }
  return Buffer.from(id, 'hex');
}
