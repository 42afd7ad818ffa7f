// SM2 on the key assistant's side (issue 9): SM2 keys on the soft token (made there or imported
// from OpenSSL, sealed like every key, signing SM2-with-SM3 with the default ID — OpenSSL verifies
// with distid:1234567812345678 — decrypting with an encryption key opened from a KMC envelope), the
// login challenge and renewal proof signed by an SM2 certificate's key and accepted by the server,
// and PKCS#11 refusing SM2 with a reason.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Pkcs11Driver } from '../src/agent/tokens/pkcs11-driver.js';
import { createSoftToken, SoftToken } from '../src/agent/tokens/soft-token.js';
import { closeModule } from '../src/pkcs11/index.js';
import { parseCertificate } from '../src/pki/certificate.js';
import { buildLoginChallenge, verifyLoginSignature } from '../src/pki/login-challenge.js';
import { toPem } from '../src/pki/pem.js';
import { buildRenewalProof, renewalProofMessage, verifyRenewalProof } from '../src/pki/renewal-proof.js';
import { makeSm2EnvelopedKey } from '../src/pki/sm2-envelope.js';
import { sm2Verify, Sm2PrivateKey, Sm2PublicKey } from '../src/pki/sm2.js';
import { checkHolderLogin } from '../src/ra/holder-login.js';
import { AgentClient, expectTokenError, startAgentProcess, type AgentProcess } from './helpers/agent.js';
import { CHROMIUM } from './helpers/browser.js';
import { createTestCa, openssl, type TestCa } from './helpers/ca.js';
import { cli } from './helpers/cli.js';
import { requireTool } from './helpers/requirements.js';
import { sm2DualToken, type Sm2DualHolder } from './helpers/sm2-holder.js';
import { scratch, type Scratch } from './helpers/sm2.js';
import { createSoftHsm } from './helpers/softhsm.js';

const PIN = '135790';
const DISTID = ['-pkeyopt', 'distid:1234567812345678'];

/** OpenSSL's verdict on an SM2 signature with the default ID (`pkeyutl -verify -rawin -digest sm3 -pkeyopt distid:…`). */
function opensslVerifies(tmp: Scratch, publicKeyPem: string, data: Buffer | string, sig: Buffer, name: string): boolean {
  return openssl([
    'pkeyutl',
    '-verify',
    '-rawin',
    '-digest',
    'sm3',
    ...DISTID,
    '-pubin',
    '-inkey',
    tmp.write(`${name}.pub.pem`, publicKeyPem),
    '-in',
    tmp.write(`${name}.data`, data),
    '-sigfile',
    tmp.write(`${name}.sig`, sig),
  ]).out.includes('Signature Verified Successfully');
}

describe('SM2 keys on the soft token', () => {
  let dir: string;
  let tmp: Scratch;
  let n = 0;
  const file = (): string => path.join(dir, `t${++n}.json`);

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'certdesk-sm2-token-'));
    tmp = scratch('sm2-token');
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    tmp.cleanup();
  });

  it('generates an SM2 key sealed like the others and signs SM2-with-SM3 with the default ID, as OpenSSL verifies', async () => {
    const f = file();
    await createSoftToken(f, { label: 'sm2', pin: PIN });
    const s = await new SoftToken(f).login(PIN);
    try {
      const key = await s.generateKeyPair({ label: 'identity', keyType: 'sm2' });
      assert.equal(key.keyType, 'sm2');
      const pub = Sm2PublicKey.fromSpki(key.spki); // id-ecPublicKey on the SM2 curve
      const stored = JSON.parse(readFileSync(f, 'utf8')) as { objects: Record<string, unknown>[] };
      const priv = stored.objects.find((o) => o.class === 'private-key')!;
      assert.equal(priv.keyType, 'sm2');
      assert.ok(priv.sealed && !('pkcs8' in priv), 'the private key is only stored sealed');
      assert.deepEqual(
        new SoftToken(f).publicObjects().map((o) => `${o.class}:${o.keyType ?? ''}`),
        ['public-key:SM2'],
        'no private key is visible without the PIN; its type is SM2',
      );

      const data = Buffer.from('certdesk SM2 签名 test');
      const sig = await s.sign(key.id, data);
      assert.ok(sm2Verify(pub, data, sig), 'verifies with the default ID');
      assert.ok(!sm2Verify(pub, data, sig, { id: '' }), 'not an empty-ID (node:crypto) signature');
      assert.ok(
        opensslVerifies(tmp, toPem('PUBLIC KEY', key.spki), data, sig, 'gen'),
        'OpenSSL verifies it with distid:1234567812345678',
      );
      assert.ok(
        !opensslVerifies(tmp, toPem('PUBLIC KEY', key.spki), Buffer.from('other'), sig, 'gen2'),
        'and refuses it for other data',
      );
    } finally {
      await s.close();
    }
  });

  it('imports SM2 keys made by OpenSSL (PKCS#8 and SEC1 "SM2 PRIVATE KEY") with certdesk token import-soft', async () => {
    const pkcs8 = tmp.write('k1.pem', '');
    tmp.ok(['genpkey', '-algorithm', 'SM2', '-out', pkcs8]);
    const sec1 = path.join(tmp.dir, 'k2.pem');
    tmp.ok(['ec', '-in', pkcs8, '-out', sec1]);
    assert.match(readFileSync(sec1, 'utf8'), /BEGIN (SM2|EC) PRIVATE KEY/);
    const env = { ...process.env, TOKEN_PIN: PIN };
    for (const [i, keyFile] of [pkcs8, sec1].entries()) {
      const f = file();
      assert.equal(cli(['token', 'init-soft', '--out', f, '--pin-env', 'TOKEN_PIN'], env).status, 0);
      const r = cli(
        ['token', 'import-soft', '--file', f, '--key', keyFile, '--label', 'imported', '--pin-env', 'TOKEN_PIN'],
        env,
      );
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /imported sm2 key id [0-9a-f]+/);
      const s = await new SoftToken(f).login(PIN);
      try {
        const [key] = await s.listKeys();
        assert.equal(key!.keyType, 'sm2');
        const want = Sm2PrivateKey.fromPem(readFileSync(keyFile, 'utf8')).publicKey.toSpki();
        assert.ok(key!.spki.equals(want), 'the same key as OpenSSL made');
        const data = Buffer.from(`imported ${i}`);
        assert.ok(opensslVerifies(tmp, toPem('PUBLIC KEY', key!.spki), data, await s.sign(key!.id, data), `imp${i}`));
      } finally {
        await s.close();
      }
    }
  });

  it('opens a KMC envelope inside the token: refused for another signing key or another key than expected, nothing written; the key decrypts and never signs', async () => {
    const f = file();
    await createSoftToken(f, { label: 'sm2', pin: PIN });
    const s = await new SoftToken(f).login(PIN);
    try {
      const signing = await s.generateKeyPair({ label: 'identity', keyType: 'sm2' });
      const encKey = Sm2PrivateKey.generate();
      const encSpki = encKey.publicKey.toSpki();
      const before = readFileSync(f, 'utf8');
      const forOther = makeSm2EnvelopedKey({ protectionKey: Sm2PrivateKey.generate().publicKey, encryptionKey: encKey });
      const refused = await expectTokenError(
        s.unwrapSm2Key({ unwrappingKeyId: signing.id, envelope: forOther, label: 'identity:enc', expectedSpki: encSpki }),
        'ENVELOPE_REFUSED',
      );
      assert.match(refused.message, /not for this signing key/);
      const envelope = makeSm2EnvelopedKey({ protectionKey: Sm2PublicKey.fromSpki(signing.spki), encryptionKey: encKey });
      await expectTokenError(
        s.unwrapSm2Key({
          unwrappingKeyId: signing.id,
          envelope,
          label: 'identity:enc',
          expectedSpki: Sm2PrivateKey.generate().publicKey.toSpki(),
        }),
        'KEY_MISMATCH',
      );
      const checked = await s.unwrapSm2Key({ unwrappingKeyId: signing.id, envelope, label: 'identity:enc', checkOnly: true });
      assert.ok(checked.spki.equals(encSpki));
      assert.equal(readFileSync(f, 'utf8'), before, 'refusals and the check wrote nothing');

      const enc = await s.unwrapSm2Key({ unwrappingKeyId: signing.id, envelope, label: 'identity:enc', expectedSpki: encSpki });
      assert.equal(enc.usage, 'encryption');
      const again = await s.unwrapSm2Key({ unwrappingKeyId: signing.id, envelope, label: 'identity:enc', expectedSpki: encSpki });
      assert.equal(again.id, enc.id, 'opening the same envelope again adopts the stored key');
      assert.equal((await s.listKeys()).length, 2);
      const file1 = readFileSync(f, 'utf8');
      assert.ok(!file1.includes(encKey.toPkcs8().toString('base64')), 'the encryption key is stored sealed');

      // OpenSSL encrypts to the encryption certificate's key; the token decrypts
      const secret = Buffer.from('an SM4 key, say: 0123456789abcdef');
      const ct = path.join(tmp.dir, 'ct.der');
      tmp.ok([
        'pkeyutl',
        '-encrypt',
        '-pubin',
        '-inkey',
        tmp.write('enc-pub.pem', toPem('PUBLIC KEY', encSpki)),
        '-in',
        tmp.write('secret', secret),
        '-out',
        ct,
      ]);
      assert.deepEqual(await s.decrypt(enc.id, readFileSync(ct)), secret);
      await expectTokenError(s.sign(enc.id, secret), 'INVALID_ARGUMENT');
      await expectTokenError(s.decrypt(signing.id, readFileSync(ct)), 'INVALID_ARGUMENT');
      await expectTokenError(s.unwrapSm2Key({ unwrappingKeyId: enc.id, envelope, label: 'x' }), 'INVALID_ARGUMENT');
    } finally {
      await s.close();
    }
  });

  it('PKCS#11 tokens refuse SM2 with the reason', { skip: requireTool('softhsm2') }, async () => {
    const hsm = createSoftHsm({ tokens: ['sm2'] });
    try {
      const driver = new Pkcs11Driver([hsm.module]);
      const [t] = await driver.list();
      const s = await driver.openSession(t!.id, hsm.pin);
      try {
        const e = await expectTokenError(s.generateKeyPair({ label: 'x', keyType: 'sm2' }), 'UNSUPPORTED');
        assert.match(e.message, /no standard SM2 mechanism.*soft token/);
        await expectTokenError(s.unwrapSm2Key({ unwrappingKeyId: '01', envelope: Buffer.alloc(1), label: 'x' }), 'UNSUPPORTED');
      } finally {
        await s.close();
        await driver.close();
      }
    } finally {
      closeModule(hsm.module);
      await hsm.cleanup();
    }
  });
});

describe('login and renewal proof with an SM2 certificate', () => {
  let ca: TestCa;
  let dir: string;
  let tmp: Scratch;
  let h: Sm2DualHolder;
  let agent: AgentProcess;

  before(async () => {
    ca = await createTestCa({ keyType: 'sm2' });
    dir = mkdtempSync(path.join(tmpdir(), 'certdesk-sm2-login-'));
    tmp = scratch('sm2-login');
    h = await sm2DualToken(ca, path.join(dir, 'holder.json'), { pin: PIN });
    agent = await startAgentProcess(['--soft-token', h.file, '--journal-dir', path.join(dir, 'journal')]);
  });
  after(async () => {
    await agent?.stop();
    await ca?.cleanup();
    rmSync(dir, { recursive: true, force: true });
    tmp?.cleanup();
  });

  it('the assistant lists both certificates, signs the challenge with the signing key only, and the server accepts it', async () => {
    const c = new AgentClient(agent.url);
    const certs = (await c.call('GET', `/v1/tokens/${h.tokenId}/certificates`)).body.certificates as {
      id: string;
      usage: string;
      pairedWith: string | null;
      serial: string;
      profile: { id: string; name: string; nameEn: string };
    }[];
    const signing = certs.find((x) => x.usage === 'signing')!;
    const enc = certs.find((x) => x.usage === 'encryption')!;
    assert.equal(signing.serial, parseCertificate(h.signing).serialHex.toUpperCase());
    assert.equal(enc.serial, parseCertificate(h.encryption).serialHex.toUpperCase());
    assert.equal(signing.pairedWith, enc.id);
    assert.equal(enc.pairedWith, null);
    for (const v of [signing, enc]) {
      assert.deepEqual(
        [v.profile.id, v.profile.name, v.profile.nameEn],
        ['org-identity-sm2', '单位身份证书（SM2 双证书）', 'Organisation identity certificate (SM2 dual)'],
      );
    }

    const { text } = buildLoginChallenge({ origin: 'https://portal.example' });
    const refused = await c.createRequest({ op: 'login', tokenId: h.tokenId, certificateId: enc.id, challenge: text });
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.equal(refused.body.error, 'certificate_not_for_signing');

    const req = await c.createRequest({ op: 'login', tokenId: h.tokenId, certificateId: signing.id, challenge: text });
    assert.equal(req.status, 201, JSON.stringify(req.body));
    assert.equal((await c.approve(req.approveUrl, PIN)).status, 200);
    const result = (await c.request(req.requestId, req.sessionToken)).body.result as {
      signature: string;
      certificate: string;
      algorithm: string;
    };
    assert.equal(result.algorithm, 'SM2-with-SM3');
    const sig = Buffer.from(result.signature, 'base64');
    const certDer = Buffer.from(result.certificate, 'base64');
    assert.ok(certDer.equals(h.signing));
    assert.ok(verifyLoginSignature(text, sig, certDer), 'src/pki verifies with the default ID');
    const login = await checkHolderLogin(ca.rt.ca, { challengeText: text, signature: sig, certificateDer: certDer });
    assert.equal(login.renewalOnly, false);
    await assert.rejects(
      checkHolderLogin(ca.rt.ca, { challengeText: text + ' ', signature: sig, certificateDer: certDer }),
      /did not sign this login/,
    );
    // OpenSSL, from the certificate, with distid
    const pub = tmp.ok(['x509', '-inform', 'DER', '-in', tmp.write('signing.der', certDer), '-pubkey', '-noout']);
    assert.ok(opensslVerifies(tmp, pub, text, sig, 'login'), 'OpenSSL verifies the login signature with distid');
  });

  it('the renewal proof by an SM2 old key verifies in src/pki and with OpenSSL', async () => {
    const s = await new SoftToken(h.file).login(PIN);
    try {
      const key = (await s.listKeys()).find((k) => k.spki.equals(parseCertificate(h.signing).spki))!;
      const csr = Buffer.from('stands in for a CSR: the proof covers its SHA-256');
      const proof = await buildRenewalProof('ORD-SM2-1', csr, (m) => s.sign(key.id, m));
      assert.ok(verifyRenewalProof({ orderId: 'ORD-SM2-1', csrDer: csr, signature: proof, oldCertificateDer: h.signing }));
      assert.ok(!verifyRenewalProof({ orderId: 'ORD-SM2-2', csrDer: csr, signature: proof, oldCertificateDer: h.signing }));
      assert.ok(
        opensslVerifies(tmp, toPem('PUBLIC KEY', key.spki), renewalProofMessage('ORD-SM2-1', csr), proof, 'proof'),
        'OpenSSL verifies the renewal proof with distid',
      );
    } finally {
      await s.close();
    }
  });

  it(
    'UKey 管理 in Chromium shows both: 签名证书 paired with its 加密证书, in Chinese and English',
    { skip: requireTool('chromium') },
    async () => {
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
      try {
        const page = await browser.newPage();
        await page.goto(`${agent.url}/`);
        await page.waitForSelector('table.cert[data-usage="encryption"]');
        const signingSerial = parseCertificate(h.signing).serialHex.toUpperCase();
        const encSerial = parseCertificate(h.encryption).serialHex.toUpperCase();
        const text = async (usage: string): Promise<string> =>
          (await page.textContent(`table.cert[data-usage="${usage}"]`)) ?? '';
        assert.equal(await page.getAttribute('table.cert[data-usage="signing"]', 'data-serial'), signingSerial);
        assert.equal(await page.getAttribute('table.cert[data-usage="encryption"]', 'data-serial'), encSerial);
        assert.match(await text('signing'), /证书用途签名证书/);
        assert.match(await text('signing'), new RegExp(`对应加密证书${encSerial}`));
        assert.match(await text('signing'), /单位身份证书（SM2 双证书）/);
        assert.match(await text('encryption'), /证书用途加密证书/);
        await page.click('#lang');
        // (no waitForFunction: the page's CSP forbids eval)
        await page.locator('table.cert[data-usage="encryption"]', { hasText: 'Encryption certificate' }).waitFor();
        assert.match(await text('signing'), /UsageSigning certificate/);
        assert.match(await text('signing'), /Organisation identity certificate \(SM2 dual\)/);
        assert.match(await text('encryption'), /UsageEncryption certificate/);
      } finally {
        await browser.close();
      }
    },
  );

  it('certdesk token list shows 签名证书 and 加密证书', () => {
    const r = cli(['token', 'list', '--soft-token', h.file], process.env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /用途 Usage\s+签名证书 signing \(加密证书 encryption certificate: id [0-9a-f]+\)/);
    assert.match(r.stdout, /用途 Usage\s+加密证书 encryption/);
    assert.match(r.stdout, /单位身份证书（SM2 双证书）/);
  });
});
