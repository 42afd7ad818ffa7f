// Issuance through the CA core, checked with real OpenSSL, on every storage backend.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CaError } from '../src/ca/errors.js';
import { generateKeyPair, spkiOf, signatureAlgorithmFor } from '../src/pki/algorithms.js';
import { findExtension, parseCertificate } from '../src/pki/certificate.js';
import { buildCsr } from '../src/pki/csr.js';
import * as der from '../src/pki/der.js';
import { GMT_IDENTITY_OID, readHolderIdentity } from '../src/pki/holder-identity.js';
import { attributeValue, nameToString } from '../src/pki/name.js';
import { OID } from '../src/pki/oids.js';
import { toPem } from '../src/pki/pem.js';
import { verifyAuditChain } from '../src/sa/audit.js';
import { getCertificate } from '../src/sa/certificates.js';
import { createTestCa, openssl, opensslCsr, type TestCa } from './helpers/ca.js';
import { BACKENDS } from './helpers/backends.js';
import { sign } from 'node:crypto';
import pg from 'pg';

for (const backend of BACKENDS) {
  describe(`CA issuance (${backend.name})`, { skip: backend.skip }, () => {
    let ca: TestCa;
    before(async () => {
      ca = await createTestCa({ postgres: backend.postgres });
    });
    after(async () => ca?.cleanup());

    const write = (name: string, data: Buffer | string): string => {
      const f = path.join(ca.dir, name);
      writeFileSync(f, data);
      return f;
    };

    test('an OpenSSL CSR with a Chinese subject becomes a certificate OpenSSL verifies strictly', async () => {
      const { csr } = opensslCsr(ca.dir, '/CN=企业测试/O=企业测试/C=CN');
      const issued = await ca.rt.ca.issue({ csr, profileId: 'org-identity', uniqueId: '001120438184130111', actor: 'test' });
      const files = ca.files();
      const certFile = write('c1.pem', toPem('CERTIFICATE', issued.der));
      const v = openssl(['verify', '-x509_strict', '-CAfile', files.root, '-untrusted', files.chain, certFile]);
      assert.equal(v.status, 0, v.out);
      assert.match(v.out, /OK/);

      const text = openssl(['x509', '-in', certFile, '-noout', '-text', '-nameopt', 'utf8,sep_comma_plus_space']).out;
      assert.match(text, /Subject: C=CN, O=企业测试, CN=企业测试/);
      assert.match(text, /Key Usage: critical\s+Digital Signature, Non Repudiation/);
      assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
      assert.match(text, /TLS Web Client Authentication/);
      assert.match(text, /OCSP - URI:http:\/\/localhost:8080\/ocsp/);
      assert.match(text, /CA Issuers - URI:http:\/\/localhost:8080\/pki\/ca\/issuing-[0-9a-f]+\.cer/);
      assert.match(text, /URI:http:\/\/localhost:8080\/pki\/crl\/issuing-[0-9a-f]+\/\d+\.crl/); // its CRL shard
      assert.match(text, /Subject Key Identifier/);
      assert.match(text, /Authority Key Identifier/);
      assert.doesNotMatch(text, /Certificate Policies/, 'no policies unless configured');
      assert.doesNotMatch(text, /E-mail Protection/, 'no e-mail purpose without an e-mail address');

      const parsed = parseCertificate(issued.der);
      // the 唯一识别号 is the subject serialNumber, which every verifier parses
      assert.equal(nameToString(parsed.subject), 'serialNumber=001120438184130111, CN=企业测试, O=企业测试, C=CN');
      assert.equal(parsed.extensions.filter((e) => e.oid.startsWith('2.25.')).length, 0, 'nothing under the 2.25 arc');
      // not a valid 统一社会信用代码 (check character), so no GM/T 0015 extension
      assert.equal(findExtension(parsed, GMT_IDENTITY_OID.orgCode), undefined);
    });

    test('the 唯一识别号: serialNumber, the GM/T 0015 identity extension for a USCC / ID number, UNIQUE_ID_OID as well when set', async () => {
      const issueWith = async (on: TestCa, subject: string, profileId: string, uniqueId: string) =>
        parseCertificate(
          (await on.rt.ca.issue({ csr: opensslCsr(on.dir, subject).csr, profileId, uniqueId, actor: 'test' })).der,
        );
      const uscc = '91350100M000100Y43';
      const orgCert = await issueWith(ca, '/CN=福建测试/O=福建测试/C=CN', 'org-identity', uscc);
      assert.equal(attributeValue(orgCert.subject, 'serialNumber'), uscc);
      const gmt = findExtension(orgCert, GMT_IDENTITY_OID.orgCode);
      assert.ok(gmt, 'GM/T 0015 1.2.156.10260.4.1.4 present');
      assert.equal(gmt.critical, false);
      assert.deepEqual(
        gmt.value,
        Buffer.concat([Buffer.from([0x13, 18]), Buffer.from(uscc)]),
        'extnValue is a DER PrintableString',
      );
      assert.deepEqual(readHolderIdentity(orgCert), { uniqueId: uscc, kind: 'org' });

      const idNo = '11010519491231002X';
      const personCert = await issueWith(ca, '/CN=张三/C=CN', 'personal-identity', idNo);
      assert.ok(findExtension(personCert, GMT_IDENTITY_OID.personId), 'GM/T 0015 1.2.156.10260.4.1.1 present');
      assert.equal(findExtension(personCert, GMT_IDENTITY_OID.orgCode), undefined);
      assert.deepEqual(readHolderIdentity(personCert), { uniqueId: idNo, kind: 'person' });
      // a requested serialNumber that is not the 唯一识别号 is refused, naming the field
      await assert.rejects(
        issueWith(ca, '/CN=李四/serialNumber=OTHER1/C=CN', 'personal-identity', idNo),
        (e: unknown) => e instanceof CaError && e.field === 'subject.serialNumber',
      );

      const own = await createTestCa({ env: { UNIQUE_ID_OID: '1.3.6.1.4.1.99999.1' } });
      try {
        const p = await issueWith(own, '/CN=企业测试/O=企业测试/C=CN', 'org-identity', 'ABC-123');
        assert.equal(attributeValue(p.subject, 'serialNumber'), 'ABC-123');
        assert.equal(der.decodeString(der.parse(findExtension(p, '1.3.6.1.4.1.99999.1')!.value)), 'ABC-123');
        assert.equal(readHolderIdentity(p, { uniqueIdOid: '1.3.6.1.4.1.99999.1' }).uniqueId, 'ABC-123');
      } finally {
        await own.cleanup();
      }
    });

    test('the certificate is recorded (with an audit entry) before issue() returns', async () => {
      const { csr } = opensslCsr(ca.dir, '/CN=张三/C=CN');
      const issued = await ca.rt.ca.issue({ csr, profileId: 'personal-identity', actor: 'test' });
      const row = await getCertificate(ca.rt.storage.db, issued.record.serial);
      assert.ok(row);
      assert.deepEqual(Buffer.from(row.der), issued.der);
      assert.equal(row.status, 'valid');
      assert.equal(row.profile, 'personal-identity');
      assert.equal(row.not_after, parseCertificate(issued.der).notAfter.getTime());
      const audit = await ca.rt.storage.db
        .selectFrom('audit_log')
        .selectAll()
        .where('target', '=', issued.record.serial)
        .execute();
      assert.equal(audit.length, 1);
      assert.equal(audit[0]!.action, 'certificate.issued');
      const chain = await verifyAuditChain(ca.rt.storage.db);
      assert.equal(chain.ok, true);
      assert.equal(chain.entries, (await ca.rt.storage.db.selectFrom('audit_log').select('seq').execute()).length);
    });

    test('serials are positive, at least 64 random bits, and unique across concurrent issuance', async () => {
      const { csr } = opensslCsr(ca.dir, '/CN=并发/C=CN');
      const issued = await Promise.all(
        Array.from({ length: 60 }, () => ca.rt.ca.issue({ csr, profileId: 'personal-identity', actor: 'test' })),
      );
      const serials = new Set(issued.map((i) => i.record.serial));
      assert.equal(serials.size, 60);
      for (const i of issued) {
        const p = parseCertificate(i.der);
        assert.equal(p.serialHex, i.record.serial);
        assert.ok(p.serialHex.length >= 30, `serial ${p.serialHex} has at least 120 bits`);
      }
      const count = await ca.rt.storage.db
        .selectFrom('certificates')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('serial', 'in', [...serials])
        .executeTakeFirst();
      assert.equal(Number(count?.n), 60);
    });

    test('issuing for the same order twice returns the same certificate, concurrently too', async () => {
      const { csr } = opensslCsr(ca.dir, '/CN=订单/O=订单/C=CN');
      const results = await Promise.all(
        Array.from({ length: 10 }, () => ca.rt.ca.issue({ csr, profileId: 'org-identity', orderId: 'order-42', actor: 'test' })),
      );
      const serials = new Set(results.map((r) => r.record.serial));
      assert.equal(serials.size, 1, 'one certificate for one order');
      assert.equal(results.filter((r) => r.fresh).length, 1);
      const rows = await ca.rt.storage.db
        .selectFrom('certificates')
        .select('serial')
        .where('order_id', '=', 'order-42')
        .execute();
      assert.equal(rows.length, 1);
    });

    test('--subject replaces the CSR subject; --days and explicit notAfter set validity', async () => {
      const { csr } = opensslCsr(ca.dir, '/CN=ignored');
      const issued = await ca.rt.ca.issue({
        csr,
        profileId: 'org-identity',
        subject: [
          { type: 'C', value: 'CN' },
          { type: 'O', value: '上海测试有限公司' },
          { type: 'CN', value: '上海测试有限公司' },
        ],
        days: 30,
        actor: 'test',
      });
      const p = parseCertificate(issued.der);
      assert.equal(nameToString(p.subject), 'CN=上海测试有限公司, O=上海测试有限公司, C=CN');
      const days = (p.notAfter.getTime() - Date.now()) / 86400000;
      assert.ok(days > 29.9 && days <= 30, `validity ${days} days`);
      const notAfter = new Date(Date.now() + 400 * 86400000);
      const stacked = await ca.rt.ca.issue({ csr, profileId: 'org-identity', subject: p.subject, notAfter, actor: 'test' });
      assert.equal(parseCertificate(stacked.der).notAfter.getTime(), Math.floor(notAfter.getTime() / 1000) * 1000);
    });

    test('RSA-2048 and RSA-3072 keys are accepted; the certificate verifies', async () => {
      for (const bits of [2048, 3072]) {
        const { csr } = opensslCsr(ca.dir, `/CN=rsa${bits}/O=RSA/C=CN`, ['-newkey', `rsa:${bits}`]);
        const issued = await ca.rt.ca.issue({ csr, profileId: 'org-identity', actor: 'test' });
        const f = write(`rsa${bits}.pem`, toPem('CERTIFICATE', issued.der));
        const files = ca.files();
        assert.equal(openssl(['verify', '-x509_strict', '-CAfile', files.root, '-untrusted', files.chain, f]).status, 0);
      }
    });

    const refuses = async (p: Promise<unknown>, code: string, field: RegExp, message: RegExp): Promise<void> => {
      await assert.rejects(p, (e: unknown) => {
        assert.ok(e instanceof CaError, `CaError expected, got ${String(e)}`);
        assert.equal(e.code, code);
        assert.match(e.field ?? '', field);
        assert.match(e.message, message);
        return true;
      });
    };

    test('bad CSRs are refused with a precise error', async () => {
      const { csr } = opensslCsr(ca.dir, '/CN=x/O=y/C=CN');
      const tampered = Buffer.from(csr);
      // flip a byte inside the subject: the self-signature no longer verifies
      const at = tampered.indexOf(Buffer.from('x'));
      tampered[at] = 'z'.charCodeAt(0);
      await refuses(
        ca.rt.ca.issue({ csr: tampered, profileId: 'org-identity', actor: 't' }),
        'bad_csr',
        /csr/,
        /signature does not verify/,
      );
      await refuses(
        ca.rt.ca.issue({ csr: Buffer.from('not a csr'), profileId: 'org-identity', actor: 't' }),
        'bad_csr',
        /csr/,
        /not valid DER/,
      );
      await refuses(
        ca.rt.ca.issue({ csr: csr.subarray(0, csr.length - 5), profileId: 'org-identity', actor: 't' }),
        'bad_csr',
        /csr/,
        /truncated|not valid/,
      );
    });

    test('key types and sizes outside the profile are refused', async () => {
      const p384 = opensslCsr(ca.dir, '/CN=x/O=y', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384']).csr;
      await refuses(
        ca.rt.ca.issue({ csr: p384, profileId: 'org-identity', actor: 't' }),
        'key_not_allowed',
        /csr/,
        /ec-p384 is not allowed/,
      );
      const rsa1024 = opensslCsr(ca.dir, '/CN=x/O=y', ['-newkey', 'rsa:1024']).csr;
      await refuses(
        ca.rt.ca.issue({ csr: rsa1024, profileId: 'org-identity', actor: 't' }),
        'bad_csr',
        /csr/,
        /1024 bits is not supported/,
      );
      const ed = opensslCsr(ca.dir, '/CN=x/O=y', ['-newkey', 'ed25519']).csr;
      await refuses(
        ca.rt.ca.issue({ csr: ed, profileId: 'org-identity', actor: 't' }),
        'bad_csr',
        /csr/,
        /ed25519 is not supported/,
      );
    });

    test('subject fields outside the profile, missing or malformed are refused naming the field', async () => {
      const noO = opensslCsr(ca.dir, '/CN=只有名称').csr;
      await refuses(
        ca.rt.ca.issue({ csr: noO, profileId: 'org-identity', actor: 't' }),
        'bad_subject',
        /subject\.O/,
        /O is required/,
      );
      const street = opensslCsr(ca.dir, '/CN=x/O=y/street=Road 1').csr;
      await refuses(
        ca.rt.ca.issue({ csr: street, profileId: 'org-identity', actor: 't' }),
        'bad_subject',
        /subject\.street/,
        /not allowed/,
      );
      await refuses(
        ca.rt.ca.issue({
          csr: noO,
          profileId: 'org-identity',
          subject: [
            { type: 'C', value: 'China' },
            { type: 'O', value: 'o' },
            { type: 'CN', value: 'c' },
          ],
          actor: 't',
        }),
        'bad_subject',
        /subject\.C/,
        /two-letter/,
      );
      await refuses(
        ca.rt.ca.issue({ csr: noO, profileId: 'nope', actor: 't' }),
        'unknown_profile',
        /profile/,
        /known: org-identity, personal-identity/,
      );
      await refuses(
        ca.rt.ca.issue({ csr: noO, profileId: 'personal-identity', uniqueId: 'bad id!', actor: 't' }),
        'bad_subject',
        /uniqueId/,
        /唯一识别号/,
      );
    });

    test('validity beyond the profile maximum or the issuing CA is refused', async () => {
      const { csr } = opensslCsr(ca.dir, '/CN=x/O=y');
      await refuses(
        ca.rt.ca.issue({ csr, profileId: 'org-identity', days: 5000, actor: 't' }),
        'bad_validity',
        /days/,
        /exceeds profile org-identity's maximum/,
      );
      await refuses(
        ca.rt.ca.issue({ csr, profileId: 'org-identity', notAfter: new Date(Date.now() - 1000), actor: 't' }),
        'bad_validity',
        /notAfter/,
        /past/,
      );
    });

    if (backend.postgres) {
      test('PostgreSQL connections terminated while idle: the process lives on and the next issuance reconnects', async () => {
        const { csr } = opensslCsr(ca.dir, '/CN=重连/C=CN');
        await ca.rt.ca.issue({ csr, profileId: 'personal-identity', actor: 'test' }); // leaves idle pooled connections
        const dbName = new URL(ca.config.databaseUrl!).pathname.slice(1);
        const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
        await admin.connect();
        try {
          const killed = await admin.query(
            'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
            [dbName],
          );
          assert.ok(killed.rowCount! > 0, 'the runtime held idle connections');
        } finally {
          await admin.end();
        }
        await new Promise((r) => setTimeout(r, 200)); // the FATAL message reaches the idle sockets
        const again = await ca.rt.ca.issue({ csr, profileId: 'personal-identity', actor: 'test' });
        assert.equal((await getCertificate(ca.rt.storage.db, again.record.serial))?.status, 'valid');
      });
    }

    test('a CSR built by our own builder (as the key assistant does) is accepted', async () => {
      const { privateKey, publicKey } = generateKeyPair('ec-p256');
      const csr = await buildCsr({
        subject: [
          { type: 'C', value: 'CN' },
          { type: 'O', value: '协卡' },
          { type: 'CN', value: '协卡' },
        ],
        spki: spkiOf(publicKey),
        signatureAlgId: signatureAlgorithmFor('ec-p256').algId,
        sign: (d) => sign('sha256', d, { key: privateKey, dsaEncoding: 'der' }),
      });
      const req = openssl(['req', '-inform', 'DER', '-verify', '-noout'], csr);
      assert.equal(req.status, 0, req.out);
      const issued = await ca.rt.ca.issue({ csr, profileId: 'org-identity', actor: 't' });
      assert.equal(parseCertificate(issued.der).spki.equals(spkiOf(publicKey)), true);
      assert.ok(findExtension(parseCertificate(issued.der), OID.authorityInfoAccess));
    });
  });
}
