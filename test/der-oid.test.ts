// OBJECT IDENTIFIER decoding (src/pki/der.ts): exact for every arc size, strict about the encoding.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as der from '../src/pki/der.js';

const decode = (bytes: number[]): string => der.decodeOid(der.parse(Buffer.from([der.Tag.OID, bytes.length, ...bytes])));

test('OIDs decode back to what was encoded, arcs beyond 2^53 (2.25 UUIDs) exactly', () => {
  for (const o of [
    '1.2.840.10045.4.3.2',
    '2.5.29.15',
    '1.2.156.10197.1.501',
    '0.9.2342.19200300.100.1.25',
    '2.25.329800735698586629295641978511506172918',
    '2.999.18446744073709551616',
    '2.18446744073709551616',
  ])
    assert.equal(der.decodeOid(der.parse(der.oid(o))), o);
});

test('a truncated or non-minimal OID is refused, not read as a shorter one', () => {
  assert.throws(() => decode([0x2a, 0x86]), /ends inside a subidentifier/);
  assert.throws(() => decode([0x2a, 0x80, 0x01]), /leading 0x80/);
  assert.throws(() => decode([]), /empty OID/);
});
