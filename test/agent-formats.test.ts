// Formats shared by the key assistant and the server: login challenges, renewal proofs, and the
// certificate details the UKey 管理 page shows.
import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describeAll, describeCertificate } from '../src/agent/cert-info.js';
import { inRenewalWindow, renewalWindow } from '../src/shared/renewal-window.js';
import { SoftTokenDriver } from '../src/agent/tokens/soft-driver.js';
import { provisionSoftToken, SoftToken } from '../src/agent/tokens/soft-token.js';
import { generateKeyPair, signatureAlgorithmFor, spkiOf, type KeyType } from '../src/pki/algorithms.js';
import { buildCsr } from '../src/pki/csr.js';
import {
  buildLoginChallenge,
  checkLoginChallenge,
  LoginChallengeError,
  verifyLoginSignature,
} from '../src/pki/login-challenge.js';
import { buildRenewalProof, renewalProofMessage, verifyRenewalProof } from '../src/pki/renewal-proof.js';
import { createTestCa, type TestCa } from './helpers/ca.js';
import { HOLDER_SUBJECT, HOLDER_UNIQUE_ID, issueFor } from './helpers/agent.js';
import { issueLegacyCertificate } from './helpers/legacy-certificate.js';

const ORIGIN = 'https://portal.example';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof LoginChallengeError, String(e));
    return e.code;
  }
  return 'ok';
}

describe('login challenge, renewal proof, certificate details', () => {
  let ca: TestCa;
  const certs = new Map<KeyType, { der: Buffer; key: ReturnType<typeof generateKeyPair>['privateKey'] }>();

  before(async () => {
    ca = await createTestCa();
    for (const kt of ['ec-p256', 'rsa-2048'] as const) {
      const { privateKey, publicKey } = generateKeyPair(kt);
      const alg = signatureAlgorithmFor(kt);
      const csr = await buildCsr({
        subject: HOLDER_SUBJECT,
        spki: spkiOf(publicKey),
        signatureAlgId: alg.algId,
        sign: (d) => sign(alg.digest, d, privateKey),
      });
      certs.set(kt, { der: await issueFor(ca, csr, { days: 30 }), key: privateKey });
    }
  });
  after(() => ca?.cleanup());

  it('the assistant signs only a challenge of the right type, for the calling origin, not expired', () => {
    const { text, challenge } = buildLoginChallenge({ origin: ORIGIN });
    assert.ok(Buffer.from(challenge.nonce, 'base64url').length >= 16);
    assert.equal(
      code(() => checkLoginChallenge(text, { origin: ORIGIN })),
      'ok',
    );
    assert.equal(
      code(() => checkLoginChallenge(text, { origin: 'https://evil.example' })),
      'challenge_origin_mismatch',
    );
    assert.equal(
      code(() => checkLoginChallenge(text, { origin: ORIGIN, now: new Date(Date.now() + 3600_000) })),
      'challenge_expired',
    );
    assert.equal(
      code(() => checkLoginChallenge(JSON.stringify({ ...challenge, type: 'payment' }), { origin: ORIGIN })),
      'challenge_wrong_type',
    );
    assert.equal(
      code(() => checkLoginChallenge(JSON.stringify({ ...challenge, nonce: 'short' }), { origin: ORIGIN })),
      'challenge_malformed',
    );
    assert.equal(
      code(() => checkLoginChallenge('not json', { origin: ORIGIN })),
      'challenge_malformed',
    );
    assert.equal(
      code(() => checkLoginChallenge(JSON.stringify({ ...challenge, exp: challenge.iat + 86400 }), { origin: ORIGIN })),
      'challenge_malformed',
    );
  });

  for (const kt of ['ec-p256', 'rsa-2048'] as const) {
    it(`verifyLoginSignature (${kt}): the exact challenge bytes, by the certificate's key`, () => {
      const { der, key } = certs.get(kt)!;
      const { text } = buildLoginChallenge({ origin: ORIGIN });
      const sig = sign(signatureAlgorithmFor(kt).digest, Buffer.from(text), key);
      assert.equal(verifyLoginSignature(text, sig, der), true);
      assert.equal(verifyLoginSignature(text + ' ', sig, der), false);
      const other = certs.get(kt === 'ec-p256' ? 'rsa-2048' : 'ec-p256')!.der;
      assert.equal(verifyLoginSignature(text, sig, other), false);
    });
  }

  it('renewal proof: the old key over order id and CSR digest', async () => {
    const { der, key } = certs.get('ec-p256')!;
    const csr = Buffer.from('a CSR would be here');
    assert.match(renewalProofMessage('order-1', csr).toString(), /^certdesk-renewal-proof:v1\norder-1\n[0-9a-f]{64}$/);
    const proof = await buildRenewalProof('order-1', csr, (m) => sign('sha256', m, key));
    assert.equal(verifyRenewalProof({ orderId: 'order-1', csrDer: csr, signature: proof, oldCertificateDer: der }), true);
    assert.equal(verifyRenewalProof({ orderId: 'order-2', csrDer: csr, signature: proof, oldCertificateDer: der }), false);
    assert.equal(
      verifyRenewalProof({ orderId: 'order-1', csrDer: Buffer.from('another'), signature: proof, oldCertificateDer: der }),
      false,
    );
    assert.throws(() => renewalProofMessage('../etc/passwd', csr));
  });

  it('provisionSoftToken: a key generated on a new soft token and its certificate (the demo holder)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'certdesk-provision-'));
    try {
      const file = path.join(dir, 'demo.json');
      const r = await provisionSoftToken(file, {
        label: '企业测试',
        pin: '246810',
        subject: HOLDER_SUBJECT,
        keyLabel: 'identity',
        issue: (csr) => issueFor(ca, csr, { days: 30 }),
      });
      const [token] = await new SoftTokenDriver([file]).list();
      assert.equal(token?.id, r.tokenId);
      const [cert] = describeAll(new SoftToken(file).certificates());
      assert.equal(cert?.id, r.keyId);
      assert.equal(cert?.label, 'identity');
      assert.equal(cert?.renewal.open, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the 唯一识别号 and 证书种类 of an old-style certificate (2.25 extension) and of a person with a 身份证号', async () => {
    const { privateKey, publicKey } = generateKeyPair('ec-p256');
    const alg = signatureAlgorithmFor('ec-p256');
    const csrFor = (subject: typeof HOLDER_SUBJECT) =>
      buildCsr({ subject, spki: spkiOf(publicKey), signatureAlgId: alg.algId, sign: (d) => sign(alg.digest, d, privateKey) });
    const legacy = await issueLegacyCertificate(ca, await csrFor(HOLDER_SUBJECT), { uniqueId: 'OLD-0001', days: 30 });
    const old = describeCertificate({ id: 'ab', label: 'identity', der: legacy.der });
    assert.equal(old.uniqueId, 'OLD-0001');
    assert.equal(old.profile.name, '单位身份证书');
    // a person's certificate naming an employer (O ≠ CN): the GM/T 0015 extension says it is a person's
    const person = await ca.rt.ca.issue({
      csr: await csrFor([
        { type: 'C', value: 'CN' },
        { type: 'O', value: '企业测试' },
        { type: 'CN', value: '张三' },
      ]),
      profileId: 'personal-identity',
      uniqueId: '11010519491231002X',
      actor: 'test',
    });
    const p = describeCertificate({ id: 'cd', label: 'identity', der: person.der });
    assert.equal(p.uniqueId, '11010519491231002X');
    assert.equal(p.profile.id, 'personal-identity');
  });

  it('certificate details: 名称, 证书种类, 唯一识别号, days left, renewal window', () => {
    const v = describeCertificate({ id: 'ab', label: 'identity', der: certs.get('ec-p256')!.der });
    assert.equal(v.name, '企业测试');
    assert.equal(v.profile.id, 'org-identity');
    assert.equal(v.profile.name, '单位身份证书');
    assert.equal(v.uniqueId, HOLDER_UNIQUE_ID);
    assert.ok(v.daysLeft === 29 || v.daysLeft === 30, String(v.daysLeft));
    assert.equal(v.renewal.open, true);
    assert.equal(v.state, 'current');
    assert.equal(describeCertificate({ id: 'ab', label: 'retired:o1', der: certs.get('ec-p256')!.der }).state, 'retired');
    const notAfter = new Date('2030-06-15T00:00:00Z');
    assert.equal(inRenewalWindow(renewalWindow(notAfter), new Date('2030-03-14T00:00:00Z')), false);
    assert.equal(inRenewalWindow(renewalWindow(notAfter), new Date('2030-03-16T00:00:00Z')), true);
    assert.equal(inRenewalWindow(renewalWindow(notAfter), new Date('2030-09-14T00:00:00Z')), true);
    assert.equal(inRenewalWindow(renewalWindow(notAfter), new Date('2030-09-16T00:00:00Z')), false);
  });
});
