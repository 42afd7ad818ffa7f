// A CA whose keys live on a PKCS#11 token (SoftHSM2): `certdesk ca init --pkcs11-module …`, then
// issuance, revocation and CRLs through the CLI, checked with OpenSSL and pkcs11-tool.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { toPem } from '../src/pki/pem.js';
import { openssl, opensslCsr } from './helpers/ca.js';
import { cli } from './helpers/cli.js';
import { requireTool } from './helpers/requirements.js';
import { createSoftHsm, type SoftHsm } from './helpers/softhsm.js';

const skip = requireTool('softhsm2');

describe('CA keys on a PKCS#11 token', { skip }, () => {
  let hsm: SoftHsm;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  before(() => {
    hsm = createSoftHsm({ tokens: ['certdesk-ca'] });
    dir = mkdtempSync(path.join(tmpdir(), 'certdesk-p11ca-'));
    env = { ...hsm.env, DATA_DIR: dir, PKCS11_PIN: hsm.pin };
    delete env.DATABASE_URL;
    delete env.CA_KEY_PASSPHRASE;
  });
  after(async () => {
    await hsm?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The token's private keys as pkcs11-tool lists them, after checking that no key went to DATA_DIR. */
  const tokenPrivateKeys = (): string => {
    assert.ok(!existsSync(path.join(dir, 'keys')) || readdirSync(path.join(dir, 'keys')).length === 0, 'no software key files');
    return hsm.pkcs11Tool(['--list-objects', '--login', '--pin', hsm.pin, '--token-label', hsm.token, '--type', 'privkey']);
  };

  /** The newest CRL of every CA and CRL shard (DER, and all in one PEM file), read from the database the CLI publishes to. */
  const newestCrls = (): { file: string; ders: Buffer[] } => {
    const db = new BetterSqlite3(path.join(dir, 'certdesk.sqlite'), { readonly: true });
    try {
      const rows = db
        .prepare(
          `select der from shard_crls s
             where crl_number = (select max(crl_number) from shard_crls where ca_id = s.ca_id and shard = s.shard)
           union all select der from crls c where crl_number = (select max(crl_number) from crls where ca_id = c.ca_id)`,
        )
        .all() as { der: Buffer }[];
      assert.ok(rows.length >= 2, 'a CRL for the root and for the issuing CA');
      const file = path.join(dir, 'crls.pem');
      writeFileSync(file, rows.map((r) => toPem('X509 CRL', r.der)).join(''));
      return { file, ders: rows.map((r) => r.der) };
    } finally {
      db.close();
    }
  };

  test('ca init generates all three keys on the token, none on disk', () => {
    const r = cli(
      ['ca', 'init', '--pkcs11-module', hsm.module, '--pkcs11-token', hsm.token, '--key-type', 'ec-p256', '--org', '协卡测试 CA'],
      env,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /created root .*\(ec-p256, pkcs11\)/);
    assert.match(r.stdout, /created issuing .*\(ec-p256, pkcs11\)/);
    assert.match(r.stdout, /created ocsp .*\(ec-p256, pkcs11\)/);
    const objects = tokenPrivateKeys();
    for (const purpose of ['root', 'issuing', 'ocsp']) assert.match(objects, new RegExp(`label:\\s+certdesk-${purpose}-`));
  });

  test('the CA keys sign and nothing else: private keys sign, public keys verify (pkcs11-tool Usage)', () => {
    const list = (type: string): string =>
      hsm.pkcs11Tool(['--list-objects', '--login', '--pin', hsm.pin, '--token-label', hsm.token, '--type', type]);
    const usages = (out: string): string[] => [...out.matchAll(/^\s*Usage:\s*(.*)$/gm)].map((m) => m[1]!.trim());
    const priv = usages(list('privkey'));
    const pub = usages(list('pubkey'));
    assert.equal(priv.length, 3, 'root, issuing and OCSP keys');
    assert.equal(pub.length, 3);
    for (const u of priv) assert.equal(u, 'sign', `private key usage: ${u}`);
    for (const u of pub) assert.equal(u, 'verify', `public key usage: ${u}`);
  });

  test('a second init on the same database is refused', () => {
    const r = cli(['ca', 'init', '--pkcs11-module', hsm.module, '--pkcs11-token', hsm.token], env);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /already holds a CA hierarchy/);
  });

  test('issue and revoke through the CLI with token keys; OpenSSL verifies chain and CRL', () => {
    const { csrFile } = opensslCsr(dir, '/CN=硬件签发/O=硬件签发/C=CN');
    const issued = cli(['ca', 'issue', '--csr', csrFile, '--profile', 'org-identity'], env);
    assert.equal(issued.status, 0, issued.stderr);
    const certFile = path.join(dir, 'cert.pem');
    writeFileSync(certFile, issued.stdout);
    const root = path.join(dir, 'root.pem');
    const chain = path.join(dir, 'chain.pem');
    writeFileSync(root, cli(['ca', 'roots'], env).stdout);
    writeFileSync(chain, cli(['ca', 'chain'], env).stdout);
    const v = openssl(['verify', '-x509_strict', '-CAfile', root, '-untrusted', chain, certFile]);
    assert.equal(v.status, 0, v.out);
    // the CRLs signed with the token keys verify, and do not list the new certificate yet
    const crlCheck = (): { out: string; status: number } =>
      openssl([
        'verify',
        '-x509_strict',
        '-crl_check_all',
        '-CAfile',
        root,
        '-untrusted',
        chain,
        '-CRLfile',
        newestCrls().file,
        certFile,
      ]);
    const good = crlCheck();
    assert.equal(good.status, 0, good.out);

    const serial = /serial=([0-9A-F]+)/.exec(openssl(['x509', '-in', certFile, '-noout', '-serial']).out)![1]!;
    const rev = cli(['ca', 'revoke', '--serial', serial, '--reason', 'affiliationChanged'], env);
    assert.equal(rev.status, 0, rev.stderr);
    const list = cli(['ca', 'list', '--status', 'revoked'], env);
    assert.match(list.stdout, new RegExp(`${serial.toLowerCase()}\\s+revoked\\(affiliationChanged\\)`));
    // the CRL published by the revocation lists it with its reason, and OpenSSL now refuses the certificate
    const revoked = crlCheck();
    assert.notEqual(revoked.status, 0, revoked.out);
    assert.match(revoked.out, /certificate revoked/);
    const text = newestCrls()
      .ders.map((der) => openssl(['crl', '-inform', 'DER', '-noout', '-text'], der).out)
      .join('\n');
    assert.match(
      text,
      new RegExp(
        `Serial Number: ${serial}\\s+Revocation Date: .*\\s+CRL entry extensions:\\s+X509v3 CRL Reason Code:\\s+Affiliation Changed`,
      ),
    );
  });

  test('rotate-responder makes the new responder key on the same token', () => {
    const r = cli(['ca', 'rotate-responder'], env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /rotated the OCSP responder of issuing-[0-9a-f]+: ocsp-[0-9a-f]+ \(ec-p256,/);
    const objects = tokenPrivateKeys();
    assert.equal(objects.match(/label:\s+certdesk-ocsp-/g)?.length, 2, objects);
  });

  test('without the PIN the CA refuses to start and says which variable to set', () => {
    const noPin = { ...env };
    delete noPin.PKCS11_PIN;
    const r = cli(['ca', 'revoke', '--serial', '01', '--reason', 'keyCompromise'], noPin);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /PKCS11_PIN/);
  });

  test('a wrong PIN is reported without echoing it', () => {
    const r = cli(['ca', 'revoke', '--serial', '01', '--reason', 'keyCompromise'], { ...env, PKCS11_PIN: '999999' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /PIN/i);
    assert.doesNotMatch(r.stderr, /999999/);
  });
});
