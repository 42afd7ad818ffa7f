// Every built-in profile under every CA key type, verified by the four verifier families relying
// parties use: OpenSSL (-x509_strict), Go's crypto/x509 (test/interop/x509check.go), GnuTLS certtool
// and NSS (certutil/vfychain). Also each profile's purposes: TLS client yes, S/MIME no, everywhere.
// With CI=true a missing go/certtool/vfychain/certutil fails; elsewhere the check is skipped, saying why.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { DEFAULT_PROFILES } from '../src/ca/profiles.js';
import type { KeyType } from '../src/pki/algorithms.js';
import { toPem } from '../src/pki/pem.js';
import { createTestCa, openssl, opensslCsr, type TestCa } from './helpers/ca.js';
import { ROOT } from './helpers/cli.js';
import { requireTool, type Tool } from './helpers/requirements.js';

const CA_KEY_TYPES: KeyType[] = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'];
/** A leaf per profile: a 统一社会信用代码 / 居民身份证号, so the GM/T 0015 extension is in it too. */
const LEAF: Record<string, { subject: string; uniqueId: string }> = {
  'org-identity': { subject: '/CN=企业测试/O=企业测试/C=CN', uniqueId: '91350100M000100Y43' },
  'personal-identity': { subject: '/CN=张三/C=CN', uniqueId: '11010519491231002X' },
};
/** The operator's own extension as well, so every verifier meets all three places of the 唯一识别号. */
const OPERATOR_OID = '1.3.6.1.4.1.99999.1.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const EMAIL_PROTECTION = '1.3.6.1.5.5.7.3.4';

function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): { status: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: env ?? process.env, timeout: 120_000 });
  return { status: r.status ?? 1, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** Skips (visibly) when a tool is missing; with CI=true a missing tool is a failure. */
function needs(t: TestContext, ...tools: Tool[]): boolean {
  const why = requireTool(...tools);
  if (why) t.skip(why);
  return !why;
}

describe('a leaf of every profile and CA key type, verified by OpenSSL, Go, GnuTLS and NSS', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'certdesk-interop-'));
  let x509check: string | undefined;
  before(() => {
    if (requireTool('go')) return;
    // Built once; Go's caches stay in the temp dir.
    const bin = path.join(work, 'x509check');
    const env = { ...process.env, GOCACHE: path.join(work, 'gocache'), GOPATH: path.join(work, 'gopath'), GOFLAGS: '' };
    const b = run('go', ['build', '-o', bin, path.join(ROOT, 'test/interop/x509check.go')], env);
    assert.equal(b.status, 0, b.out);
    x509check = bin;
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  for (const keyType of CA_KEY_TYPES) {
    describe(`CA keys ${keyType}`, () => {
      let ca: TestCa;
      let files: { root: string; chain: string; crl: string; crlPem: string };
      before(async () => {
        ca = await createTestCa({ keyType, env: { UNIQUE_ID_OID: OPERATOR_OID } });
        const { root, chain } = ca.files();
        // a revoked certificate, so the CRL has an entry to parse
        const gone = await ca.rt.ca.issue({
          csr: opensslCsr(ca.dir, '/CN=撤销/C=CN').csr,
          profileId: 'personal-identity',
          actor: 'test',
        });
        await ca.rt.ca.revoke(gone.record.serial, 'keyCompromise', 'test');
        const crlDer = Buffer.from((await ca.rt.ca.currentCrl(ca.rt.ca.issuing.record.id)).der);
        const crl = path.join(ca.dir, 'issuing.crl');
        const crlPem = path.join(ca.dir, 'issuing-crl.pem');
        writeFileSync(crl, crlDer);
        writeFileSync(crlPem, toPem('X509 CRL', crlDer));
        files = { root, chain, crl, crlPem };
      });
      after(async () => ca?.cleanup());

      // SM2 profiles need the SM2 hierarchy, which Go, GnuTLS and NSS cannot verify (test/ca-sm2, ca-dual: OpenSSL)
      for (const profile of DEFAULT_PROFILES.filter((p) => !p.keyTypes.every((k) => k === 'sm2'))) {
        describe(profile.id, () => {
          let leaf: string;
          let bundle: string;
          before(async () => {
            const spec = LEAF[profile.id]!;
            const issued = await ca.rt.ca.issue({
              csr: opensslCsr(ca.dir, spec.subject).csr,
              profileId: profile.id,
              uniqueId: spec.uniqueId,
              actor: 'test',
            });
            leaf = path.join(ca.dir, `${profile.id}.pem`);
            bundle = path.join(ca.dir, `${profile.id}-bundle.pem`);
            writeFileSync(leaf, toPem('CERTIFICATE', issued.der));
            writeFileSync(bundle, toPem('CERTIFICATE', issued.der) + ca.issuingPem);
          });

          test('OpenSSL: -x509_strict chain and CRL; purpose sslclient yes, smimesign/smimeencrypt no', () => {
            const base = ['verify', '-x509_strict', '-CAfile', files.root, '-untrusted', files.chain];
            const v = openssl([...base, '-purpose', 'sslclient', '-crl_check', '-CRLfile', files.crlPem, leaf]);
            assert.equal(v.status, 0, v.out);
            for (const purpose of ['smimesign', 'smimeencrypt']) {
              const r = openssl([...base, '-purpose', purpose, leaf]);
              assert.notEqual(r.status, 0, `${purpose} must be refused: ${r.out}`);
              assert.match(r.out, /unsuitable certificate purpose/);
            }
          });

          test('Go crypto/x509: ParseCertificate + Verify (clientAuth; not emailProtection), ParseRevocationList + CheckSignatureFrom', (t) => {
            if (!needs(t, 'go')) return;
            const r = run(x509check!, ['-root', files.root, '-chain', files.chain, '-leaf', leaf, '-crl', files.crl]);
            assert.equal(r.status, 0, r.out);
            assert.match(r.out, new RegExp(`ok parsed leaf serialNumber="${LEAF[profile.id]!.uniqueId}"`));
            assert.match(r.out, /ok verified chain for clientAuth/);
            assert.match(r.out, /ok refused for emailProtection/);
            assert.match(r.out, /ok CRL number \d+ signed by the issuing CA/);
          });

          test('GnuTLS certtool --verify with the chain: client auth purpose yes, e-mail no; the CRL verifies', (t) => {
            if (!needs(t, 'gnutls')) return;
            const verify = (purpose: string) =>
              run('certtool', [
                '--verify',
                '--load-ca-certificate',
                files.root,
                '--infile',
                bundle,
                `--verify-purpose=${purpose}`,
              ]);
            const ok = verify(CLIENT_AUTH);
            assert.equal(ok.status, 0, ok.out);
            assert.match(ok.out, /Chain verification output: Verified/);
            const email = verify(EMAIL_PROTECTION);
            assert.notEqual(email.status, 0, email.out);
            assert.match(email.out, /does not match the intended purpose/);
            const crl = run('certtool', ['--verify-crl', '--load-ca-certificate', files.chain, '--infile', files.crlPem]);
            assert.equal(crl.status, 0, crl.out);
          });

          test('NSS: vfychain / certutil -V: SSL client yes, e-mail signer and recipient no', (t) => {
            if (!needs(t, 'nss')) return;
            const db = path.join(ca.dir, `nss-${profile.id}`);
            mkdirSync(db);
            const d = `sql:${db}`;
            for (const args of [
              ['-N', '-d', d, '--empty-password'],
              ['-A', '-d', d, '-n', 'root', '-t', 'CT,C,C', '-a', '-i', files.root],
              ['-A', '-d', d, '-n', 'issuing', '-t', ',,', '-a', '-i', files.chain],
              ['-A', '-d', d, '-n', 'leaf', '-t', ',,', '-a', '-i', leaf],
            ]) {
              const r = run('certutil', args);
              assert.equal(r.status, 0, `certutil ${args.join(' ')}: ${r.out}`);
            }
            const chain = run('vfychain', ['-d', d, '-u', '0', '-a', leaf, '-a', files.chain]);
            assert.equal(chain.status, 0, chain.out);
            assert.match(chain.out, /Chain is good/);
            for (const usage of ['4', '5']) {
              const r = run('vfychain', ['-d', d, '-u', usage, '-a', leaf, '-a', files.chain]);
              assert.notEqual(r.status, 0, `usage ${usage} must be refused: ${r.out}`);
            }
            const client = run('certutil', ['-V', '-d', d, '-n', 'leaf', '-u', 'C']);
            assert.match(client.out, /certificate is valid/);
            for (const u of ['S', 'R']) assert.match(run('certutil', ['-V', '-d', d, '-n', 'leaf', '-u', u]).out, /is invalid/);
          });
        });
      }
    });
  }
});
