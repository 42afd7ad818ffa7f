// A scratch directory for SM2 tests that hand files to the openssl CLI.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as der from '../../src/pki/der.js';
import { defineCurve } from '../../src/pki/sm2-curve.js';
import { fromPem } from '../../src/pki/pem.js';
import { Sm2PrivateKey } from '../../src/pki/sm2.js';
import { openssl } from './ca.js';

/** OpenSSL's option for the default SM2 user ID (GM/T 0009), which OpenSSL 3.0 does not assume. */
export const SM2_DISTID = 'distid:1234567812345678';

/**
 * Has OpenSSL check an SM2 signature over a signed structure (CRL, BasicOCSPResponse, certificate):
 * writes `tbs` (extracted by `openssl asn1parse -strparse`) and the signature, then `pkeyutl -verify … distid`.
 */
export function opensslVerifySm2Signed(s: Scratch, name: string, signed: Buffer, signerCertPem: string): string {
  const file = s.write(`${name}.der`, signed);
  const [tbs, , sig] = der.children(der.parse(signed));
  const tbsFile = path.join(s.dir, `${name}.tbs`);
  s.ok(['asn1parse', '-inform', 'DER', '-in', file, '-strparse', String(tbs!.start), '-noout', '-out', tbsFile]);
  const sigFile = s.write(`${name}.sig`, der.decodeBitString(sig!));
  const pub = s.write(
    `${name}-signer.pub`,
    s.ok(['x509', '-in', s.write(`${name}-signer.pem`, signerCertPem), '-pubkey', '-noout']),
  );
  return s.ok([
    'pkeyutl',
    '-verify',
    '-pubin',
    '-inkey',
    pub,
    '-rawin',
    '-digest',
    'sm3',
    '-pkeyopt',
    SM2_DISTID,
    '-in',
    tbsFile,
    '-sigfile',
    sigFile,
  ]);
}

export interface Scratch {
  dir: string;
  /** writes a file and returns its path */
  write(name: string, data: Buffer | string): string;
  read(name: string): Buffer;
  /** runs openssl in the directory's terms (pass paths from write()); fails the test on a non-zero exit */
  ok(args: string[]): string;
  cleanup(): void;
}

export function scratch(prefix: string): Scratch {
  const dir = mkdtempSync(path.join(tmpdir(), `certdesk-${prefix}-`));
  return {
    dir,
    write(name, data) {
      const f = path.join(dir, name);
      writeFileSync(f, data);
      return f;
    },
    read: (name) => readFileSync(path.join(dir, name)),
    ok(args) {
      const r = openssl(args);
      assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.out}`);
      return r.out;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The private scalar from `openssl pkey -text -noout` ("priv:" hex lines). */
export function opensslPrivHex(text: string): string {
  const m = /priv:\s*([0-9a-f:\s]+?)\s*pub:/i.exec(text);
  assert.ok(m, `no priv: in ${text}`);
  return m[1]!.replace(/[:\s]/g, '').replace(/^00(?=[0-9a-f]{64}$)/i, '');
}

/** The 256-bit test curve of GB/T 32918.2/.4 Annex A (draft-shen-sm2-ecdsa-02), for the standard's examples. */
export const SM2_TEST_CURVE = defineCurve({
  p: 0x8542d69e4c044f18e8b92435bf6ff7de457283915c45517d722edb8b08f1dfc3n,
  a: 0x787968b4fa32c3fd2417842e73bbfeff2f3c848b6831d7e0ec65228b3937e498n,
  b: 0x63e4c6d3b23b0c849cf84241484bfe48f61d59a5b16ba06e6e12d1da27c5249an,
  Gx: 0x421debd61b62eab6746434ebc3cc315e32220b3badd50bdc4c4e6c147fedd43dn,
  Gy: 0x0680512bcbb42c07d47349d2153b70c4e5d7fdfcbfa36ea1a85841b9e46e09a2n,
  n: 0x8542d69e4c044f18e8b92435bf6ff7dd297720630485628d5ae74ee7c32e79b7n,
});

/** An SM2 key and self-signed certificate made by OpenSSL (an independent implementation) in `s`. */
export function opensslSm2(s: Scratch, name: string, subject: string): { key: Sm2PrivateKey; certDer: Buffer; certPem: string } {
  s.ok(
    ['req', '-x509', '-newkey', 'sm2', '-nodes', '-keyout', `${s.dir}/${name}.key`, '-out', `${s.dir}/${name}.pem`].concat([
      '-sm3',
      '-sigopt',
      SM2_DISTID,
      '-subj',
      subject,
      '-days',
      '30',
    ]),
  );
  const certPem = s.read(`${name}.pem`).toString();
  return { key: Sm2PrivateKey.fromPem(s.read(`${name}.key`).toString()), certDer: fromPem(certPem, 'CERTIFICATE'), certPem };
}
