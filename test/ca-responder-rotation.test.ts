// The delegated OCSP responder certificate is replaced before it expires: the rotation job sees it
// due 30 days ahead, `certdesk ca rotate-responder` does it on demand from another process, the
// running server picks that up, responses are signed by the new responder (OpenSSL verifies them),
// and two processes rotating at once never leave two active responders.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CaError } from '../src/ca/errors.js';
import { toPem } from '../src/pki/pem.js';
import { verifyAuditChain } from '../src/sa/audit.js';
import { listCas } from '../src/sa/cas.js';
import { rotateDueResponders, rotateResponder } from '../src/jobs/responder-rotation.js';
import { opensslAsync, opensslCsr, type TestCa } from './helpers/ca.js';
import { BACKENDS } from './helpers/backends.js';
import { serveTestCa, type ServedCa } from './helpers/holder.js';
import { cliAsync } from './helpers/cli.js';

const DAY = 86_400_000;

for (const backend of BACKENDS) {
  describe(`OCSP responder rotation (${backend.name})`, { skip: backend.skip }, () => {
    let ca: TestCa;
    let served: ServedCa;
    let base: string;
    let files: { root: string; chain: string };
    let certFile: string;

    before(async () => {
      served = await serveTestCa({ postgres: backend.postgres });
      ({ ca, base } = served);
      files = ca.files();
      const { csr } = opensslCsr(ca.dir, '/CN=轮换测试/O=测试/C=CN');
      const issued = await ca.rt.ca.issue({ csr, profileId: 'org-identity', actor: 'test' });
      certFile = path.join(ca.dir, 'leaf.pem');
      writeFileSync(certFile, toPem('CERTIFICATE', issued.der));
    });
    after(async () => served?.close());

    /** Asks the server with `openssl ocsp` (which verifies the response); returns the response DER. */
    const ask = async (): Promise<Buffer> => {
      const out = path.join(ca.dir, `resp-${Date.now()}.der`);
      const r = await opensslAsync([
        'ocsp',
        '-issuer',
        files.chain,
        '-cert',
        certFile,
        '-url',
        `${base}/ocsp`,
        '-CAfile',
        files.root,
        '-respout',
        out,
      ]);
      assert.match(r.out, /Response verify OK/);
      assert.match(r.out, /: good/);
      return readFileSync(out);
    };
    const active = async (): Promise<string[]> =>
      (await listCas(ca.rt.storage.db, 'ocsp')).filter((c) => c.active).map((c) => c.id);

    test('due 30 days before the end, not before; the job rotates it and responses carry the new responder', async () => {
      const issuingId = ca.rt.ca.issuing.record.id;
      const old = ca.rt.ca.responderFor(issuingId)!;
      assert.ok(Buffer.from(await ask()).includes(old.record.cert_der));
      assert.equal(ca.rt.ca.responderDue(issuingId), false);
      assert.deepEqual(await rotateDueResponders(ca.rt, 'test'), []);
      assert.equal(ca.rt.ca.responderDue(issuingId, old.record.not_after - 31 * DAY), false);
      const due = old.record.not_after - 10 * DAY;
      assert.equal(ca.rt.ca.responderDue(issuingId, due), true);

      const rotated = await rotateDueResponders(ca.rt, 'test', due);
      assert.equal(rotated.length, 1);
      const fresh = rotated[0]!;
      assert.notEqual(fresh.record.id, old.record.id);
      assert.notDeepEqual(fresh.signer.spki, old.signer.spki);
      // the same validity as before, from now
      assert.ok(
        Math.abs(fresh.record.not_after - fresh.record.not_before - (old.record.not_after - old.record.not_before)) < DAY,
      );
      assert.deepEqual(await active(), [fresh.record.id]);
      const resp = Buffer.from(await ask());
      assert.ok(resp.includes(fresh.record.cert_der), 'the response carries the new responder certificate');
      assert.ok(!resp.includes(old.record.cert_der));
      // the new responder certificate is a proper delegated responder under the issuing CA
      const f = path.join(ca.dir, 'responder.pem');
      writeFileSync(f, toPem('CERTIFICATE', fresh.record.cert_der));
      const v = await opensslAsync([
        'verify',
        '-x509_strict',
        '-purpose',
        'ocsphelper',
        '-CAfile',
        files.root,
        '-untrusted',
        files.chain,
        f,
      ]);
      assert.match(v.out, /OK/);
      const audit = await ca.rt.storage.db
        .selectFrom('audit_log')
        .selectAll()
        .where('action', '=', 'ca.responder_rotated')
        .execute();
      assert.equal(audit.length, 1);
      assert.equal(JSON.parse(audit[0]!.details).previous, old.record.id);
    });

    test('the CLI rotates from another process; the server picks it up; a stale rotation is refused and changes nothing', async () => {
      const issuingId = ca.rt.ca.issuing.record.id;
      const before = ca.rt.ca.responderFor(issuingId)!;
      const r = await cliAsync(['ca', 'rotate-responder', '--days', '90'], ca.env);
      assert.equal(r.status, 0, r.stderr);
      assert.match(
        r.stdout,
        new RegExp(`rotated the OCSP responder of ${issuingId}: ocsp-[0-9a-f]+ .*; ${before.record.id} is retired`),
      );
      const [cliResponder] = await active();
      assert.ok(cliResponder && cliResponder !== before.record.id);

      // this process has not reloaded yet: its rotation starts from a responder that is no longer active
      await assert.rejects(
        rotateResponder(ca.rt, issuingId, 'test'),
        (e: unknown) => e instanceof CaError && e.code === 'conflict',
      );
      assert.deepEqual(await active(), [cliResponder], 'exactly one active responder');
      // the conflict reloaded the CA records: responses now come from the CLI's responder, 90 days valid
      const now = ca.rt.ca.responderFor(issuingId)!;
      assert.equal(now.record.id, cliResponder);
      assert.ok(Math.abs(now.record.not_after - now.record.not_before - 90 * DAY) < DAY);
      assert.ok(Buffer.from(await ask()).includes(now.record.cert_der));
      assert.equal((await cliAsync(['ca', 'rotate-responder', '--issuing', 'nope'], ca.env)).status !== 0, true);
      assert.equal((await verifyAuditChain(ca.rt.storage.db)).ok, true);
    });
  });
}
