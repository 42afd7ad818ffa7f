// 撤销证书 through the portal API with a statement signed by the certificate's key: OCSP (openssl)
// answers revoked with the reason, the CRL lists it, the public status lookup says so; a statement
// signed by another key and a replayed one are refused with nothing changed; a dual pair is revoked
// as one; 挂失 requests give the same answer for an unknown 唯一识别号 and go through staff review.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { toPem } from '../src/pki/pem.js';
import { renderSealPicture } from '../src/seal/seal-picture.js';
import { Sm2PrivateKey } from '../src/pki/sm2.js';
import { Revocations } from '../src/ra/revocation-service.js';
import { getCertificate } from '../src/sa/certificates.js';
import { statementsFor } from '../src/sa/revocations.js';
import { crlPathFor, openssl, opensslAsync, type TestCa } from './helpers/ca.js';
import { BACKENDS } from './helpers/backends.js';
import { createHolder, PortalClient, serveTestCa, type ServedCa } from './helpers/holder.js';
import { SM2_HOLDER_UNIQUE_ID } from './helpers/sm2-holder.js';
import { loggedInStaff } from './helpers/staff.js';
import { cliAsync } from './helpers/cli.js';

type StatementBody = { statement: string; serial: string; reason: string; refundUnused: boolean };

for (const backend of BACKENDS) {
  describe(`holder revocation and 挂失 (${backend.name})`, { skip: backend.skip }, () => {
    let served: ServedCa;
    let ca: TestCa;
    let base: string;
    let origin: string;
    let files: { root: string; chain: string };

    before(async () => {
      served = await serveTestCa({ keyType: 'both', postgres: backend.postgres });
      ({ ca, base, origin } = served);
      files = ca.files();
    });
    after(async () => served?.close());

    const ocsp = async (der: Buffer, serial: string): Promise<string> => {
      const file = path.join(ca.dir, `${serial}.pem`);
      writeFileSync(file, toPem('CERTIFICATE', der));
      return (await opensslAsync(['ocsp', '-issuer', files.chain, '-cert', file, '-url', `${base}/ocsp`, '-CAfile', files.root]))
        .out;
    };
    const crlText = async (serial: string): Promise<string> => {
      const res = await fetch(`${base}${await crlPathFor(ca, serial)}`);
      assert.equal(res.status, 200);
      const file = path.join(ca.dir, `crl-${Date.now()}.crl`);
      writeFileSync(file, Buffer.from(await res.arrayBuffer()));
      return openssl(['crl', '-inform', 'DER', '-in', file, '-noout', '-text']).out;
    };

    test('the holder revokes with a signed statement: OCSP revoked (reason), CRL lists it, status says so', async () => {
      const holder = await createHolder(ca, { name: '撤销测试' });
      const c = new PortalClient(base, origin);
      assert.equal((await c.login(holder)).status, 200);
      assert.match(await ocsp(holder.certDer, holder.serial), /: good/);

      const st = await c.call<StatementBody>('POST', '/api/portal/revocation/statement', {
        serial: holder.serial,
        reason: 'keyCompromise',
      });
      assert.equal(st.status, 200, JSON.stringify(st.body));
      assert.equal(st.body.refundUnused, false, 'no refund unless the catalogue says so');
      assert.match(st.body.statement, new RegExp(`"serial":"${holder.serial}"`));

      // signed by another key: refused, nothing changed, and the statement still usable
      const other = await createHolder(ca, { name: '别人' });
      const forged = await c.call<{ error: string; field: string }>('POST', '/api/portal/revocation', {
        statement: st.body.statement,
        signature: other.signLogin(st.body.statement).toString('base64'),
      });
      assert.equal(forged.status, 422, JSON.stringify(forged.body));
      assert.equal(forged.body.field, 'signature');
      assert.equal((await getCertificate(ca.rt.storage.db, holder.serial))!.status, 'valid');
      assert.equal((await statementsFor(ca.rt.storage.db, holder.serial)).length, 0);

      // a statement text altered after issue (reason rewritten) is not ours
      const altered = st.body.statement.replace('keyCompromise', 'superseded');
      const alt = await c.call('POST', '/api/portal/revocation', {
        statement: altered,
        signature: holder.signLogin(altered).toString('base64'),
      });
      assert.equal(alt.status, 422, JSON.stringify(alt.body));
      assert.equal((await getCertificate(ca.rt.storage.db, holder.serial))!.status, 'valid');

      const signature = holder.signLogin(st.body.statement).toString('base64');
      const ok = await c.call<{ serial: string; status: string; reason: string }>('POST', '/api/portal/revocation', {
        statement: st.body.statement,
        signature,
      });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.status, 'revoked');

      const answer = await ocsp(holder.certDer, holder.serial);
      assert.match(answer, /Response verify OK/);
      assert.match(answer, /: revoked/);
      assert.match(answer, /Reason: keyCompromise/);
      const crl = await crlText(holder.serial);
      assert.match(crl, new RegExp(`Serial Number: 0*${holder.serial.toUpperCase()}`, 'i'));
      assert.match(crl, /Key Compromise/);

      // the chain download: the certificate, then its CAs; openssl verifies the path with it
      const chain = await fetch(`${base}/api/portal/certificates/${holder.serial}.chain.pem`, { headers: { cookie: c.cookie } });
      assert.equal(chain.status, 200);
      const chainFile = path.join(ca.dir, `${holder.serial}-chain.pem`);
      writeFileSync(chainFile, await chain.text());
      const certs = openssl(['crl2pkcs7', '-nocrl', '-certfile', chainFile]).out;
      assert.ok(certs.length > 0);
      const leafFile = path.join(ca.dir, `${holder.serial}-leaf.pem`);
      writeFileSync(leafFile, toPem('CERTIFICATE', holder.certDer));
      assert.match(openssl(['verify', '-CAfile', files.root, '-untrusted', chainFile, leafFile]).out, /OK/);

      // 证书查询 shows the status with the reason and date
      const shown = await c.call<{ certificate: { status: string; revocationReason: string; revokedAt: string } }>(
        'GET',
        `/api/portal/certificates/${holder.serial}`,
      );
      assert.equal(shown.status, 200, JSON.stringify(shown.body));
      assert.equal(shown.body.certificate.status, 'revoked');
      assert.equal(shown.body.certificate.revocationReason, 'keyCompromise');
      assert.ok(shown.body.certificate.revokedAt);

      const evidence = await statementsFor(ca.rt.storage.db, holder.serial);
      assert.equal(evidence.length, 1);
      assert.equal(evidence[0]!.source, 'holder');
      assert.equal(evidence[0]!.statement, st.body.statement);
      // evidence is append-only
      await assert.rejects(
        ca.rt.storage.db.deleteFrom('revocation_statements').where('serial', '=', holder.serial).execute(),
        /append-only/,
      );

      const status = (await (await fetch(`${base}/api/status/${holder.serial.toUpperCase()}`)).json()) as Record<string, string>;
      assert.equal(status.status, 'revoked');
      assert.equal(status.reason, 'keyCompromise');
      assert.ok(status.revokedAt && status.notBefore && status.notAfter);
      assert.match(status.issuer ?? '', /CN=/);
      assert.equal((await fetch(`${base}/api/status/abcdef0123`)).status, 404);
      assert.equal((await fetch(`${base}/api/status/not-hex`)).status, 400);
    });

    test('the refund rule is staff-editable in the catalogue and shown before confirming', async () => {
      const holder = await createHolder(ca, { name: '退款规则' });
      const c = new PortalClient(base, origin);
      assert.equal((await c.login(holder)).status, 200);
      const terms = () => c.call<{ refundUnused: boolean; reasons: string[] }>('GET', '/api/portal/revocation');
      assert.equal((await terms()).body.refundUnused, false, 'default: no refund');
      assert.deepEqual((await terms()).body.reasons, [
        'keyCompromise',
        'cessationOfOperation',
        'affiliationChanged',
        'superseded',
      ]);
      const admin = await loggedInStaff(ca.rt, base, origin, ['admin']);
      const cat = await admin.call<{ types: Record<string, unknown>[] }>('GET', '/api/staff/catalogue');
      const type = cat.body.types.find((t) => t.profile === 'org-identity')!;
      const put = await admin.call('PUT', `/api/staff/catalogue/types/${String(type.code)}`, { ...type, refundUnused: true });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      try {
        assert.equal((await terms()).body.refundUnused, true);
      } finally {
        await admin.call('PUT', `/api/staff/catalogue/types/${String(type.code)}`, { ...type, refundUnused: false });
      }
    });

    test('a replayed statement is refused and records nothing more', async () => {
      const holder = await createHolder(ca, { name: '重放测试' });
      const c = new PortalClient(base, origin);
      assert.equal((await c.login(holder)).status, 200);
      const st = await c.call<StatementBody>('POST', '/api/portal/revocation/statement', {
        serial: holder.serial,
        reason: 'cessationOfOperation',
      });
      const body = { statement: st.body.statement, signature: holder.signLogin(st.body.statement).toString('base64') };
      assert.equal((await c.call('POST', '/api/portal/revocation', body)).status, 200);
      const again = await c.call<{ error: string }>('POST', '/api/portal/revocation', body);
      assert.equal(again.status, 409, JSON.stringify(again.body));
      assert.equal((await statementsFor(ca.rt.storage.db, holder.serial)).length, 1);
      // a nonce never issued (statement built by hand, validly signed) is refused, nothing changed
      const fresh = await createHolder(ca, { name: '伪造声明' });
      const c2 = new PortalClient(base, origin);
      assert.equal((await c2.login(fresh)).status, 200);
      const now = Math.floor(Date.now() / 1000);
      const own = JSON.stringify({
        v: 1,
        type: 'certdesk-revocation',
        origin,
        serial: fresh.serial,
        reason: 'superseded',
        nonce: 'A'.repeat(32),
        iat: now,
        exp: now + 60,
      });
      const r = await c2.call<{ error: string }>('POST', '/api/portal/revocation', {
        statement: own,
        signature: fresh.signLogin(own).toString('base64'),
      });
      assert.equal(r.status, 422, JSON.stringify(r.body));
      assert.equal((await getCertificate(ca.rt.storage.db, fresh.serial))!.status, 'valid');
      // a reason outside the four is refused naming the field
      const bad = await c2.call<{ field: string }>('POST', '/api/portal/revocation/statement', {
        serial: fresh.serial,
        reason: 'cACompromise',
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.field, 'reason');
    });

    test('revoking the signing certificate of a dual pair revokes its encryption certificate and its seals', async () => {
      const holder = await createHolder(ca, {
        name: '双证书撤销',
        keyType: 'sm2',
        profile: 'org-identity-sm2',
        uniqueId: SM2_HOLDER_UNIQUE_ID,
      });
      const signing = (await getCertificate(ca.rt.storage.db, holder.serial))!;
      const enc = await ca.rt.ca.issueEncryption({ signing, spki: Sm2PrivateKey.generate().publicKey.toSpki(), actor: 'test' });
      const seal = await ca.rt.sealService.makeSeal({
        holderSigningCertDer: holder.certDer,
        type: '单位公章',
        name: '双证书撤销',
        picture: renderSealPicture({ name: '双证书撤销', typeLabel: '单位公章' }),
        days: 365,
      });
      const sealStatus = async () =>
        ((await (await fetch(`${base}/api/seals/${seal.es_id}`)).json()) as { status: string }).status;
      assert.equal(await sealStatus(), 'valid');
      const c = new PortalClient(base, origin);
      assert.equal((await c.login(holder)).status, 200);
      const st = await c.call<StatementBody>('POST', '/api/portal/revocation/statement', {
        serial: holder.serial,
        reason: 'superseded',
      });
      assert.equal(st.status, 200, JSON.stringify(st.body));
      const r = await c.call<{ encryptionSerial: string }>('POST', '/api/portal/revocation', {
        statement: st.body.statement,
        signature: holder.signLogin(st.body.statement).toString('base64'),
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.encryptionSerial, enc.record.serial);
      const encNow = (await getCertificate(ca.rt.storage.db, enc.record.serial))!;
      assert.equal(encNow.status, 'revoked');
      assert.equal(encNow.revocation_reason, 4);
      assert.equal(await sealStatus(), 'revoked', 'superseded by the holder (no successor): the bound seal is revoked too');
      const status = (await (await fetch(`${base}/api/status/${enc.record.serial}`)).json()) as {
        status: string;
        reason: string;
      };
      assert.deepEqual([status.status, status.reason], ['revoked', 'superseded']);
    });

    test('挂失: the same answer for an unknown 唯一识别号; staff approve revokes, reject keeps', async () => {
      const uid = `UID${Math.floor(Math.random() * 1e12)}`;
      const holder = await createHolder(ca, { name: '挂失单位', uniqueId: uid });
      const form = { uniqueId: uid, name: '挂失单位', contact: 'ops@example.cn', reason: 'keyCompromise' };
      const post = (b: Record<string, unknown>) =>
        fetch(`${base}/api/revocation-requests`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin },
          body: JSON.stringify(b),
        });
      const known = await post(form);
      const unknown = await post({ ...form, uniqueId: `${uid}9` });
      assert.equal(known.status, 200);
      const kb = (await known.json()) as { id: string; message: string };
      const ub = (await unknown.json()) as { id: string; message: string };
      assert.equal(unknown.status, 200);
      assert.equal(kb.message, ub.message, 'the answer never tells whether the 唯一识别号 exists');
      assert.deepEqual(Object.keys(kb).sort(), Object.keys(ub).sort());
      const bad = await post({ ...form, contact: 'nobody' });
      assert.equal(bad.status, 400);
      assert.equal(((await bad.json()) as { field: string }).field, 'contact');

      const reviewer = await loggedInStaff(ca.rt, base, origin, ['reviewer']);
      const list = await reviewer.call<{ items: { id: string; certificate: { serial: string } | null }[] }>(
        'GET',
        '/api/staff/revocation-requests?state=pending',
      );
      assert.equal(list.status, 200, JSON.stringify(list.body));
      assert.equal(list.body.items.find((i) => i.id === kb.id)?.certificate?.serial, holder.serial);
      assert.equal(list.body.items.find((i) => i.id === ub.id)?.certificate, null);

      const operator = await loggedInStaff(ca.rt, base, origin, ['auditor']);
      assert.equal((await operator.call('POST', `/api/staff/revocation-requests/${kb.id}/approve`, {})).status, 403);

      const rej = await reviewer.call<{ request: { state: string } }>('POST', `/api/staff/revocation-requests/${ub.id}/reject`, {
        reason: '无此证书',
      });
      assert.equal(rej.status, 200, JSON.stringify(rej.body));
      assert.equal(rej.body.request.state, 'rejected');

      // whoever holds the lost key is logged in with it; another holder is logged in beside
      const finder = new PortalClient(base, origin);
      assert.equal((await finder.login(holder)).status, 200);
      const bystander = new PortalClient(base, origin);
      assert.equal((await bystander.login(await createHolder(ca, { name: '旁观单位' }))).status, 200);
      assert.equal((await finder.call('GET', '/api/portal/session')).status, 200);

      const ok = await reviewer.call<{ revocation: { serial: string; reason: string } }>(
        'POST',
        `/api/staff/revocation-requests/${kb.id}/approve`,
        { note: '电话确认' },
      );
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.revocation.serial, holder.serial);
      // the approval ended the lost key's session with the revocation; the other holder's goes on
      const loggedOut = await finder.call<{ error: string }>('GET', '/api/portal/session');
      assert.equal(loggedOut.status, 401, JSON.stringify(loggedOut.body));
      assert.equal(loggedOut.body.error, 'no_session');
      assert.equal((await bystander.call('GET', '/api/portal/session')).status, 200);
      assert.match(await ocsp(holder.certDer, holder.serial), /Reason: keyCompromise/);
      const twice = await reviewer.call('POST', `/api/staff/revocation-requests/${kb.id}/approve`, {});
      assert.equal(twice.status, 409);
      const ev = await statementsFor(ca.rt.storage.db, holder.serial);
      assert.equal(ev.length, 1);
      assert.equal(ev[0]!.source, 'staff');
      assert.equal(ev[0]!.request_id, kb.id);
    });

    test('a revocation by the CA (certdesk ca revoke, another process) ends the portal sessions of the certificate', async () => {
      const holder = await createHolder(ca, { name: '被吊销' });
      const c = new PortalClient(base, origin);
      assert.equal((await c.login(holder)).status, 200);
      assert.equal((await c.call('GET', '/api/portal/session')).status, 200);
      const r = await cliAsync(['ca', 'revoke', '--serial', holder.serial, '--reason', 'keyCompromise'], ca.env);
      assert.equal(r.status, 0, r.stderr);
      assert.equal((await c.call('GET', '/api/portal/session')).status, 401);
    });

    test('挂失 naming the lost key’s serial identifies that certificate; a serial not theirs is shown, not matched', async () => {
      const uid = `UID${Math.floor(Math.random() * 1e12)}`;
      const older = await createHolder(ca, { name: '报了序列号', uniqueId: uid });
      const newer = await createHolder(ca, { name: '报了序列号', uniqueId: uid });
      const stranger = await createHolder(ca, { name: '旁人' });
      const revocations = new Revocations(ca.rt);
      const file = (serial: unknown) =>
        revocations.submitLossReport({
          uniqueId: uid,
          name: '报了序列号',
          contact: '010-12345678',
          reason: 'keyCompromise',
          serial,
        });
      // as 证书查询 shows it: upper case with colons
      const named = await file(older.serial.toUpperCase().replace(/(..)(?=.)/g, '$1:'));
      const foreign = await file(stranger.serial);
      const none = await file('');
      for (const bad of ['not-hex', 'ab'.repeat(21), 42])
        await assert.rejects(file(bad), (e: Error & { field?: string }) => e.field === 'serial', `serial ${String(bad)}`);
      const reviewer = await loggedInStaff(ca.rt, base, origin, ['reviewer']);
      type View = { id: string; certificate: { serial: string } | null; givenSerial: string | null };
      const items = (await reviewer.call<{ items: View[] }>('GET', '/api/staff/revocation-requests?state=pending')).body.items;
      const view = (id: string) => items.find((i) => i.id === id)!;
      assert.equal(view(named.id).certificate?.serial, older.serial, 'the named certificate, not the newest');
      assert.equal(view(named.id).givenSerial, older.serial, 'the serial normalised');
      assert.equal(view(foreign.id).certificate?.serial, newer.serial, 'another holder’s serial matches nothing of it');
      assert.equal(view(foreign.id).givenSerial, stranger.serial);
      assert.equal(view(none.id).certificate?.serial, newer.serial);
      assert.equal(view(none.id).givenSerial, null);
      const ok = await reviewer.call<{ revocation: { serial: string } }>(
        'POST',
        `/api/staff/revocation-requests/${named.id}/approve`,
        { note: '按所填序列号' },
      );
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.revocation.serial, older.serial);
      assert.equal((await getCertificate(ca.rt.storage.db, newer.serial))!.status, 'valid');
    });

    test('挂失 for a holder with two keys: staff revoke the one that was lost, not the newest', async () => {
      const uid = `UID${Math.floor(Math.random() * 1e12)}`;
      const lostKey = await createHolder(ca, { name: '两把钥匙', uniqueId: uid });
      const keptKey = await createHolder(ca, { name: '两把钥匙', uniqueId: uid });
      const strangerUid = `UID${Math.floor(Math.random() * 1e12)}`;
      const stranger = await createHolder(ca, { name: '别家', uniqueId: strangerUid });
      const res = await fetch(`${base}/api/revocation-requests`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin },
        body: JSON.stringify({ uniqueId: uid, name: '两把钥匙', contact: '010-12345678', reason: 'keyCompromise' }),
      });
      assert.equal(res.status, 200);
      const { id } = (await res.json()) as { id: string };
      // beside it in the queue: the stranger's own 挂失, and one under the stranger's ID with another name
      // (filed through the service: the public form allows a client 5 an hour, and this file has used them)
      const file = async (name: string) =>
        (
          await new Revocations(ca.rt).submitLossReport({
            uniqueId: strangerUid,
            name,
            contact: '010-12345678',
            reason: 'keyCompromise',
          })
        ).id;
      const strangers = await file('别家');
      const misnamed = await file('冒名');
      const reviewer = await loggedInStaff(ca.rt, base, origin, ['reviewer']);
      type View = { id: string; certificate: { serial: string } | null; candidates: { serial: string }[] };
      const pending = (await reviewer.call<{ items: View[] }>('GET', '/api/staff/revocation-requests?state=pending')).body.items;
      // the queue is read for all its rows at once: each row still gets its own holder's certificates
      assert.deepEqual(
        pending.find((i) => i.id === strangers)!.candidates.map((c) => c.serial),
        [stranger.serial],
      );
      assert.equal(pending.find((i) => i.id === strangers)!.certificate?.serial, stranger.serial);
      assert.deepEqual(pending.find((i) => i.id === misnamed)!.candidates, [], 'a name that does not match identifies nothing');
      assert.equal(pending.find((i) => i.id === misnamed)!.certificate, null);
      const view = pending.find((i) => i.id === id)!;
      assert.equal(view.certificate?.serial, keptKey.serial, 'the match is the newest live certificate');
      assert.deepEqual(
        view.candidates.map((c) => c.serial),
        [keptKey.serial, lostKey.serial],
        'both live certificates are offered, newest first',
      );

      // a certificate not of this holder is refused, and nothing is decided or revoked
      const foreign = await reviewer.call<{ field: string }>('POST', `/api/staff/revocation-requests/${id}/approve`, {
        serial: stranger.serial,
      });
      assert.equal(foreign.status, 400, JSON.stringify(foreign.body));
      assert.equal(foreign.body.field, 'serial');
      assert.equal((await getCertificate(ca.rt.storage.db, stranger.serial))!.status, 'valid');

      const ok = await reviewer.call<{ revocation: { serial: string }; request: View & { state: string } }>(
        'POST',
        `/api/staff/revocation-requests/${id}/approve`,
        { note: '电话确认：丢的是旧 UKey', serial: lostKey.serial.toUpperCase() },
      );
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.revocation.serial, lostKey.serial);
      assert.equal(ok.body.request.state, 'approved');
      assert.equal(ok.body.request.certificate?.serial, lostKey.serial, 'the request now names what was revoked');
      assert.equal((await getCertificate(ca.rt.storage.db, lostKey.serial))!.status, 'revoked');
      assert.equal((await getCertificate(ca.rt.storage.db, keptKey.serial))!.status, 'valid', 'the key still held stays valid');
      assert.match(await ocsp(lostKey.certDer, lostKey.serial), /Reason: keyCompromise/);
      const ev = await statementsFor(ca.rt.storage.db, lostKey.serial);
      assert.equal(ev.length, 1);
      assert.equal((JSON.parse(ev[0]!.statement) as { serial: string }).serial, lostKey.serial);
      const audit = await ca.rt.storage.db
        .selectFrom('audit_log')
        .select('details')
        .where('action', '=', 'revocation.request_approved')
        .where('target', '=', id)
        .executeTakeFirstOrThrow();
      assert.deepEqual(JSON.parse(audit.details), {
        serial: lostKey.serial,
        matched: keptKey.serial,
        note: '电话确认：丢的是旧 UKey',
      });
    });
  });
}
