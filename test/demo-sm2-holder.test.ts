// The demo's SM2 holder on an existing demo key: a demo DATA_DIR from before it (an ECDSA-only
// database, a soft token with the ECDSA holder only) gets the SM2 hierarchy and the dual pair added
// at the next start, once; the pair is issued by the CA with the key from the KMC and works on the token.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { provisionSoftToken, SoftToken } from '../src/agent/tokens/soft-token.js';
import { DEMO_HOLDER, DEMO_SM2_HOLDER, ensureDemoToken } from '../src/cli/demo-command.js';
import { parseCertificate } from '../src/pki/certificate.js';
import { getEncryptionPartner } from '../src/sa/certificates.js';
import { workingPairsSoft } from './helpers/agent.js';
import { createTestCa, type TestCa } from './helpers/ca.js';
import { escrowedSpki } from './helpers/kmc.js';

const PIN = '482916';

describe('the demo key from before the SM2 holder', () => {
  let ca: TestCa;
  let file: string;

  before(async () => {
    ca = await createTestCa({ keyType: 'ec-p256' });
    const dir = path.join(ca.dir, 'demo');
    mkdirSync(dir, { recursive: true });
    file = path.join(dir, 'soft-token.json');
    await provisionSoftToken(file, {
      label: 'certdesk 演示 UKey',
      pin: PIN,
      subject: [
        { type: 'C', value: 'CN' },
        { type: 'O', value: DEMO_HOLDER.name },
        { type: 'CN', value: DEMO_HOLDER.name },
      ],
      issue: async (csr) =>
        (await ca.rt.ca.issue({ csr, profileId: 'org-identity', days: 30, uniqueId: DEMO_HOLDER.uniqueId, actor: 'test' })).der,
    });
    writeFileSync(path.join(dir, 'pin.txt'), PIN + '\n');
  });
  after(async () => ca?.cleanup());

  test('gets the SM2 hierarchy and the dual pair once, beside the ECDSA holder', async () => {
    assert.deepEqual(ca.rt.ca.families(), ['rsa-ecdsa'], 'an ECDSA-only demo database');
    const first = await ensureDemoToken(ca.rt);
    assert.deepEqual(
      { created: first.created, sm2Added: first.sm2Added, pin: first.pin },
      { created: false, sm2Added: true, pin: PIN },
    );
    assert.deepEqual(ca.rt.ca.families(), ['rsa-ecdsa', 'sm2']);

    const { pairs, encryption } = await workingPairsSoft(file, PIN);
    assert.equal(pairs.length, 2, 'the ECDSA and the SM2 signing pairs sign');
    assert.equal(encryption.length, 1, 'the encryption key from the envelope decrypts');
    const signing = pairs.find((p) => p.label === 'certdesk-sm2');
    assert.ok(signing, JSON.stringify(pairs.map((p) => p.label)));
    const partner = (await getEncryptionPartner(ca.rt.storage.db, parseCertificate(signing.certificate).serialHex))!;
    assert.equal(
      partner.serial.toUpperCase(),
      parseCertificate(encryption[0]!.certificate).serialHex.toUpperCase(),
      'paired on the server',
    );
    assert.equal(encryption[0]!.label, 'certdesk-sm2:enc');
    assert.equal(partner.profile, 'org-identity-sm2-enc');
    const encSpki = parseCertificate(encryption[0]!.certificate).spki;
    assert.ok((await escrowedSpki(ca.rt.storage.db, `first-${partner.signing_serial}`))?.equals(encSpki), 'escrowed by the KMC');
    assert.match(partner.subject, new RegExp(DEMO_SM2_HOLDER.uniqueId));

    const again = await ensureDemoToken(ca.rt);
    assert.equal(again.sm2Added, false, 'added once');
    assert.equal(new SoftToken(file).certificates().length, 3);
  });
});
