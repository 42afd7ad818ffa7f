// Revocation as relying parties see it: OCSP (POST and GET) and CRLs from a running server, checked
// with `openssl ocsp` and `openssl crl`, including revocations made by the CLI in another process.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as der from '../src/pki/der.js';
import { toPem } from '../src/pki/pem.js';
import { crlPathFor, openssl, opensslAsync, opensslCsr, type TestCa } from './helpers/ca.js';
import { BACKENDS } from './helpers/backends.js';
import { serveTestCa, type ServedCa } from './helpers/holder.js';
import { cliAsync } from './helpers/cli.js';
import { verifyAuditChain } from '../src/sa/audit.js';
import { latestCrl, owedCrlScopes } from '../src/sa/crls.js';
import { crlScopesDue } from '../src/ca/crl-scopes.js';
import { getCertificate } from '../src/sa/certificates.js';

/** openssl ocsp as a relying party would run it; resolves with its combined output. */
async function ocspCheck(files: { root: string; chain: string }, certFile: string, url: string): Promise<string> {
  return (await opensslAsync(['ocsp', '-issuer', files.chain, '-cert', certFile, '-url', url, '-CAfile', files.root])).out;
}

for (const backend of BACKENDS) {
  describe(`revocation, OCSP and CRL (${backend.name})`, { skip: backend.skip }, () => {
    let ca: TestCa;
    let served: ServedCa;
    let base: string;
    let files: { root: string; chain: string };
    const issue = async (cn: string): Promise<{ file: string; serial: string }> => {
      const { csr } = opensslCsr(ca.dir, `/CN=${cn}/O=测试/C=CN`);
      const issued = await ca.rt.ca.issue({ csr, profileId: 'org-identity', actor: 'test' });
      const file = path.join(ca.dir, `${issued.record.serial}.pem`);
      writeFileSync(file, toPem('CERTIFICATE', issued.der));
      return { file, serial: issued.record.serial };
    };

    before(async () => {
      served = await serveTestCa({ postgres: backend.postgres });
      ({ ca, base } = served);
      files = ca.files();
    });
    after(async () => served?.close());

    test('OCSP says good, then revoked with reason and time after a CLI revocation in another process', async () => {
      const c = await issue('吊销测试');
      const good = await ocspCheck(files, c.file, `${base}/ocsp`);
      assert.match(good, /Response verify OK/);
      assert.match(good, new RegExp(`${c.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: good`));

      const r = await cliAsync(['ca', 'revoke', '--serial', c.serial.toUpperCase(), '--reason', 'keyCompromise'], ca.env);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /revoked .* \(keyCompromise\)/);

      const revoked = await ocspCheck(files, c.file, `${base}/ocsp`);
      assert.match(revoked, /Response verify OK/);
      assert.match(revoked, /: revoked/);
      assert.match(revoked, /Reason: keyCompromise/);
      assert.match(revoked, /Revocation Time:/);
    });

    test('CRLs signed while other writers append to the audit log: every write succeeds, the chain holds', async () => {
      const certs = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => issue(`并发吊销${i}`)));
      const issuingId = ca.rt.ca.issuing.record.id;
      const shards = [
        ...new Set(await Promise.all(certs.map(async (c) => (await getCertificate(ca.rt.storage.db, c.serial))!.crl_shard!))),
      ];
      const number = async (shard: number | null) => (await latestCrl(ca.rt.storage.db, issuingId, shard))?.crl_number ?? 0;
      const before = await number(null);
      const beforeShards = await Promise.all(shards.map(number));
      // revocations (audit entry, then a CRL of the certificate's shard each), full CRLs alone and issuance, all at once
      const results = await Promise.allSettled([
        ...certs.map((c) => ca.rt.ca.revoke(c.serial, 'keyCompromise', 'test')),
        ...[1, 2, 3, 4, 5, 6].map(() => ca.rt.ca.generateCrl(issuingId, 'test')),
        ...[1, 2, 3, 4, 5, 6].map((i) => issue(`并发签发${i}`)),
      ]);
      const failed = results.filter((r) => r.status === 'rejected');
      assert.deepEqual(failed, [], 'no write failed');
      assert.equal(await number(null), before + 6, 'one full CRL number each');
      const afterShards = await Promise.all(shards.map(number));
      const added = afterShards.reduce((sum, n, i) => sum + n - beforeShards[i]!, 0);
      assert.equal(added, 6, 'one shard CRL number per revocation');
      const chain = await verifyAuditChain(ca.rt.storage.db);
      assert.equal(chain.ok, true, JSON.stringify(chain));
    });

    test('the CRL distribution point serves a signed CRL that lists the revoked serial', async () => {
      const c = await issue('CRL测试');
      await ca.rt.ca.revoke(c.serial, 'superseded', 'test');
      const res = await fetch(`${base}${await crlPathFor(ca, c.serial)}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/pkix-crl');
      const crl = Buffer.from(await res.arrayBuffer());
      const crlFile = path.join(ca.dir, 'issuing.crl');
      writeFileSync(crlFile, crl);
      const bundle = path.join(ca.dir, 'bundle.pem');
      writeFileSync(bundle, ca.rootPem + ca.issuingPem);
      const v = openssl(['crl', '-inform', 'DER', '-in', crlFile, '-CAfile', bundle, '-noout', '-text']);
      assert.equal(v.status, 0, v.out);
      assert.match(v.out, /verify OK/);
      assert.match(v.out, /X509v3 CRL Number:\s+\d+/);
      assert.match(v.out, /Next Update: /);
      assert.match(
        v.out,
        new RegExp(
          `Serial Number: ${c.serial.toUpperCase()}\\s+Revocation Date: .*\\s+CRL entry extensions:\\s+X509v3 CRL Reason Code:\\s+Superseded`,
        ),
      );
      // full chain check with CRLs for both levels: the certificate's shard and the root's full CRL
      const rootCrl = Buffer.from(await (await fetch(`${base}/pki/crl/${ca.rt.ca.root.record.id}.crl`)).arrayBuffer());
      const verifyWithCrls = async (cert: { file: string; serial: string }) => {
        const leafCrl = Buffer.from(await (await fetch(`${base}${await crlPathFor(ca, cert.serial)}`)).arrayBuffer());
        const crlPem = path.join(ca.dir, `crls-${cert.serial}.pem`);
        writeFileSync(crlPem, toPem('X509 CRL', leafCrl) + toPem('X509 CRL', rootCrl));
        return openssl([
          'verify',
          '-x509_strict',
          '-crl_check_all',
          '-CRLfile',
          crlPem,
          '-CAfile',
          files.root,
          '-untrusted',
          files.chain,
          cert.file,
        ]);
      };
      const chk = await verifyWithCrls(c);
      assert.notEqual(chk.status, 0);
      assert.match(chk.out, /certificate revoked/);
      const okCert = await issue('未吊销');
      const chk2 = await verifyWithCrls(okCert);
      assert.equal(chk2.status, 0, chk2.out);
    });

    test('every revocation publishes a CRL with a higher number', async () => {
      const id = ca.rt.ca.issuing.record.id;
      const c = await issue('编号');
      const shard = (await getCertificate(ca.rt.storage.db, c.serial))!.crl_shard;
      const before = (await ca.rt.ca.currentCrl(id, shard))!.crl_number;
      await ca.rt.ca.revoke(c.serial, 'cessationOfOperation', 'test');
      const afterCrl = (await ca.rt.ca.currentCrl(id, shard))!;
      assert.ok(afterCrl.crl_number > before);
      const text = openssl(['crl', '-inform', 'DER', '-noout', '-text'], afterCrl.der).out;
      assert.match(text, new RegExp(c.serial.toUpperCase()));
    });

    test('a revocation whose CRL cannot be signed is still made; the caller hears of the CRL, which the next publication lists', async () => {
      const id = ca.rt.ca.issuing.record.id;
      const c = await issue('签不了');
      const shard = (await getCertificate(ca.rt.storage.db, c.serial))!.crl_shard;
      const before = (await ca.rt.ca.currentCrl(id, shard))!.crl_number;
      const loaded = ca.rt.ca.cas.get(id)!;
      const real = loaded.signer;
      // the CA's key is unavailable (an HSM unplugged) just when the revocation's CRL is signed
      loaded.signer = {
        keyType: real.keyType,
        spki: real.spki,
        algorithm: real.algorithm,
        ref: real.ref,
        sign: () => Promise.reject(new Error('the CA key is unavailable')),
        close: () => real.close(),
      };
      try {
        await assert.rejects(ca.rt.ca.revoke(c.serial, 'keyCompromise', 'test'), /the CA key is unavailable/);
      } finally {
        loaded.signer = real;
      }
      // a key compromise is not held back by the CRL: the record says revoked, and so does OCSP
      const rec = (await getCertificate(ca.rt.storage.db, c.serial))!;
      assert.equal(rec.status, 'revoked');
      assert.match(await ocspCheck(files, c.file, `${base}/ocsp`), /: revoked[\s\S]*Reason: keyCompromise/);
      assert.equal((await latestCrl(ca.rt.storage.db, id, shard))!.crl_number, before, 'no CRL was stored half-made');
      // the scope is owed a CRL, recorded with the revocation: the refresher's next run signs it,
      // though the newest CRL is far from its refresh time
      const issuing = ca.rt.ca.issuing.record;
      assert.deepEqual(await owedCrlScopes(ca.rt.storage.db, id), [shard]);
      assert.ok((await crlScopesDue(ca.rt.storage.db, ca.config, issuing, Date.now())).includes(shard));
      const published = await ca.rt.ca.generateCrl(id, 'test', shard);
      assert.equal(published.crl_number, before + 1);
      assert.match(openssl(['crl', '-inform', 'DER', '-noout', '-text'], published.der).out, new RegExp(c.serial.toUpperCase()));
      // published: settled, and no longer due
      assert.deepEqual(await owedCrlScopes(ca.rt.storage.db, id), []);
      assert.ok(!(await crlScopesDue(ca.rt.storage.db, ca.config, issuing, Date.now())).includes(shard));
      // a revocation whose CRL is signed with it owes nothing
      const d = await issue('签得了');
      await ca.rt.ca.revoke(d.serial, 'keyCompromise', 'test');
      assert.deepEqual(await owedCrlScopes(ca.rt.storage.db, id), []);
    });

    test('OCSP over GET, with the nonce echoed; an unknown serial is "unknown"', async () => {
      const c = await issue('GET测试');
      const reqFile = path.join(ca.dir, 'req.der');
      openssl(['ocsp', '-issuer', files.chain, '-cert', c.file, '-reqout', reqFile, '-nonce']);
      const reqDer = openssl(['base64', '-A', '-in', reqFile]).out.trim();
      const res = await fetch(`${base}/ocsp/${encodeURIComponent(reqDer)}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/ocsp-response');
      const respFile = path.join(ca.dir, 'resp.der');
      writeFileSync(respFile, Buffer.from(await res.arrayBuffer()));
      const v = openssl([
        'ocsp',
        '-respin',
        respFile,
        '-issuer',
        files.chain,
        '-cert',
        c.file,
        '-CAfile',
        files.root,
        '-no_nonce',
      ]);
      assert.match(v.out, /Response verify OK/);
      assert.match(v.out, /: good/);
      const nonceOf = (text: string): string | undefined => /OCSP Nonce:\s*\n\s*([0-9A-F]+)/.exec(text)?.[1];
      const sent = nonceOf(openssl(['ocsp', '-reqin', reqFile, '-req_text']).out);
      assert.ok(sent, 'the request carries a nonce');
      assert.equal(nonceOf(openssl(['ocsp', '-respin', respFile, '-resp_text', '-noverify']).out), sent, 'the nonce is echoed');

      // A certificate from the same issuer name+key but a serial the CA never issued.
      const unknownSerial = await opensslAsync([
        'ocsp',
        '-issuer',
        files.chain,
        '-serial',
        '0x0123456789abcdef',
        '-url',
        `${base}/ocsp`,
        '-CAfile',
        files.root,
      ]);
      assert.match(unknownSerial.out, /0x0123456789abcdef: unknown/);
    });

    test('OCSP GET is cacheable until nextUpdate (RFC 5019 §6.2): ETag, Last-Modified, Expires, 304 on If-None-Match / If-Modified-Since', async () => {
      const c = await issue('缓存测试');
      const reqFile = path.join(ca.dir, 'req-cache.der');
      openssl(['ocsp', '-issuer', files.chain, '-cert', c.file, '-reqout', reqFile, '-no_nonce']);
      const url = `${base}/ocsp/${encodeURIComponent(openssl(['base64', '-A', '-in', reqFile]).out.trim())}`;
      const respText = (body: ArrayBuffer): string => {
        const f = path.join(ca.dir, 'resp-cache.der');
        writeFileSync(f, Buffer.from(body));
        return openssl(['ocsp', '-respin', f, '-resp_text', '-noverify']).out;
      };
      const first = await fetch(url);
      assert.equal(first.status, 200);
      const text = respText(await first.arrayBuffer());
      assert.match(text, /Cert Status: good/);
      const thisUpdate = Date.parse(/This Update: (.+)/.exec(text)![1]!);
      const nextUpdate = Date.parse(/Next Update: (.+)/.exec(text)![1]!);
      const h = first.headers;
      assert.equal(Date.parse(h.get('last-modified')!), thisUpdate, 'Last-Modified = thisUpdate');
      assert.equal(Date.parse(h.get('expires')!), nextUpdate, 'Expires = nextUpdate');
      const maxAge = Number(/max-age=(\d+)/.exec(h.get('cache-control')!)![1]);
      assert.match(h.get('cache-control')!, /public/);
      assert.ok(maxAge <= (nextUpdate - Date.parse(h.get('date')!)) / 1000, 'max-age does not reach past nextUpdate');
      assert.ok(maxAge > (nextUpdate - thisUpdate) / 1000 / 2, `max-age ${maxAge} runs up to nextUpdate, not a fixed minute`);
      const etag = h.get('etag')!;
      assert.match(etag, /^"[A-Za-z0-9_-]+"$/);

      const byEtag = await fetch(url, { headers: { 'if-none-match': etag } });
      assert.equal(byEtag.status, 304);
      assert.equal((await byEtag.arrayBuffer()).byteLength, 0);
      assert.equal(byEtag.headers.get('etag'), etag);
      const byDate = await fetch(url, { headers: { 'if-modified-since': h.get('last-modified')! } });
      assert.equal(byDate.status, 304);
      const older = await fetch(url, { headers: { 'if-modified-since': new Date(thisUpdate - 3_600_000).toUTCString() } });
      assert.equal(older.status, 200, 'a copy from before thisUpdate is replaced');
      const other = await fetch(url, { headers: { 'if-none-match': '"something-else"' } });
      assert.equal(other.status, 200);
      assert.equal(other.headers.get('etag'), etag);

      // After a revocation the held copy is stale: a full response with the new status, never 304.
      await ca.rt.ca.revoke(c.serial, 'keyCompromise', 'test');
      const after = await fetch(url, { headers: { 'if-none-match': etag } });
      assert.equal(after.status, 200);
      assert.notEqual(after.headers.get('etag'), etag);
      assert.match(respText(await after.arrayBuffer()), /Cert Status: revoked/);

      // a request with a nonce answers that request only
      const nonceFile = path.join(ca.dir, 'req-nonce.der');
      openssl(['ocsp', '-issuer', files.chain, '-cert', c.file, '-reqout', nonceFile, '-nonce']);
      const withNonce = await fetch(`${base}/ocsp/${encodeURIComponent(openssl(['base64', '-A', '-in', nonceFile]).out.trim())}`);
      assert.equal(withNonce.headers.get('cache-control'), 'no-store');
      assert.equal(withNonce.headers.get('etag'), null);
    });

    test('the delegated responder certificate carries ocsp-nocheck and the OCSPSigning EKU', async () => {
      const responder = ca.rt.ca.responderFor(ca.rt.ca.issuing.record.id)!;
      const text = openssl(['x509', '-inform', 'DER', '-noout', '-text'], responder.record.cert_der).out;
      assert.match(text, /OCSP Signing/);
      assert.match(text, /OCSP No Check/);
      const f = path.join(ca.dir, 'responder.pem');
      writeFileSync(f, toPem('CERTIFICATE', responder.record.cert_der));
      assert.equal(
        openssl(['verify', '-x509_strict', '-purpose', 'ocsphelper', '-CAfile', files.root, '-untrusted', files.chain, f]).status,
        0,
      );
    });

    test('malformed OCSP requests get malformedRequest, never a crash; unknown issuers get unauthorized', async () => {
      const bodies = [
        Buffer.alloc(0),
        Buffer.from('garbage'),
        Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
        der.seq(der.seq()),
      ];
      for (const body of bodies) {
        const res = await fetch(`${base}/ocsp`, {
          method: 'POST',
          headers: { 'content-type': 'application/ocsp-request' },
          body,
        });
        assert.equal(res.status, 200);
        assert.deepEqual(Buffer.from(await res.arrayBuffer()), Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x01]));
      }
      // Bodies refused before parsing: another content type, and more than the 16 KiB an OCSP request may take.
      for (const [type, body] of [
        ['text/plain', der.seq(der.seq())],
        ['application/ocsp-request', Buffer.alloc(20_000, 0x30)],
      ] as const) {
        const res = await fetch(`${base}/ocsp`, { method: 'POST', headers: { 'content-type': type }, body });
        assert.equal(res.headers.get('content-type'), 'application/ocsp-response');
        assert.deepEqual(Buffer.from(await res.arrayBuffer()), Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x01]));
      }
      const metricsText = await (await fetch(`${base}/metrics`)).text();
      const counted = /certdesk_ocsp_responses_total\{outcome="malformed"\} (\d+)/.exec(metricsText);
      assert.ok(counted && Number(counted[1]) >= 6, 'malformed requests are counted in /metrics');
      const get = await fetch(`${base}/ocsp/%%%not-base64`);
      assert.deepEqual(Buffer.from(await get.arrayBuffer()), Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x01]));
      // A CertID naming an issuer we do not know: OpenSSL's own throwaway CA.
      const other = opensslCsr(ca.dir, '/CN=other');
      const otherCa = path.join(ca.dir, 'other-ca.pem');
      openssl(['req', '-x509', '-key', other.keyFile, '-subj', '/CN=Other CA', '-days', '1', '-out', otherCa]);
      const un = await opensslAsync(['ocsp', '-issuer', otherCa, '-serial', '0x01', '-url', `${base}/ocsp`, '-noverify']);
      assert.match(un.out, /unauthorized/i);
      // the server is still healthy
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
    });

    test('the AIA caIssuers URL serves the issuing CA certificate as DER', async () => {
      const res = await fetch(`${base}/pki/ca/${ca.rt.ca.issuing.record.id}.cer`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/pkix-cert');
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), Buffer.from(ca.rt.ca.issuing.record.cert_der));
      assert.equal((await fetch(`${base}/pki/ca/nope.cer`)).status, 404);
    });

    test('revoking an unknown, malformed or already revoked serial, or with a bad reason, is refused clearly', async () => {
      const c = await issue('重复');
      await ca.rt.ca.revoke(c.serial, 'keyCompromise', 'test');
      await assert.rejects(ca.rt.ca.revoke(c.serial, 'keyCompromise', 'test'), /already revoked/);
      await assert.rejects(ca.rt.ca.revoke('abcdef', 'keyCompromise', 'test'), /no certificate with serial abcdef/);
      await assert.rejects(ca.rt.ca.revoke('xyz', 'keyCompromise', 'test'), /serial must be hexadecimal/);
      const c2 = await issue('理由');
      await assert.rejects(
        ca.rt.ca.revoke(c2.serial, 'certificateHold', 'test'),
        /unsupported revocation reason "certificateHold"/,
      );
    });
  });
}
