// A change of PKI_URL (a CA moving its PKI host) with certificates out under the old one. Each
// certificate names its shard's CRL under the PKI_URL it was issued under, for its lifetime; the
// shard's CRL must name that URL in its issuingDistributionPoint or relying parties refuse it as out
// of scope. So the shard CRL lists its URL under every PKI_URL in use, and is re-signed as soon as a
// new one appears — `openssl verify -crl_check` accepts it for certificates from before and after.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { shardCrlUrl } from '../src/ca/urls.js';
import { toPem } from '../src/pki/pem.js';
import { latestCrl, owedCrlScopes } from '../src/sa/crls.js';
import { BACKENDS } from './helpers/backends.js';
import { createTestCa, openssl, opensslCsr, type TestCa } from './helpers/ca.js';
import { cliAsync } from './helpers/cli.js';

const OLD = 'http://pki-old.example.test';
const NEW = 'https://pki.example.test';
const LATER = 'https://pki2.example.test';

for (const backend of BACKENDS) {
  describe(`CRL shards across a change of PKI_URL (${backend.name})`, { skip: backend.skip }, () => {
    let ca: TestCa;
    let files: { root: string; chain: string };
    let caId: string;
    const withUrl = (url: string): NodeJS.ProcessEnv => ({ ...ca.env, PKI_URL: url });

    /** `certdesk ca issue` under `pkiUrl`, as an operator would after changing it: the PEM file and serial */
    const issueUnder = async (pkiUrl: string, cn: string): Promise<{ file: string; serial: string }> => {
      const csr = path.join(ca.dir, `${cn}.csr`);
      writeFileSync(csr, opensslCsr(ca.dir, `/CN=${cn}/O=迁移/C=CN`).csr);
      const r = await cliAsync(['ca', 'issue', '--csr', csr, '--profile', 'org-identity'], withUrl(pkiUrl));
      assert.equal(r.status, 0, r.stderr);
      const file = path.join(ca.dir, `${cn}.pem`);
      writeFileSync(file, r.stdout);
      const serial = /serial=([0-9A-F]+)/i.exec(openssl(['x509', '-in', file, '-noout', '-serial']).out)![1]!;
      return { file, serial: serial.toLowerCase() };
    };
    const shardCrlFile = async (name: string): Promise<{ file: string; text: string; number: number }> => {
      const crl = (await latestCrl(ca.rt.storage.db, caId, 0))!;
      const file = path.join(ca.dir, `${name}.crl.pem`);
      writeFileSync(file, toPem('X509 CRL', crl.der));
      const v = openssl(['crl', '-in', file, '-noout', '-verify', '-CAfile', files.chain, '-text']);
      assert.equal(v.status, 0, v.out);
      return { file, text: v.out, number: crl.crl_number };
    };
    const idpUris = (text: string): string[] => {
      const idp = /Issuing Distribution Point: critical\s+Full Name:\s+([\s\S]*?)\s+Only User Certificates/.exec(text);
      assert.ok(idp, text);
      return [...idp[1]!.matchAll(/URI:(\S+)/g)].map((m) => m[1]!);
    };
    const verify = (cert: string, crl: string) =>
      openssl(['verify', '-crl_check', '-CRLfile', crl, '-CAfile', files.root, '-untrusted', files.chain, cert]);
    const dpOf = (cert: string): string =>
      /URI:(\S+)/.exec(openssl(['x509', '-in', cert, '-noout', '-ext', 'crlDistributionPoints']).out)![1]!;

    let old: { file: string; serial: string };
    let moved: { file: string; serial: string };

    before(async () => {
      // one shard: every certificate is in shard 0, so one CRL speaks for all of them
      ca = await createTestCa({ postgres: backend.postgres, env: { CRL_SHARDS: '1', PKI_URL: OLD } });
      files = ca.files();
      caId = ca.rt.ca.issuing.record.id;
      old = await issueUnder(OLD, 'old-host');
      await ca.rt.ca.generateCrl(caId, 'test', 0);
    });
    after(async () => ca?.cleanup());

    test('before the change: the shard CRL names the one URL its certificates carry', async () => {
      assert.equal(dpOf(old.file), shardCrlUrl(OLD, caId, 0));
      const crl = await shardCrlFile('before');
      assert.deepEqual(idpUris(crl.text), [shardCrlUrl(OLD, caId, 0)]);
      assert.match(verify(old.file, crl.file).out, /: OK/);
    });

    test('the first certificate under a new PKI_URL: the shard CRL is re-signed to name both URLs first', async () => {
      const before = (await latestCrl(ca.rt.storage.db, caId, 0))!.crl_number;
      moved = await issueUnder(NEW, 'new-host');
      assert.equal(dpOf(moved.file), shardCrlUrl(NEW, caId, 0));
      const crl = await shardCrlFile('after');
      assert.ok(crl.number > before, `CRL ${crl.number} re-signed after ${before}`);
      assert.deepEqual(idpUris(crl.text), [shardCrlUrl(OLD, caId, 0), shardCrlUrl(NEW, caId, 0)]);
      assert.deepEqual(await owedCrlScopes(ca.rt.storage.db, caId), [], 're-signed, so nothing is left owed');
      // both generations of certificates find their CRL in scope (error 44 "different CRL scope" otherwise)
      for (const c of [old, moved]) {
        const v = verify(c.file, crl.file);
        assert.equal(v.status, 0, v.out);
        assert.match(v.out, /: OK/);
      }
      // the change is on record, with the URL it followed, before the CRL that names it
      const audit = await ca.rt.storage.db
        .selectFrom('audit_log')
        .select(['seq', 'action', 'target', 'details'])
        .where('action', 'in', ['pki_url.recorded', 'crl.published'])
        .orderBy('seq', 'desc')
        .limit(2)
        .execute();
      assert.deepEqual(
        audit.reverse().map((a) => [a.action, a.target]),
        [
          ['pki_url.recorded', NEW],
          ['crl.published', `${caId}/0`],
        ],
      );
      assert.deepEqual(JSON.parse(audit[0]!.details), { earlier: [OLD] });
    });

    test('a revocation under the new URL: the old certificate is revoked on a CRL it accepts, the new one OK', async () => {
      const r = await cliAsync(['ca', 'revoke', '--serial', old.serial, '--reason', 'superseded'], withUrl(NEW));
      assert.equal(r.status, 0, r.stderr);
      const crl = await shardCrlFile('revoked');
      assert.deepEqual(idpUris(crl.text), [shardCrlUrl(OLD, caId, 0), shardCrlUrl(NEW, caId, 0)]);
      const v = verify(old.file, crl.file);
      assert.notEqual(v.status, 0, v.out);
      assert.match(v.out, /certificate revoked/);
      assert.match(verify(moved.file, crl.file).out, /: OK/);
    });

    test('a database without the record (from before it): the newest certificate’s URL is recovered', async () => {
      await ca.rt.storage.db.deleteFrom('pki_urls').execute();
      // a start under yet another URL: the URL in the newest certificate (NEW) is recorded as earlier
      const later = await issueUnder(LATER, 'later-host');
      const crl = await shardCrlFile('recovered');
      assert.deepEqual(idpUris(crl.text), [shardCrlUrl(NEW, caId, 0), shardCrlUrl(LATER, caId, 0)]);
      for (const c of [moved, later]) assert.match(verify(c.file, crl.file).out, /: OK/);
    });
  });
}
