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
  const ocsp = async (leaf: string, extra: string[] = []): Promise<{ out: string; resp: Buffer; req: Buffer }> => {
    const base = path.join(s.dir, `ocsp-${path.basename(leaf)}`);
    // -noverify: OpenSSL 3.0 would check the SM2 signature with the empty ID (and skips its nonce
    // check with it); both are checked by the tests with distid and the bytes.
    const r = await opensslAsync([
      'ocsp',
      '-issuer',
      issuingFile,
      '-cert',
      leaf,
      '-url',
      `${served.base}/ocsp`,
      '-noverify',
      ...extra,
      '-reqout',
      `${base}.req.der`,
      '-respout',
      `${base}.der`,
    ]);
    assert.equal(r.status, 0, r.out);
    return { out: r.out, resp: s.read(`${path.basename(base)}.der`), req: s.read(`${path.basename(base)}.req.der`) };
  };
  /** The BasicOCSPResponse inside an OCSPResponse { status, [0] { responseType, OCTET STRING } }. */
  const basicOf = (resp: Buffer): Buffer => {
    const [, bytes] = der.children(der.parse(resp));
    const [, basicOctets] = der.children(der.children(bytes!)[0]!);
    return der.content(basicOctets!);
  };
  const responderPem = (): string => {
    const responder = ca.rt.ca.responderFor(ca.rt.ca.issuing.record.id);
    assert.ok(responder, 'the SM2 issuing CA has an OCSP responder');
    return toPem('CERTIFICATE', responder.record.cert_der);
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

    assert.match(
      s.ok(['ocsp', '-respin', s.write('resp.der', revoked.resp), '-resp_text', '-noverify']),
      /Signature Algorithm: SM2-with-SM3/,
    );
    assert.match(opensslVerifySigned('ocsp', basicOf(revoked.resp), responderPem()), /Signature Verified Successfully/);
    const responderFile = s.write('responder.pem', responderPem());
    assert.match(s.ok(['verify', '-vfyopt', DISTID, '-partial_chain', '-CAfile', issuingFile, responderFile]), /: OK/);
  });

  test('OCSP over HTTP with a nonce: each SM2-signed response carries the nonce of its request', async () => {
    const leaf = await issueSm2('OCSP随机数');
    const nonces = new Set<string>();
    for (const extra of [['-nonce'], []]) {
      // `openssl ocsp` sends a nonce by default too; -nonce makes it explicit.
      const r = await ocsp(leaf.file, extra);
      assert.match(r.out, /: good/);
      const reqText = s.ok(['ocsp', '-reqin', s.write('nonce-req.der', r.req), '-req_text']);
      const respText = s.ok(['ocsp', '-respin', s.write('nonce-resp.der', r.resp), '-resp_text', '-noverify']);
      const nonceOf = (text: string): string => {
        const m = /OCSP Nonce:\s*\n?\s*([0-9A-F]+)/i.exec(text);
        assert.ok(m, `no OCSP Nonce in:\n${text}`);
        return m[1]!.toUpperCase();
      };
      const nonce = nonceOf(reqText);
      assert.equal(nonceOf(respText), nonce, 'the response echoes the request nonce');
      nonces.add(nonce);
      // The nonce is inside the signed ResponseData; the signature over those bytes verifies with distid.
      assert.match(opensslVerifySigned('ocsp-nonce', basicOf(r.resp), responderPem()), /Signature Verified Successfully/);
    }
    assert.equal(nonces.size, 2, 'a fresh nonce per request, so a fresh signature per response');
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
    assert.match(r.stdout, /created seal maker seal-[0-9a-f]+ +\(sm2, valid until /, 'an SM2 hierarchy has a seal-making unit');
    const keys = readdirSync(path.join(dir, 'keys'));
    assert.equal(keys.length, 4, 'root, issuing, OCSP responder and seal maker');
    for (const k of keys) assert.match(readFileSync(path.join(dir, 'keys', k), 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);
  });

  // An OpenSSL-made key and CSR (`openssl req -new -key k.pem -sm3 -sigopt distid:…`), as a holder or
  // an RA operator would make them, through `certdesk ca issue` of the hierarchy made above.
  const sm2Key = (): string => s.write('cli-sm2-key.pem', s.ok(['genpkey', '-algorithm', 'sm2']));
  const sm2Csr = (keyFile: string, name: string, sigopts: string[]): string => {
    const csrFile = path.join(s.dir, `${name}.csr`);
    s.ok(['req', '-new', '-key', keyFile, '-sm3', ...sigopts, '-subj', '/CN=命令行国密/O=测试/C=CN', '-utf8', '-out', csrFile]);
    return csrFile;
  };

  test('certdesk ca issue: an OpenSSL SM2 CSR (distid 1234567812345678) becomes a certificate OpenSSL verifies with distid', () => {
    const keyFile = sm2Key();
    const csrFile = sm2Csr(keyFile, 'cli-distid', ['-sigopt', DISTID]);
    const r = cli(['ca', 'issue', '--csr', csrFile, '--profile', 'org-identity'], env);
    assert.equal(r.status, 0, r.stderr);
    const leaf = s.write('cli-sm2-leaf.pem', r.stdout);
    const chain = cli(['ca', 'chain'], env);
    assert.equal(chain.status, 0, chain.stderr);
    const issuing = s.write('cli-issuing.pem', chain.stdout);
    assert.match(s.ok(['x509', '-in', leaf, '-noout', '-text']), /Signature Algorithm: SM2-with-SM3[\s\S]*ASN1 OID: SM2/);
    assert.match(s.ok(['verify', '-vfyopt', DISTID, '-partial_chain', '-CAfile', issuing, leaf]), /cli-sm2-leaf\.pem: OK/);
    // The certificate is for the CSR's key.
    const certPub = s.ok(['x509', '-in', leaf, '-noout', '-pubkey']);
    assert.equal(certPub, s.ok(['pkey', '-in', keyFile, '-pubout']));
  });

  test('certdesk ca issue: an SM2 CSR signed with the empty ID (OpenSSL without distid) is refused, saying so', () => {
    const csrFile = sm2Csr(sm2Key(), 'cli-empty-id', []);
    const r = cli(['ca', 'issue', '--csr', csrFile, '--profile', 'org-identity'], env);
    assert.equal(r.status, 1, r.stdout);
    assert.equal(r.stdout, '', 'no certificate printed');
    assert.match(r.stderr, /empty SM2 ID/);
    assert.match(r.stderr, /1234567812345678/);
    assert.match(r.stderr, /\[csr\]/);
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
    assert.equal(readdirSync(path.join(dir, 'keys')).length, 7, 'a refused init makes no key');
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
