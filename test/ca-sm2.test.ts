// An SM2 CA end to end, checked by OpenSSL 3.0 with distid 1234567812345678: the hierarchy link by
// link (3.0 cannot verify a whole SM2 chain at once, see SM2.md), the CRL and OCSP signatures over
// the bytes `asn1parse -strparse` extracts, OCSP good/revoked for an SM2 leaf; and ECDSA beside it.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as der from '../src/pki/der.js';
import { toPem } from '../src/pki/pem.js';
import { createTestCa, opensslAsync, opensslCsr, type TestCa } from './helpers/ca.js';
import { cli } from './helpers/cli.js';
import { serveTestCa, type ServedCa } from './helpers/holder.js';
import { opensslVerifySm2Signed, scratch, SM2_DISTID } from './helpers/sm2.js';

const DISTID = SM2_DISTID;
const s = scratch('ca-sm2');
after(() => s.cleanup());

const opensslVerifySigned = (name: string, signed: Buffer, signerCertPem: string): string =>
  opensslVerifySm2Signed(s, name, signed, signerCertPem);

describe('SM2 CA', () => {
  let served: ServedCa;
  let ca: TestCa;
  let rootFile: string;
  let issuingFile: string;
  const issueSm2 = async (cn: string): Promise<{ file: string; serial: string }> => {
    const { csr } = opensslCsr(s.dir, `/CN=${cn}/O=测试/C=CN`, ['-newkey', 'sm2', '-sm3', '-sigopt', DISTID]);
    const issued = await ca.rt.ca.issue({ csr, profileId: 'org-identity', actor: 'test' });
    return { file: s.write(`${issued.record.serial}.pem`, toPem('CERTIFICATE', issued.der)), serial: issued.record.serial };
  };
  const ocsp = async (leaf: string): Promise<{ out: string; resp: Buffer }> => {
    const respFile = path.join(s.dir, `ocsp-${path.basename(leaf)}.der`);
    // -noverify: OpenSSL 3.0 would check the SM2 signature with the empty ID; it is checked below with distid.
    const r = await opensslAsync([
      'ocsp',
      '-issuer',
      issuingFile,
      '-cert',
      leaf,
      '-url',
      `${served.base}/ocsp`,
      '-noverify',
      '-respout',
      respFile,
    ]);
    assert.equal(r.status, 0, r.out);
    return { out: r.out, resp: s.read(path.basename(respFile)) };
  };

  before(async () => {
    served = await serveTestCa({ keyType: 'sm2' });
    ca = served.ca;
    rootFile = s.write('root.pem', ca.rootPem);
    issuingFile = s.write('issuing.pem', ca.issuingPem);
  });
  after(async () => served?.close());

  test('root → issuing → leaf verify link by link with distid (and not without)', async () => {
    assert.match(s.ok(['x509', '-in', rootFile, '-noout', '-text']), /Signature Algorithm: SM2-with-SM3[\s\S]*ASN1 OID: SM2/);
    assert.match(s.ok(['verify', '-vfyopt', DISTID, '-CAfile', rootFile, issuingFile]), /issuing\.pem: OK/);
    const leaf = await issueSm2('国密叶子');
    assert.match(s.ok(['verify', '-vfyopt', DISTID, '-partial_chain', '-CAfile', issuingFile, leaf.file]), /: OK/);
    const bare = await opensslAsync(['verify', '-partial_chain', '-CAfile', issuingFile, leaf.file]);
    assert.notEqual(bare.status, 0, 'OpenSSL 3.0 without distid uses the empty ID, so the default-ID signature must fail there');
  });

  test('an ECDSA leaf of the SM2 CA is SM2-signed (the signature follows the issuer key)', async () => {
    const { csr } = opensslCsr(s.dir, '/CN=ECDSA叶子/O=测试/C=CN');
    const issued = await ca.rt.ca.issue({ csr, profileId: 'org-identity', actor: 'test' });
    const leaf = s.write('sm2ca-ecdsa-leaf.pem', toPem('CERTIFICATE', issued.der));
    assert.match(s.ok(['x509', '-in', leaf, '-noout', '-text']), /Signature Algorithm: SM2-with-SM3[\s\S]*ASN1 OID: prime256v1/);
    assert.match(s.ok(['verify', '-vfyopt', DISTID, '-partial_chain', '-CAfile', issuingFile, leaf]), /: OK/);
  });

  test('the CRL is SM2-signed and its signature verifies with distid', async () => {
    const leaf = await issueSm2('CRL国密');
    await ca.rt.ca.revoke(leaf.serial, 'superseded', 'test');
    await ca.rt.ca.generateCrl(ca.rt.ca.issuing.record.id, 'test');
    const res = await fetch(`${served.base}/pki/crl/${ca.rt.ca.issuing.record.id}.crl`);
    assert.equal(res.status, 200);
    const crl = Buffer.from(await res.arrayBuffer());
    const text = s.ok(['crl', '-inform', 'DER', '-in', s.write('issuing.crl', crl), '-noout', '-text']);
    assert.match(text, /Signature Algorithm: SM2-with-SM3/);
    assert.match(text, new RegExp(`Serial Number: ${leaf.serial}`, 'i'));
    assert.match(opensslVerifySigned('crl', crl, ca.issuingPem), /Signature Verified Successfully/);
  });

  test('OCSP: good, then revoked, for an SM2 leaf; the response is SM2-signed by the responder', async () => {
    const leaf = await issueSm2('OCSP国密');
    const good = await ocsp(leaf.file);
    assert.match(good.out, /: good/);
    await ca.rt.ca.revoke(leaf.serial, 'keyCompromise', 'test');
    const revoked = await ocsp(leaf.file);
    assert.match(revoked.out, /: revoked/);
    assert.match(revoked.out, /Reason: keyCompromise/);

    // OCSPResponse { status, [0] { responseType, OCTET STRING BasicOCSPResponse } }
    const [, bytes] = der.children(der.parse(revoked.resp));
    const [, basicOctets] = der.children(der.children(bytes!)[0]!);
    const basic = der.content(basicOctets!);
    assert.match(
      s.ok(['ocsp', '-respin', s.write('resp.der', revoked.resp), '-resp_text', '-noverify']),
      /Signature Algorithm: SM2-with-SM3/,
    );
    const responder = ca.rt.ca.responderFor(ca.rt.ca.issuing.record.id);
    assert.ok(responder, 'the SM2 issuing CA has an OCSP responder');
    const responderPem = toPem('CERTIFICATE', responder.record.cert_der);
    assert.match(opensslVerifySigned('ocsp', basic, responderPem), /Signature Verified Successfully/);
    const responderFile = s.write('responder.pem', responderPem);
    assert.match(s.ok(['verify', '-vfyopt', DISTID, '-partial_chain', '-CAfile', issuingFile, responderFile]), /: OK/);
  });
});

describe('ECDSA CA in the same run', () => {
  let ca: TestCa;
  before(async () => {
    ca = await createTestCa({ keyType: 'ec-p256' });
  });
  after(async () => ca?.cleanup());

  test('an ECDSA hierarchy still verifies as a whole chain', async () => {
    const { csr } = opensslCsr(s.dir, '/CN=ECDSA叶子/O=测试/C=CN');
    const issued = await ca.rt.ca.issue({ csr, profileId: 'org-identity', actor: 'test' });
    const files = ca.files();
    const leaf = s.write('ecdsa-leaf.pem', toPem('CERTIFICATE', issued.der));
    assert.match(s.ok(['x509', '-in', leaf, '-noout', '-text']), /Signature Algorithm: ecdsa-with-SHA256/);
    assert.match(s.ok(['verify', '-CAfile', files.root, '-untrusted', files.chain, leaf]), /: OK/);
  });

  test('an SM2 leaf of the ECDSA CA is ECDSA-signed and verifies as a whole chain', async () => {
    const { csr } = opensslCsr(s.dir, '/CN=国密叶子/O=测试/C=CN', ['-newkey', 'sm2', '-sm3', '-sigopt', DISTID]);
    const issued = await ca.rt.ca.issue({ csr, profileId: 'org-identity', actor: 'test' });
    const files = ca.files();
    const leaf = s.write('ecdsaca-sm2-leaf.pem', toPem('CERTIFICATE', issued.der));
    assert.match(s.ok(['x509', '-in', leaf, '-noout', '-text']), /Signature Algorithm: ecdsa-with-SHA256[\s\S]*ASN1 OID: SM2/);
    assert.match(s.ok(['verify', '-CAfile', files.root, '-untrusted', files.chain, leaf]), /: OK/);
  });
});

describe('certdesk ca init --key-type sm2', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'certdesk-ca-sm2-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dir, CA_KEY_PASSPHRASE: 'cli-sm2-passphrase' };
  delete env.DATABASE_URL;

  test('PKCS#11 is refused for SM2 with a clear message, before anything is made', () => {
    const r = cli(['ca', 'init', '--key-type', 'sm2', '--pkcs11-module', '/nonexistent.so', '--pkcs11-token', 't'], env);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--key-type sm2 needs software keys/);
    assert.deepEqual(readdirSync(dir), []);
  });

  test('makes an SM2 hierarchy through the built CLI', () => {
    const r = cli(['ca', 'init', '--key-type', 'sm2'], env);
    assert.equal(r.status, 0, r.stderr);
    for (const kind of ['root', 'issuing', 'ocsp']) assert.match(r.stdout, new RegExp(`created ${kind} .*\\(sm2, software\\)`));
    assert.match(r.stdout, /created root .*certdesk Demo SM2 Root CA/, 'SM2 CA names are told apart from the RSA/ECDSA ones');
    const keys = readdirSync(path.join(dir, 'keys'));
    assert.equal(keys.length, 3);
    for (const k of keys) assert.match(readFileSync(path.join(dir, 'keys', k), 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);
  });

  test('adds an ECDSA hierarchy beside it; a second hierarchy of either family is refused', () => {
    const ecdsa = cli(['ca', 'init', '--key-type', 'ec-p256'], env);
    assert.equal(ecdsa.status, 0, ecdsa.stderr);
    assert.match(ecdsa.stdout, /created root .*certdesk Demo Root CA\s+\(ec-p256, software\)/);
    const sm2Again = cli(['ca', 'init', '--key-type', 'sm2'], env);
    assert.equal(sm2Again.status, 1);
    assert.match(
      sm2Again.stderr,
      /already holds a CA hierarchy of the SM2 family \(root-[0-9a-f]+, issuing-[0-9a-f]+, ocsp-[0-9a-f]+\)/,
    );
    const rsa = cli(['ca', 'init', '--key-type', 'rsa-2048'], env);
    assert.equal(rsa.status, 1);
    assert.match(rsa.stderr, /already holds a CA hierarchy of the RSA\/ECDSA family/);
    assert.equal(readdirSync(path.join(dir, 'keys')).length, 6, 'a refused init makes no key');
    const roots = cli(['ca', 'roots'], env);
    assert.equal(roots.status, 0, roots.stderr);
    assert.equal(roots.stdout.match(/BEGIN CERTIFICATE/g)?.length, 2, 'ca roots prints both roots');
    assert.equal(cli(['ca', 'chain'], env).stdout.match(/BEGIN CERTIFICATE/g)?.length, 2, 'ca chain prints both issuing CAs');
    const rotated = cli(['ca', 'rotate-responder'], env);
    assert.equal(rotated.status, 0, rotated.stderr);
    assert.match(rotated.stdout, /rotated the OCSP responder of issuing-[0-9a-f]+: ocsp-[0-9a-f]+ \(sm2,/);
    assert.match(rotated.stdout, /rotated the OCSP responder of issuing-[0-9a-f]+: ocsp-[0-9a-f]+ \(ec-p256,/);
  });
});
