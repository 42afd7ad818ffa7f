// One instance with an ECDSA and an SM2 hierarchy side by side (OCSP and CRLs for both, checked by
// OpenSSL), and the SM2 dual certificate pair: the RA issues the signing certificate from the CSR
// and the encryption certificate for a key the KMC made, returned through the portal API with the
// envelope; idempotent across retries, with the reuse-the-old-key policy, superseded as a pair.
import assert from 'node:assert/strict';
import { hash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CaError } from '../src/ca/errors.js';
import { loadProfiles, ProfileError } from '../src/ca/profiles.js';
import { findExtension, parseCertificate } from '../src/pki/certificate.js';
import * as der from '../src/pki/der.js';
import { GMT_IDENTITY_OID } from '../src/pki/holder-identity.js';
import { toPem } from '../src/pki/pem.js';
import { sm2SignSync } from '../src/pki/sm2.js';
import type { Sm2PrivateKey } from '../src/pki/sm2-key.js';
import { openSm2EnvelopedKey } from '../src/pki/sm2-envelope.js';
import { RaError } from '../src/ra/errors.js';
import { RenewalService } from '../src/ra/renewal-service.js';
import { getCertificate, getCertificateByOrder, getEncryptionPartner, type CertificateRecord } from '../src/sa/certificates.js';
import { BACKENDS } from './helpers/backends.js';
import { cliAsync } from './helpers/cli.js';
import { opensslAsync, opensslCsr, type TestCa } from './helpers/ca.js';
import { createHolder, paidBankOrder, PortalClient, serveTestCa, type ServedCa, type TestHolder } from './helpers/holder.js';
import { AnswerLostKmc, escrowedSpki } from './helpers/kmc.js';
import { loggedInStaff } from './helpers/staff.js';
import { opensslVerifySm2Signed, scratch, SM2_DISTID } from './helpers/sm2.js';

const s = scratch('ca-dual');
after(() => s.cleanup());
/** a valid 统一社会信用代码, so the GM/T 0015 identity extension is written */
const USCC = '91350100M000100Y43';

type CertView = { serial: string; usage: string; signingSerial?: string; encryption?: CertView };
type IssueBody = {
  order: { id: string; state: string };
  certificate: string;
  chain: string[];
  summary: CertView;
  encryption?: { certificate: string; envelope: string | null; chain: string[]; summary: CertView };
};

const keyUsageText = (certDer: Buffer): string => {
  const text = s.ok([
    'x509',
    '-inform',
    'DER',
    '-in',
    s.write(`ku-${hash('sha1', certDer, 'hex')}.der`, certDer),
    '-noout',
    '-text',
  ]);
  return /X509v3 Key Usage: critical\s*\n\s*(.+)/.exec(text)?.[1]?.trim() ?? '';
};

for (const backend of BACKENDS) {
  describe(`ECDSA and SM2 hierarchies side by side, SM2 dual pairs (${backend.name})`, { skip: backend.skip }, () => {
    let served: ServedCa;
    let ca: TestCa;
    const pem = (b: Buffer | Uint8Array) => toPem('CERTIFICATE', Buffer.from(b));

    before(async () => {
      served = await serveTestCa({ keyType: 'both', postgres: backend.postgres });
      ca = served.ca;
    });
    after(async () => served?.close());

    const files = () => {
      const ec = { root: ca.rt.ca.rootFor('rsa-ecdsa'), issuing: ca.rt.ca.issuingFor('rsa-ecdsa') };
      const sm2 = { root: ca.rt.ca.rootFor('sm2'), issuing: ca.rt.ca.issuingFor('sm2') };
      return {
        ec,
        sm2,
        ecRoot: s.write(`${backend.name}-ec-root.pem`, pem(ec.root.record.cert_der)),
        ecIssuing: s.write(`${backend.name}-ec-issuing.pem`, pem(ec.issuing.record.cert_der)),
        sm2Root: s.write(`${backend.name}-sm2-root.pem`, pem(sm2.root.record.cert_der)),
        sm2Issuing: s.write(`${backend.name}-sm2-issuing.pem`, pem(sm2.issuing.record.cert_der)),
      };
    };

    /** A holder with a dual pair, as a service point would have issued it (30 days left), and its encryption key. */
    const dualHolder = async (): Promise<{
      holder: TestHolder;
      signing: CertificateRecord;
      encryption: CertificateRecord;
      encryptionKey: Sm2PrivateKey;
    }> => {
      const holder = await createHolder(ca, {
        keyType: 'sm2',
        profile: 'org-identity-sm2',
        uniqueId: USCC,
        name: '国密双证书单位',
      });
      const signing = (await getCertificate(ca.rt.storage.db, holder.serial))!;
      const key = await ca.rt.kmc.issueEncryptionKey({
        requestId: `initial-${holder.serial}`,
        signingSpki: holder.sm2Key!.publicKey.toSpki(),
        actor: 'test',
      });
      const encryption = (await ca.rt.ca.issueEncryption({ signing, spki: key.publicSpki, kmcKeyId: key.keyId, actor: 'test' }))
        .record;
      const { encryptionKey } = openSm2EnvelopedKey(key.envelope, holder.sm2Key!);
      return { holder, signing, encryption, encryptionKey };
    };

    const paidOrder = (holder: TestHolder) => paidBankOrder(served, holder);

    const issueOverApi = async (client: PortalClient, orderId: string, req: { csr: Buffer; proof: Buffer }) =>
      client.call<IssueBody>('POST', `/api/portal/orders/${orderId}/issue`, {
        csr: req.csr.toString('base64'),
        proof: req.proof.toString('base64'),
      });

    test('each family issues from its own hierarchy; both verify with OpenSSL', async () => {
      const f = files();
      assert.deepEqual(ca.rt.ca.families(), ['rsa-ecdsa', 'sm2']);
      assert.match(f.sm2.root.record.name, /SM2 Root CA/);
      assert.doesNotMatch(f.ec.root.record.name, /SM2/);
      assert.match(s.ok(['verify', '-vfyopt', SM2_DISTID, '-CAfile', f.sm2Root, f.sm2Issuing]), /: OK/);

      const ecCsr = opensslCsr(s.dir, '/CN=ECDSA单位/O=ECDSA单位/C=CN').csr;
      const ecLeaf = await ca.rt.ca.issue({ csr: ecCsr, profileId: 'org-identity', actor: 'test' });
      assert.equal(ecLeaf.record.ca_id, f.ec.issuing.record.id, 'an ECDSA key goes to the RSA/ECDSA hierarchy');
      const ecFile = s.write(`${backend.name}-ec-leaf.pem`, pem(ecLeaf.der));
      assert.match(s.ok(['verify', '-x509_strict', '-CAfile', f.ecRoot, '-untrusted', f.ecIssuing, ecFile]), /: OK/);

      const sm2Csr = opensslCsr(s.dir, '/CN=国密单位/O=国密单位/C=CN', ['-newkey', 'sm2', '-sm3', '-sigopt', SM2_DISTID]).csr;
      const sm2Leaf = await ca.rt.ca.issue({ csr: sm2Csr, profileId: 'org-identity', actor: 'test' });
      assert.equal(sm2Leaf.record.ca_id, f.sm2.issuing.record.id, 'an SM2 key goes to the SM2 hierarchy');
      const sm2File = s.write(`${backend.name}-sm2-leaf.pem`, pem(sm2Leaf.der));
      assert.match(s.ok(['verify', '-vfyopt', SM2_DISTID, '-partial_chain', '-CAfile', f.sm2Issuing, sm2File]), /: OK/);

      // the dual profile names the SM2 hierarchy and SM2 keys only
      await assert.rejects(
        ca.rt.ca.issue({ csr: ecCsr, profileId: 'org-identity-sm2', actor: 'test' }),
        (e: unknown) => e instanceof CaError && e.code === 'key_not_allowed' && /org-identity-sm2/.test(e.message),
      );
      await assert.rejects(
        ca.rt.ca.issue({ csr: sm2Csr, profileId: 'org-identity-sm2-enc', actor: 'test' }),
        (e: unknown) => e instanceof CaError && /encryption certificate of an SM2 dual pair/.test(e.message),
      );

      const sm2CsrFile = opensslCsr(s.dir, '/CN=柜台单位/O=柜台单位/C=CN', [
        '-newkey',
        'sm2',
        '-sm3',
        '-sigopt',
        SM2_DISTID,
      ]).csrFile;
      const counter = await cliAsync(['ca', 'issue', '--csr', sm2CsrFile, '--profile', 'org-identity-sm2'], ca.env);
      assert.equal(counter.status, 0, counter.stderr);
      assert.match(counter.stderr, /signing half of an SM2 dual pair; this command issues no encryption certificate/);

      const ready = await fetch(`${served.base}/readyz`);
      const checks = ((await ready.json()) as { checks: Record<string, string> }).checks;
      assert.equal(ready.status, 200);
      for (const c of [f.ec.root, f.ec.issuing, f.sm2.root, f.sm2.issuing])
        assert.equal(checks[`key:${c.record.id}`], 'ok', `/readyz checks ${c.record.id}`);
    });

    test('OCSP and CRLs for both hierarchies: revoked leaves listed, signatures checked by OpenSSL', async () => {
      const f = files();
      const ecCsr = opensslCsr(s.dir, '/CN=ECDSA吊销/O=ECDSA吊销/C=CN').csr;
      const sm2Csr = opensslCsr(s.dir, '/CN=国密吊销/O=国密吊销/C=CN', ['-newkey', 'sm2', '-sm3', '-sigopt', SM2_DISTID]).csr;
      const ecLeaf = await ca.rt.ca.issue({ csr: ecCsr, profileId: 'org-identity', actor: 'test' });
      const sm2Leaf = await ca.rt.ca.issue({ csr: sm2Csr, profileId: 'org-identity', actor: 'test' });
      await ca.rt.ca.revoke(ecLeaf.record.serial, 'keyCompromise', 'test');
      await ca.rt.ca.revoke(sm2Leaf.record.serial, 'superseded', 'test');

      const ecCrl = Buffer.from(
        await (await fetch(`${served.base}/pki/crl/${f.ec.issuing.record.id}/${ecLeaf.record.crl_shard}.crl`)).arrayBuffer(),
      );
      const ecCrlText = s.ok([
        'crl',
        '-inform',
        'DER',
        '-in',
        s.write(`${backend.name}-ec.crl`, ecCrl),
        '-CAfile',
        f.ecIssuing,
        '-noout',
        '-text',
      ]);
      assert.match(ecCrlText, /verify OK/, 'the ECDSA CRL verifies under its issuing CA');
      assert.match(ecCrlText, new RegExp(`Serial Number: ${ecLeaf.record.serial}`, 'i'));
      assert.doesNotMatch(ecCrlText, new RegExp(`Serial Number: ${sm2Leaf.record.serial}`, 'i'), 'each CA lists its own');
      const sm2Crl = Buffer.from(
        await (await fetch(`${served.base}/pki/crl/${f.sm2.issuing.record.id}/${sm2Leaf.record.crl_shard}.crl`)).arrayBuffer(),
      );
      const sm2CrlText = s.ok(['crl', '-inform', 'DER', '-in', s.write(`${backend.name}-sm2.crl`, sm2Crl), '-noout', '-text']);
      assert.match(sm2CrlText, /Signature Algorithm: SM2-with-SM3/);
      assert.match(sm2CrlText, new RegExp(`Serial Number: ${sm2Leaf.record.serial}`, 'i'));
      assert.match(
        opensslVerifySm2Signed(s, `${backend.name}-sm2-crl`, sm2Crl, pem(f.sm2.issuing.record.cert_der)),
        /Signature Verified Successfully/,
      );

      const ecLeafFile = s.write(`${backend.name}-ec-revoked.pem`, pem(ecLeaf.der));
      const ecOcsp = await opensslAsync([
        'ocsp',
        '-issuer',
        f.ecIssuing,
        '-cert',
        ecLeafFile,
        '-url',
        `${served.base}/ocsp`,
        '-CAfile',
        f.ecRoot,
      ]);
      assert.equal(ecOcsp.status, 0, ecOcsp.out);
      assert.match(ecOcsp.out, /Response verify OK/);
      assert.match(ecOcsp.out, /: revoked/);

      const sm2LeafFile = s.write(`${backend.name}-sm2-revoked.pem`, pem(sm2Leaf.der));
      const respFile = path.join(s.dir, `${backend.name}-sm2-ocsp.der`);
      const sm2Ocsp = await opensslAsync([
        'ocsp',
        '-issuer',
        f.sm2Issuing,
        '-cert',
        sm2LeafFile,
        '-url',
        `${served.base}/ocsp`,
        '-noverify',
        '-respout',
        respFile,
      ]);
      assert.equal(sm2Ocsp.status, 0, sm2Ocsp.out);
      assert.match(sm2Ocsp.out, /: revoked/);
      const [, bytes] = der.children(der.parse(s.read(path.basename(respFile))));
      const basic = der.content(der.children(der.children(bytes!)[0]!)[1]!);
      const responder = ca.rt.ca.responderFor(f.sm2.issuing.record.id)!;
      assert.match(
        opensslVerifySm2Signed(s, `${backend.name}-sm2-ocsp`, basic, pem(responder.record.cert_der)),
        /Signature Verified Successfully/,
      );
    });

    test('the dual pair: both certificates, their key usages, one subject and 唯一识别号, the KMC key in the envelope', async () => {
      const f = files();
      const { holder, encryption: oldEncryption, encryptionKey: oldEncryptionKey } = await dualHolder();
      const { client, orderId } = await paidOrder(holder);
      const req = await holder.renewalRequest(orderId);
      const r = await issueOverApi(client, orderId, req);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.order.state, 'issued');
      const enc = r.body.encryption;
      assert.ok(enc, 'a dual type answers with its encryption certificate');
      assert.ok(enc.envelope, 'a new KMC key comes in an envelope');
      const signingDer = Buffer.from(r.body.certificate, 'base64');
      const encDer = Buffer.from(enc.certificate, 'base64');
      const signing = parseCertificate(signingDer);
      const encCert = parseCertificate(encDer);

      assert.equal(keyUsageText(signingDer), 'Digital Signature, Non Repudiation');
      assert.equal(keyUsageText(encDer), 'Key Encipherment, Data Encipherment, Key Agreement');
      assert.ok(signing.subjectDer.equals(encCert.subjectDer), 'one subject for both');
      assert.match(
        s.ok(['x509', '-inform', 'DER', '-in', s.write('enc-subject.der', encDer), '-noout', '-subject']),
        new RegExp(`serialNumber = ${USCC}`),
      );
      const gmt = (c: typeof signing) => findExtension(c, GMT_IDENTITY_OID.orgCode)?.value;
      assert.ok(gmt(encCert) && gmt(signing)!.equals(gmt(encCert)!), 'the same GM/T 0015 identity extension in both');
      assert.equal(encCert.notBefore.getTime(), signing.notBefore.getTime());
      assert.equal(encCert.notAfter.getTime(), signing.notAfter.getTime());
      assert.deepEqual(enc.chain, [Buffer.from(f.sm2.issuing.record.cert_der).toString('base64')]);
      assert.match(
        s.ok(['verify', '-vfyopt', SM2_DISTID, '-partial_chain', '-CAfile', f.sm2Issuing, s.write('enc.pem', pem(encDer))]),
        /: OK/,
      );

      // the envelope opens with the new signing key only, to exactly the certified key the KMC made
      const opened = openSm2EnvelopedKey(Buffer.from(enc.envelope, 'base64'), req.newSm2Key!);
      assert.ok(opened.encryptionKey.publicKey.toSpki().equals(encCert.spki), 'enc cert SPKI = the key in the envelope');
      assert.ok(
        (await escrowedSpki(ca.rt.storage.db, orderId))?.equals(encCert.spki),
        'enc cert SPKI = the KMC key of the order',
      );
      assert.throws(() => openSm2EnvelopedKey(Buffer.from(enc.envelope!, 'base64'), holder.sm2Key!), /not for this signing key/);

      // recorded as an ordinary certificate, linked to its signing certificate (which carries the order)
      const encRecord = (await getCertificate(ca.rt.storage.db, enc.summary.serial))!;
      assert.equal(encRecord.signing_serial, r.body.summary.serial);
      assert.equal(encRecord.order_id, null);
      assert.equal(encRecord.renews_serial, oldEncryption.serial);
      assert.equal(encRecord.spki_sha256, hash('sha256', encCert.spki, 'hex'));
      assert.equal(encRecord.profile, 'org-identity-sm2-enc');
      assert.equal(enc.summary.usage, 'encryption');
      assert.equal(enc.summary.signingSerial, r.body.summary.serial);
      assert.equal((await getCertificate(ca.rt.storage.db, r.body.summary.serial))!.order_id, orderId);
      const listed = (await cliAsync(['ca', 'list', '--json', '--profile', 'org-identity-sm2-enc'], ca.env)).stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { serial: string; signingSerial: string | null });
      assert.ok(
        listed.some((l) => l.serial === enc.summary.serial && l.signingSerial === r.body.summary.serial),
        '`ca list --json` names the pair',
      );

      // staff see the pair from either side
      const staff = await loggedInStaff(ca.rt, served.base, served.origin, ['operator']);
      type Pair = { pair: { signingSerial: string | null; encryptionSerial: string | null } };
      const fromSigning = await staff.call<Pair>('GET', `/api/staff/certificates/${r.body.summary.serial}`);
      assert.deepEqual(fromSigning.body.pair, { signingSerial: null, encryptionSerial: enc.summary.serial });
      const fromEnc = await staff.call<Pair>('GET', `/api/staff/certificates/${enc.summary.serial}`);
      assert.deepEqual(fromEnc.body.pair, { signingSerial: r.body.summary.serial, encryptionSerial: null });

      // the portal shows the pair together: 签名证书 with its 加密证书, never the encryption one alone
      const list = await client.call<{ current: CertView; history: CertView[] }>('GET', '/api/portal/certificates');
      assert.equal(list.status, 200, JSON.stringify(list.body));
      const all = [list.body.current, ...list.body.history];
      assert.ok(all.every((c) => c.usage === 'signing'));
      const renewed = all.find((c) => c.serial === r.body.summary.serial)!;
      assert.equal(renewed.encryption?.serial, enc.summary.serial);
      assert.equal(all.find((c) => c.serial === holder.serial)?.encryption?.serial, oldEncryption.serial);
      // the encryption key is escrowed: its certificate never logs in, even signed by its own key
      const encLogin = await new PortalClient(served.base, served.origin).login({
        ...holder,
        certDer: Buffer.from(oldEncryption.der),
        signLogin: (text) => sm2SignSync(oldEncryptionKey, Buffer.from(text, 'utf8')),
      });
      assert.equal(encLogin.status, 401);
      assert.match(JSON.stringify(encLogin.body), /encryption certificate/);
      await assert.rejects(ca.rt.renewals.quote(oldEncryption.serial), /renewed with its signing certificate/);
      const session = await client.call<{ certificate: CertView }>('GET', '/api/portal/session');
      assert.equal(session.body.certificate.encryption?.serial, oldEncryption.serial, 'the login body shows the partner too');

      // installed: the old pair is superseded as a pair, and OCSP says so for the encryption certificate
      const done = await client.call<{ order: { state: string } }>('POST', `/api/portal/orders/${orderId}/installed`);
      assert.equal(done.body.order.state, 'completed');
      for (const serial of [holder.serial, oldEncryption.serial]) {
        const c = (await getCertificate(ca.rt.storage.db, serial))!;
        assert.equal(c.status, 'revoked', serial);
        assert.equal(c.revocation_reason, 4, `${serial} revoked as superseded`);
      }
      const oldEncFile = s.write(`${backend.name}-old-enc.pem`, pem(oldEncryption.der));
      const o = await opensslAsync([
        'ocsp',
        '-issuer',
        f.sm2Issuing,
        '-cert',
        oldEncFile,
        '-url',
        `${served.base}/ocsp`,
        '-noverify',
      ]);
      assert.match(o.out, /: revoked[\s\S]*Reason: superseded/);
    });

    test('a retry after a failure at any step gives the same pair and an envelope for the same key', async () => {
      const { holder } = await dualHolder();
      const { client, orderId } = await paidOrder(holder);
      const req = await holder.renewalRequest(orderId);
      // the KMC made and stored the key, but its answer was lost: the signing certificate is recorded, the pair is not done
      const answerLost = new RenewalService(
        ca.rt.storage,
        ca.rt.ca,
        ca.rt.gateway,
        ca.rt.renewals.policy,
        new AnswerLostKmc(ca.rt.kmc),
      );
      await assert.rejects(answerLost.issue(await answerLost.order(orderId), req.csr, req.proof, 'test'), /KMC connection reset/);
      const order = await ca.rt.renewals.order(orderId);
      assert.equal(order.state, 'issuing', 'not issued while half of the pair is missing');
      assert.equal(order.issued_serial, null);
      const signingFirst = await getCertificateByOrder(ca.rt.storage.db, orderId);
      assert.ok(signingFirst, 'the signing certificate was recorded before the KMC failed');
      assert.equal(await getEncryptionPartner(ca.rt.storage.db, signingFirst.serial), undefined);

      const first = await issueOverApi(client, orderId, req);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const again = await issueOverApi(client, orderId, req);
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(first.body.summary.serial, signingFirst.serial, 'the retry completes the recorded signing certificate');
      assert.equal(again.body.summary.serial, first.body.summary.serial, 'one signing certificate per order');
      assert.equal(
        again.body.encryption!.summary.serial,
        first.body.encryption!.summary.serial,
        'one encryption certificate per order',
      );
      const encSpki = parseCertificate(Buffer.from(first.body.encryption!.certificate, 'base64')).spki;
      for (const body of [first.body, again.body]) {
        const opened = openSm2EnvelopedKey(Buffer.from(body.encryption!.envelope!, 'base64'), req.newSm2Key!);
        assert.ok(opened.encryptionKey.publicKey.toSpki().equals(encSpki), 'every envelope carries the certified key');
      }
      assert.ok(
        (await escrowedSpki(ca.rt.storage.db, orderId))?.equals(encSpki),
        'the key the KMC stored before its answer was lost',
      );
      const partner = await getEncryptionPartner(ca.rt.storage.db, first.body.summary.serial);
      assert.equal(partner?.serial, first.body.encryption!.summary.serial);
      const count = await ca.rt.storage.db
        .selectFrom('certificates')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('signing_serial', '=', first.body.summary.serial)
        .executeTakeFirstOrThrow();
      assert.equal(Number(count.n), 1);
      // the CA itself refuses a second encryption certificate for one signing certificate
      const other = await ca.rt.kmc.issueEncryptionKey({
        requestId: `other-${orderId}`,
        signingSpki: req.newSm2Key!.publicKey.toSpki(),
        actor: 'test',
      });
      const signingRecord = (await getCertificate(ca.rt.storage.db, first.body.summary.serial))!;
      const second = await ca.rt.ca.issueEncryption({ signing: signingRecord, spki: other.publicSpki, actor: 'test' });
      assert.equal(second.fresh, false);
      assert.equal(second.record.serial, partner!.serial);
    });

    test('policy REUSE_ENCRYPTION_KEY: a new certificate for the old encryption key, no envelope', async () => {
      const { holder, encryption: oldEncryption } = await dualHolder();
      const { orderId } = await paidOrder(holder);
      const reusing = new RenewalService(
        ca.rt.storage,
        ca.rt.ca,
        ca.rt.gateway,
        { ...ca.rt.renewals.policy, reuseEncryptionKey: true },
        ca.rt.kmc,
      );
      const req = await holder.renewalRequest(orderId);
      const r = await reusing.issue(await reusing.order(orderId), req.csr, req.proof, 'test');
      assert.ok(r.encryption);
      assert.equal(r.encryption.envelope, null);
      assert.notEqual(r.encryption.certificate.serial, oldEncryption.serial, 'a new certificate');
      assert.equal(r.encryption.certificate.spki_sha256, oldEncryption.spki_sha256, 'for the old key');
      assert.equal(await escrowedSpki(ca.rt.storage.db, orderId), undefined, 'the KMC was not asked for a key');
      // the default service (new key per renewal) does not change what this order got
      const again = await ca.rt.renewals.issue(await reusing.order(orderId), req.csr, req.proof, 'test');
      assert.equal(again.encryption?.certificate.serial, r.encryption.certificate.serial);
      assert.equal(again.encryption?.envelope, null);
    });

    test('without a KMC a dual-type order is refused before anything is issued', async () => {
      const { holder } = await dualHolder();
      const { orderId } = await paidOrder(holder);
      const noKmc = new RenewalService(ca.rt.storage, ca.rt.ca, ca.rt.gateway, ca.rt.renewals.policy);
      const req = await holder.renewalRequest(orderId);
      await assert.rejects(
        noKmc.issue(await noKmc.order(orderId), req.csr, req.proof, 'test'),
        (e: unknown) => e instanceof RaError && e.code === 'kmc_unavailable' && /KMC/.test(e.message),
      );
      assert.equal((await noKmc.order(orderId)).state, 'paid');
    });

    test('a dual-type order refunded after the holder asked for its pair gets neither certificate', async () => {
      const { holder } = await dualHolder();
      const { orderId } = await paidOrder(holder);
      const req = await holder.renewalRequest(orderId);
      const asRead = await ca.rt.renewals.order(orderId);
      const staff = await loggedInStaff(ca.rt, served.base, served.origin, ['operator']);
      const refund = await staff.call('POST', `/api/staff/orders/${orderId}/refund`, {
        kind: 'order',
        amount: (asRead.amount_fen / 100).toFixed(2),
        refundReference: 'RF-DUAL',
        reason: 'holder asked',
      });
      assert.equal(refund.status, 200, JSON.stringify(refund.body));
      await assert.rejects(
        ca.rt.renewals.issue(asRead, req.csr, req.proof, 'test'),
        (e: unknown) => e instanceof RaError && e.code === 'invalid_state' && /refunded/.test(e.message),
      );
      assert.equal(await getCertificateByOrder(ca.rt.storage.db, orderId), undefined, 'no signing certificate');
      assert.equal(await escrowedSpki(ca.rt.storage.db, orderId), undefined, 'the KMC was not asked for a key');
      assert.equal((await ca.rt.renewals.order(orderId)).state, 'refunded');
    });
  });
}

describe('dual-pair profiles in PROFILES_FILE', () => {
  const file = (name: string, profiles: unknown): string => {
    const f = path.join(s.dir, `${name}.json`);
    writeFileSync(f, JSON.stringify(profiles));
    return f;
  };
  const builtIn = [...loadProfiles(undefined).values()];
  const sign = builtIn.find((p) => p.id === 'org-identity-sm2')!;
  const enc = builtIn.find((p) => p.id === 'org-identity-sm2-enc')!;

  test('the built-in pair loads from a file as it is', () => {
    const loaded = loadProfiles(file('ok', [sign, enc]));
    assert.equal(loaded.get('org-identity-sm2')!.encryptionProfile, 'org-identity-sm2-enc');
    assert.equal(loaded.get('org-identity-sm2-enc')!.usage, 'encryption');
  });

  test('refusals name the profile and field', () => {
    const refused = (name: string, profiles: unknown[], message: RegExp) =>
      assert.throws(
        () => loadProfiles(file(name, profiles)),
        (e: unknown) => e instanceof ProfileError && message.test(e.message),
      );
    refused(
      'enc-signs',
      [sign, { ...enc, keyUsage: ['keyEncipherment', 'digitalSignature'] }],
      /at 1\.keyUsage: an encryption profile cannot have digitalSignature/,
    );
    refused('enc-certsign', [sign, { ...enc, keyUsage: ['keyEncipherment', 'keyCertSign'] }], /keyCertSign/);
    refused('enc-nothing', [sign, { ...enc, keyUsage: ['nonRepudiation'] }], /cannot have nonRepudiation/);
    refused('enc-ecdsa', [sign, { ...enc, keyTypes: ['sm2', 'ec-p256'] }], /at 1\.keyTypes: .*\["sm2"\]/);
    refused('sign-rsa', [{ ...sign, keyTypes: ['rsa-2048'] }, enc], /at 0\.keyTypes/);
    refused('missing', [sign], /profile org-identity-sm2: encryptionProfile "org-identity-sm2-enc" is not a profile here/);
    refused('not-enc', [sign, { ...enc, usage: 'signing', keyUsage: ['digitalSignature'] }], /is not an encryption profile/);
    refused(
      'wrong-family',
      [{ ...sign, hierarchy: 'rsa-ecdsa' }, enc],
      /at 0\.hierarchy: an SM2 dual pair is issued by the SM2 hierarchy/,
    );
  });
});
