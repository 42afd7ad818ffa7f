// The URLs written into certificates (CRL DP, AIA OCSP and caIssuers) come from PKI_URL when it is
// set, so an https portal (PUBLIC_URL) still gives relying parties plain-http status URLs.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { toPem } from '../src/pki/pem.js';
import { createTestCa, openssl, opensslCsr, type TestCa } from './helpers/ca.js';

describe('PKI_URL', () => {
  let ca: TestCa;
  before(async () => {
    ca = await createTestCa({ env: { PUBLIC_URL: 'https://portal.example.test', PKI_URL: 'http://pki.example.test/' } });
  });
  after(() => ca.cleanup());

  test('is the base of the status URLs in the CA certificates and in every leaf; PUBLIC_URL stays the portal', async () => {
    assert.equal(ca.rt.config.publicUrl, 'https://portal.example.test');
    const { csr } = opensslCsr(ca.dir, '/CN=企业测试/O=企业测试/C=CN');
    const issued = await ca.rt.ca.issue({ csr, profileId: 'org-identity', uniqueId: '001120438184130111', actor: 'test' });
    const leaf = path.join(ca.dir, 'pki-url-leaf.pem');
    writeFileSync(leaf, toPem('CERTIFICATE', issued.der));
    for (const file of [leaf, ca.files().chain]) {
      const text = openssl(['x509', '-in', file, '-noout', '-text']).out;
      assert.match(text, /CA Issuers - URI:http:\/\/pki\.example\.test\/pki\/ca\//, file);
      assert.match(text, /URI:http:\/\/pki\.example\.test\/pki\/crl\//, file);
      assert.doesNotMatch(text, /portal\.example\.test/, file);
    }
    assert.match(openssl(['x509', '-in', leaf, '-noout', '-ocsp_uri']).out.trim(), /^http:\/\/pki\.example\.test\/ocsp$/);
  });

  test('defaults to PUBLIC_URL, and a value that is not an http(s) URL is refused naming the variable', () => {
    assert.equal(loadConfig({ PUBLIC_URL: 'https://portal.example.test' }).pkiUrl, 'https://portal.example.test');
    assert.throws(
      () => loadConfig({ PKI_URL: 'ldap://pki.example.test' }),
      (e: unknown) => e instanceof ConfigError && /^PKI_URL must be an http\(s\) URL/.test(e.message),
    );
  });
});
