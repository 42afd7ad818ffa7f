// Partitioned CRLs as relying parties see them: each certificate names one shard's CRL in its CRL
// DP, that CRL carries the same URL in a critical issuingDistributionPoint, and `openssl verify
// -crl_check` accepts it for the certificates of its shard only. A revocation republishes only its
// shard; the CA's full CRL still serves certificates from before shards.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { crlScopesDue } from '../src/ca/crl-scopes.js';
import { shardCrlUrl } from '../src/ca/urls.js';
import { toPem } from '../src/pki/pem.js';
import { latestCrl } from '../src/sa/crls.js';
import { BACKENDS } from './helpers/backends.js';
import { openssl, opensslCsr, type TestCa } from './helpers/ca.js';
import { cliAsync } from './helpers/cli.js';
import { serveTestCa, type ServedCa } from './helpers/holder.js';
import { issueLegacyCertificate } from './helpers/legacy-certificate.js';

const SHARDS = 4;

interface Issued {
  file: string;
  serial: string;
  shard: number;
}

for (const backend of BACKENDS) {
  describe(`CRL shards (${backend.name})`, { skip: backend.skip }, () => {
    let served: ServedCa;
    let ca: TestCa;
    let files: { root: string; chain: string };
    let caId: string;
    const certs: Issued[] = [];
    const issue = async (cn: string): Promise<Issued> => {
      const { csr } = opensslCsr(ca.dir, `/CN=${cn}/O=分片/C=CN`);
      const issued = await ca.rt.ca.issue({ csr, profileId: 'org-identity', actor: 'test' });
      const file = path.join(ca.dir, `${issued.record.serial}.pem`);
      writeFileSync(file, toPem('CERTIFICATE', issued.der));
      const c = { file, serial: issued.record.serial, shard: issued.record.crl_shard! };
      certs.push(c);
      return c;
    };
    const fetchCrl = async (urlPath: string): Promise<{ status: number; der: Buffer }> => {
      const res = await fetch(`${served.base}${urlPath}`);
      return { status: res.status, der: Buffer.from(await res.arrayBuffer()) };
    };
    const pemFile = (name: string, crl: Buffer): string => {
      const f = path.join(ca.dir, name);
      writeFileSync(f, toPem('X509 CRL', crl));
      return f;
    };
    const verify = (cert: string, crlFile: string) =>
      openssl(['verify', '-crl_check', '-CRLfile', crlFile, '-CAfile', files.root, '-untrusted', files.chain, cert]);
    const numbers = async (): Promise<Map<number | null, number>> => {
      const m = new Map<number | null, number>();
      for (const s of [null, 0, 1, 2, 3]) m.set(s, (await latestCrl(ca.rt.storage.db, caId, s))?.crl_number ?? 0);
      return m;
    };

    // a revoked and a good certificate in one shard, and one in another
    let revoked: Issued;
    let good: Issued;
    let other: Issued;

    before(async () => {
      served = await serveTestCa({ postgres: backend.postgres, env: { CRL_SHARDS: String(SHARDS) } });
      ca = served.ca;
      files = ca.files();
      caId = ca.rt.ca.issuing.record.id;
      for (let i = 0; i < 60; i++) {
        await issue(`分片${i}`);
        const byShard = new Map<number, Issued[]>();
        for (const c of certs) byShard.set(c.shard, [...(byShard.get(c.shard) ?? []), c]);
        const pair = [...byShard.values()].find((l) => l.length >= 2);
        const single = pair && [...byShard.values()].find((l) => l[0]!.shard !== pair[0]!.shard);
        if (pair && single) {
          [revoked, good] = pair as [Issued, Issued];
          other = single[0]!;
          return;
        }
      }
      throw new Error(`60 certificates over ${SHARDS} shards gave no two shards with a pair in one`);
    });
    after(async () => served?.close());

    test('certificates name their shard in the CRL DP, and different shards give different DPs', () => {
      for (const c of [revoked, good, other]) {
        const text = openssl(['x509', '-in', c.file, '-noout', '-ext', 'crlDistributionPoints']).out;
        const url = shardCrlUrl(ca.config.pkiUrl, caId, c.shard);
        assert.match(text, new RegExp(`URI:${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`, 'm'), text);
        assert.ok(c.shard >= 0 && c.shard < SHARDS);
      }
      assert.notEqual(revoked.shard, other.shard);
    });

    test('a revocation (CLI, another process) republishes only its shard; its CRL verifies and lists it', async () => {
      // every shard and the full CRL published first (the first request signs a shard's CRL)
      for (let s = 0; s < SHARDS; s++) assert.equal((await fetchCrl(`/pki/crl/${caId}/${s}.crl`)).status, 200);
      const beforeNumbers = await numbers();
      const r = await cliAsync(['ca', 'revoke', '--serial', revoked.serial, '--reason', 'keyCompromise'], ca.env);
      assert.equal(r.status, 0, r.stderr);
      const afterNumbers = await numbers();
      for (const [scope, n] of beforeNumbers)
        assert.equal(afterNumbers.get(scope), scope === revoked.shard ? n + 1 : n, `CRL number of scope ${scope}`);
      const audit = await ca.rt.storage.db
        .selectFrom('audit_log')
        .select('details')
        .where('action', '=', 'crl.published')
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirstOrThrow();
      assert.deepEqual(JSON.parse(audit.details), { number: afterNumbers.get(revoked.shard), entries: 1, shard: revoked.shard });

      for (let s = 0; s < SHARDS; s++) {
        const { der } = await fetchCrl(`/pki/crl/${caId}/${s}.crl`);
        const file = pemFile(`shard-${s}.pem`, der);
        const v = openssl(['crl', '-in', file, '-noout', '-verify', '-CAfile', files.chain, '-text']);
        assert.equal(v.status, 0, v.out);
        assert.match(v.out, /verify OK/);
        assert.match(v.out, /X509v3 Issuing Distribution Point: critical\s+Full Name:\s+URI:(\S+)\s+Only User Certificates/);
        assert.equal(/Full Name:\s+URI:(\S+)/.exec(v.out)![1], shardCrlUrl(ca.config.pkiUrl, caId, s));
        const listed = new RegExp(`Serial Number: ${revoked.serial.toUpperCase()}`).test(v.out);
        assert.equal(listed, s === revoked.shard, `shard ${s} lists the revoked certificate iff it is its shard`);
      }
    });

    test('openssl verify -crl_check: revoked and OK with the right shard; the wrong shard is refused', async () => {
      const right = pemFile('right.pem', (await fetchCrl(`/pki/crl/${caId}/${revoked.shard}.crl`)).der);
      const r = verify(revoked.file, right);
      assert.notEqual(r.status, 0);
      assert.match(r.out, /certificate revoked/);
      const g = verify(good.file, right);
      assert.equal(g.status, 0, g.out);
      assert.match(g.out, /: OK/);
      // the other shard's certificate against this shard's CRL: the IDP is not its DP, so OpenSSL
      // finds the CRL but not for its scope (X509_V_ERR_DIFFERENT_CRL_SCOPE)
      const wrong = verify(other.file, right);
      assert.notEqual(wrong.status, 0, wrong.out);
      assert.match(wrong.out, /error 44 at 0 depth lookup: different CRL scope/);
      assert.doesNotMatch(wrong.out, /certificate revoked/);
      const own = pemFile('own.pem', (await fetchCrl(`/pki/crl/${caId}/${other.shard}.crl`)).der);
      const o = verify(other.file, own);
      assert.equal(o.status, 0, o.out);
    });

    test('the full CRL still serves certificates from before shards, and lists every revoked certificate', async () => {
      const { csr } = opensslCsr(ca.dir, '/CN=旧证书/O=分片/C=CN');
      const legacy = await issueLegacyCertificate(ca, csr, { uniqueId: 'SHARD-LEGACY-1', days: 30 });
      const legacyFile = path.join(ca.dir, 'legacy.pem');
      writeFileSync(legacyFile, toPem('CERTIFICATE', legacy.der));
      assert.match(
        openssl(['x509', '-in', legacyFile, '-noout', '-ext', 'crlDistributionPoints']).out,
        new RegExp(`/pki/crl/${caId}\\.crl`),
      );
      const beforeNumbers = await numbers();
      await ca.rt.ca.revoke(legacy.serial, 'affiliationChanged', 'test');
      const afterNumbers = await numbers();
      for (const [scope, n] of beforeNumbers) assert.equal(afterNumbers.get(scope), scope === null ? n + 1 : n, `scope ${scope}`);

      const { status, der } = await fetchCrl(`/pki/crl/${caId}.crl`);
      assert.equal(status, 200);
      const full = pemFile('full.pem', der);
      const text = openssl(['crl', '-in', full, '-noout', '-verify', '-CAfile', files.chain, '-text']).out;
      assert.match(text, /verify OK/);
      assert.doesNotMatch(text, /Issuing Distribution Point/);
      for (const c of [legacy.serial, revoked.serial]) assert.match(text, new RegExp(`Serial Number: ${c.toUpperCase()}`));
      const v = verify(legacyFile, full);
      assert.notEqual(v.status, 0);
      assert.match(v.out, /certificate revoked/);
      // a CRL without IDP covers the whole CA: OpenSSL takes it for a sharded certificate too
      assert.equal(verify(good.file, full).status, 0);
    });

    test('scopes kept fresh: full CRL while legacy certificates live, every shard, retired shards while in use', async () => {
      const later = Date.now() + ca.config.crlRefreshSeconds * 1000;
      const base = { crlRefreshSeconds: ca.config.crlRefreshSeconds, crlValiditySeconds: ca.config.crlValiditySeconds };
      const record = ca.rt.ca.issuing.record;
      assert.deepEqual(await crlScopesDue(ca.rt.storage.db, { ...base, crlShards: SHARDS }, record, later), [null, 0, 1, 2, 3]);
      assert.deepEqual(await crlScopesDue(ca.rt.storage.db, { ...base, crlShards: SHARDS }, record, Date.now()), []);
      // CRL_SHARDS lowered to 1: shards 1–3 are published while they hold unexpired certificates
      const inUse = [...new Set(certs.map((c) => c.shard).filter((s) => s >= 1))].sort();
      assert.deepEqual(await crlScopesDue(ca.rt.storage.db, { ...base, crlShards: 1 }, record, later), [null, 0, ...inUse]);
      // a year on, every certificate has expired: only shard 0 (within the count) remains
      const yearOn = Date.now() + 400 * 86_400_000;
      assert.deepEqual(await crlScopesDue(ca.rt.storage.db, { ...base, crlShards: 1 }, record, yearOn), [0]);
      // the root has no shards, and its full CRL always stays fresh
      assert.deepEqual(await crlScopesDue(ca.rt.storage.db, { ...base, crlShards: SHARDS }, ca.rt.ca.root.record, later), [null]);
    });

    test('a shard beyond CRL_SHARDS that was never published is 404; the root has no shards', async () => {
      assert.equal((await fetchCrl(`/pki/crl/${caId}/${SHARDS + 5}.crl`)).status, 404);
      assert.equal((await fetchCrl(`/pki/crl/${ca.rt.ca.root.record.id}/0.crl`)).status, 404);
      assert.equal((await fetchCrl(`/pki/crl/${caId}/007.crl`)).status, 400);
    });
  });
}
