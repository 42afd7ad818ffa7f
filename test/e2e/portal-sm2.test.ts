// The SM2 holder's path in Chromium, exactly as the ECDSA one: a soft token holding a dual pair
// (单位身份证书（SM2 双证书）: 签名证书 whose key was made on the token + 加密证书 whose key the KMC made
// and delivered in an envelope). Login offers the signing certificate only; renewal with online
// payment and with a bank transfer confirmed by staff runs to 更新成功, which shows both new
// certificates; the key then holds the new signing pair and the new encryption pair, the old
// encryption key kept as retired (old ciphertexts stay readable); the server has both new
// certificates, linked, the new encryption key escrowed, the old pair superseded. An assistant
// killed after the dual install's own step (encryption-key-stored) leaves a working key, and 继续更新
// finishes. One browser (holders switch by dropping the session cookie), one environment.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseCertificate } from '../../src/pki/certificate.js';
import { getCertificate, getEncryptionPartner } from '../../src/sa/certificates.js';
import { SEAL_APPLICATION } from '../../src/agent/tokens/driver.js';
import { SoftToken } from '../../src/agent/tokens/soft-token.js';
import { parseSeal } from '../../src/pki/ses-seal.js';
import { verifySeal } from '../../src/pki/ses-verify.js';
import { workingPairsSoft } from '../helpers/agent.js';
import { sealOnToken } from '../helpers/sm2-holder.js';
import { approveInAssistant, popupFrom, screenshot, withScreenshots, type BrowserSession } from '../helpers/browser.js';
import { escrowedSpki } from '../helpers/kmc.js';
import { requireTool } from '../helpers/requirements.js';
import {
  loginWith,
  normSerial,
  openBrowser,
  payByBankTransfer,
  payOnline,
  PIN,
  runUpdate,
  startPortalEnv,
  type PortalEnv,
} from './portal-env.js';

const serialOf = (d: Buffer): string => normSerial(parseCertificate(d).serialHex);
const isCurrent = (label: string): boolean => !label.startsWith('pending:') && !label.startsWith('retired:');

describe('the SM2 dual-pair holder in the portal', { skip: requireTool('chromium') }, () => {
  let env: PortalEnv;
  let b: BrowserSession;

  before(async () => {
    env = await startPortalEnv({
      keys: [
        { label: 'SM2-ONLINE', days: 30, dual: true },
        { label: 'SM2-BANK', days: 30, dual: true },
        { label: 'SM2-INT', days: 30, dual: true },
        { label: 'SM2-SEAL', days: 30, dual: true },
      ],
    });
    b = await openBrowser();
  });

  after(async () => {
    await b?.close();
    await env?.close();
  });

  /** What works on the key, by serial: signing pairs (signs, verifies with the default SM2 ID) and encryption pairs (decrypts). */
  const keyState = async (label: string) => {
    const { pairs, encryption, objects } = await workingPairsSoft(env.keys.get(label)!.file, PIN);
    return {
      signing: pairs.filter((p) => isCurrent(p.label)).map((p) => normSerial(p.serial)),
      encryption: encryption.filter((p) => isCurrent(p.label)).map((p) => normSerial(p.serial)),
      retiredEncryption: encryption
        .filter((p) => p.label.startsWith('retired:'))
        .map((p) => `${normSerial(p.serial)}:${p.label}`),
      allSigning: pairs.length,
      objects,
    };
  };

  /** A new holder in the same browser: the portal session cookie goes, then 登录系统 with `label`. */
  const loginAs = async (label: string): Promise<void> => {
    await b.context.clearCookies();
    await loginWith(b.page, env, label);
  };

  /** After 更新成功: the page, the key and the server all have the new pair; the old pair superseded, its encryption key kept. */
  const assertRenewed = async (label: string, orderId: string, newSerial: string): Promise<void> => {
    const { page } = b;
    const key = env.keys.get(label)!;
    const oldSerial = serialOf(key.certificate);
    const oldEncSerial = serialOf(key.encryptionCertificate!);

    // 更新成功 shows both new certificates
    assert.equal(await page.getByTestId('new-certificate').locator('.ant-card-head-title').textContent(), '签名证书');
    assert.equal(await page.getByTestId('new-encryption-certificate').locator('.ant-card-head-title').textContent(), '加密证书');
    const newEncSerial = normSerial((await page.getByTestId('new-enc-serial').textContent()) ?? '');
    assert.notEqual(newEncSerial, oldEncSerial);
    assert.match((await page.getByTestId('new-encryption-certificate').textContent()) ?? '', /单位身份证书（SM2 双证书）/);

    // the server: the order completed and paid once; the pair linked; the new encryption key escrowed; the old pair superseded
    const db = env.ca.rt.storage.db;
    const order = await env.ca.rt.renewals.order(orderId);
    assert.equal(order.state, 'completed');
    assert.equal(normSerial(order.issued_serial!), newSerial);
    const signing = (await getCertificate(db, order.issued_serial!))!;
    const partner = (await getEncryptionPartner(db, signing.serial))!;
    assert.equal(
      normSerial(partner.serial),
      newEncSerial,
      'the encryption certificate the page shows is the signing one’s partner',
    );
    assert.equal(partner.profile, 'org-identity-sm2-enc');
    assert.equal(signing.profile, 'org-identity-sm2');
    assert.ok(
      (await escrowedSpki(db, orderId))?.equals(parseCertificate(Buffer.from(partner.der)).spki),
      'the KMC escrowed the new key',
    );
    for (const old of [key.certificate, key.encryptionCertificate!]) {
      const rec = (await getCertificate(db, parseCertificate(old).serialHex))!;
      assert.equal(rec.status, 'revoked', `${rec.serial} superseded`);
      assert.equal(rec.revocation_reason, 4);
    }
    const events = (await page.evaluate(
      (id) => fetch(`/api/portal/orders/${id}`).then((r) => r.json() as Promise<{ order: { events: { type: string }[] } }>),
      orderId,
    )) as { order: { events: { type: string }[] } };
    assert.equal(events.order.events.filter((e) => e.type === 'paid').length, 1, 'paid once');

    // the key: exactly the new signing pair and the new encryption pair current; the old encryption key retired and still decrypting
    const st = await keyState(label);
    assert.deepEqual(st.signing, [newSerial], JSON.stringify(st.objects));
    assert.equal(st.allSigning, 1, 'the old signing pair is gone');
    assert.deepEqual(st.encryption, [newEncSerial], JSON.stringify(st.objects));
    assert.deepEqual(st.retiredEncryption, [`${oldEncSerial}:retired:${orderId}:enc`], 'the old encryption key is kept');
    assert.notEqual(newSerial, oldSerial);

    // 证书查询 shows the new 签名证书 with its 加密证书
    await page.getByRole('menuitem', { name: '证书查询' }).click();
    const current = page.getByTestId('current-certificate');
    await current.waitFor();
    assert.equal(
      normSerial((await current.getByTestId('encryption-certificate').locator('code').textContent()) ?? ''),
      newEncSerial,
    );
  };

  test('登录系统 offers the signing certificate only; online payment; 更新成功 shows 签名证书 and 加密证书', async () => {
    await withScreenshots(b, 'sm2-online', async () => {
      const { page } = b;
      await b.context.clearCookies();
      await page.goto(`${env.origin}/`);
      await page.getByRole('heading', { name: '登录系统' }).waitFor();
      const table = page.getByTestId('cert-table');
      if (!(await table.isVisible().catch(() => false))) await page.getByTestId('connect-agent').click();
      await table.getByRole('row', { name: /SM2-ONLINE/ }).waitFor();
      // four keys, each with a 签名证书 and a 加密证书: four rows, the signing certificates
      assert.equal(await table.locator('tbody tr').count(), 4, 'one row per key: the 加密证书 cannot log in');
      await screenshot(page, 'e2e-sm2-login');

      await loginWith(page, env, 'SM2-ONLINE');
      const card = page.getByTestId('confirm-card');
      await card.getByText('请确认您证书的信息').waitFor();
      const text = (await card.textContent()) ?? '';
      assert.match(text, /单位身份证书（SM2 双证书）/);
      assert.match(text, /国密测试单位/);
      await page.getByTestId('confirm-cert').click();
      const orderId = await payOnline(page, { shots: 'e2e-sm2' });
      const newSerial = await runUpdate(page, orderId, { shots: 'e2e-sm2' });
      await assertRenewed('SM2-ONLINE', orderId, newSerial);
      await screenshot(page, 'e2e-sm2-certificates');
    });
  });

  test('银行转帐 confirmed by staff with the CLI; 支付成功; 更新成功 with both new certificates', async () => {
    await withScreenshots(b, 'sm2-bank', async () => {
      const { page } = b;
      await loginAs('SM2-BANK');
      await page.getByTestId('confirm-cert').click();
      const { orderId } = await payByBankTransfer(page, env, { bankReference: 'ICBC-SM2-0001', shots: 'e2e-sm2-bank' });
      const newSerial = await runUpdate(page, orderId);
      await assertRenewed('SM2-BANK', orderId, newSerial);
      assert.equal((await env.ca.rt.renewals.order(orderId)).payment_method, 'bank');
    });
  });

  test('印章更新: the renewal in the browser re-makes the holder’s seal for exactly the new certificate and writes it to the key', async () => {
    const label = 'SM2-SEAL';
    const key = env.keys.get(label)!;
    const { esId } = await sealOnToken(env.ca, key.file, PIN, key.certificate, '国密测试单位');
    await withScreenshots(b, 'sm2-seal', async () => {
      const { page } = b;
      await loginAs(label);
      await page.getByTestId('confirm-cert').click();
      const orderId = await payOnline(page);
      await page.getByTestId('go-update').click();
      await page.getByTestId('update-steps').waitFor();
      const popup = await popupFrom(page, () => page.getByTestId('start-update').click());
      await approveInAssistant(popup, PIN);
      await page.getByTestId('update-success').waitFor({ timeout: 90_000 });
      // the 印章更新 step and the seal's picture are on the page
      await page.getByTestId(`update-seal-${esId}`).waitFor();
      assert.match((await page.getByTestId('update-steps').textContent()) ?? '', /印章更新/);
      assert.equal(await page.getByTestId(`update-seal-${esId}`).locator('img').count(), 1);
      await screenshot(page, 'e2e-sm2-seal-update');
      const newSerial = normSerial((await page.getByTestId('new-serial').textContent()) ?? '');
      await assertRenewed(label, orderId, newSerial);

      // the key: one seal, labelled with its esID, whose certList is exactly the new signing certificate
      const s = await new SoftToken(key.file).login(PIN);
      try {
        const onKey = await s.readData(SEAL_APPLICATION);
        const certs = await s.readCertificates();
        assert.deepEqual(
          onKey.map((d) => d.label),
          [esId],
          'one seal: the old one went with the old certificate',
        );
        const seal = parseSeal(onKey[0]!.value);
        assert.equal(seal.certList.length, 1);
        assert.equal(serialOf(seal.certList[0]!), newSerial, "the seal's certList is the new certificate");
        assert.ok(
          certs.some((c) => c.der.equals(seal.certList[0]!) && isCurrent(c.label)),
          'which is current on the key',
        );
        const v = verifySeal(onKey[0]!.value, { makerIssuers: [Buffer.from(env.ca.rt.ca.issuingFor('sm2').cert.der)] });
        assert.ok(v.ok, v.ok ? '' : `${v.failedCheck}: ${v.reason}`);
      } finally {
        await s.close();
      }
      // the status lookup names the new certificate
      // (from the page: the portal's origin is the browser's)
      const st = (await page.evaluate(
        (id) => fetch(`/api/seals/${id}`).then((r) => r.json() as Promise<{ status: string; certificateSerials: string[] }>),
        esId,
      )) as { status: string; certificateSerials: string[] };
      assert.equal(st.status, 'valid');
      assert.deepEqual(st.certificateSerials.map(normSerial), [newSerial]);
    });
  });

  test('killed after "encryption-key-stored": the key still works; the next visit resumes with 继续更新', async () => {
    const label = 'SM2-INT';
    const key = env.keys.get(label)!;
    const oldSerial = serialOf(key.certificate);
    const oldEncSerial = serialOf(key.encryptionCertificate!);
    await env.restartAgent({ CERTDESK_AGENT_CRASH_AFTER: 'encryption-key-stored' });
    let orderId = '';
    await withScreenshots(b, 'sm2-interrupt', async () => {
      const { page } = b;
      await loginAs(label);
      await page.getByTestId('confirm-cert').click();
      orderId = await payOnline(page);
      await page.getByTestId('go-update').click();
      const popup = await popupFrom(page, () => page.getByTestId('start-update').click());
      await approveInAssistant(popup, PIN);
      await page.getByTestId('update-error').waitFor({ timeout: 60_000 });
      assert.equal((await env.agent.exited).signal, 'SIGKILL');
      await screenshot(page, 'e2e-sm2-interrupted');
    });

    // the new encryption key is on the token (pending), nothing switched: the old pair is current and works
    const mid = await keyState(label);
    assert.deepEqual(mid.signing, [oldSerial], JSON.stringify(mid.objects));
    assert.deepEqual(mid.encryption, [oldEncSerial], JSON.stringify(mid.objects));
    assert.ok(
      mid.objects.some((o) => o.class === 'private-key' && o.label === `pending:${orderId}:enc`),
      `the opened envelope's key is stored, pending: ${JSON.stringify(mid.objects)}`,
    );

    await env.restartAgent();
    await withScreenshots(b, 'sm2-resume', async () => {
      const { page } = b;
      await loginAs(label);
      await page.getByTestId('open-order').waitFor();
      assert.match((await page.getByTestId('open-order').textContent()) ?? '', new RegExp(orderId));
      await page.getByTestId('continue-order').click();
      await page.getByTestId('resume-at').waitFor();
      assert.equal(await page.getByText('去支付').count(), 0, 'never asks to pay again');
      await screenshot(page, 'e2e-sm2-resume');
      const popup = await popupFrom(page, () => page.getByTestId('start-update').click());
      await approveInAssistant(popup, PIN);
      await page.getByTestId('update-success').waitFor({ timeout: 90_000 });
      const newSerial = normSerial((await page.getByTestId('new-serial').textContent()) ?? '');
      await assertRenewed(label, orderId, newSerial);
    });
  });
});
