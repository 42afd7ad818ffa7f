// 升级证书 in Chromium: a holder of an ECDSA 单位身份证书 on a soft token opens 升级证书, sees the
// upgrade to 单位身份证书（SM2 双证书） with its algorithm, new end date and price, confirms, pays at the
// sandbox gateway (支付成功), and 证书更新 installs an SM2 signing certificate made on the key and the
// encryption certificate whose key the KMC delivered; the old ECDSA certificate is revoked
// (superseded). An assistant killed mid-install leaves the old certificate working, and 继续更新
// finishes the upgrade.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { keyTypeOfSpki } from '../../src/pki/algorithms.js';
import { parseCertificate } from '../../src/pki/certificate.js';
import { getCertificate, getEncryptionPartner } from '../../src/sa/certificates.js';
import { workingPairsSoft } from '../helpers/agent.js';
import { approveInAssistant, popupFrom, screenshot, withScreenshots, type BrowserSession } from '../helpers/browser.js';
import { requireTool } from '../helpers/requirements.js';
import { loginWith, normSerial, openBrowser, orderIdOf, PIN, startPortalEnv, type PortalEnv } from './portal-env.js';

const isCurrent = (label: string): boolean => !label.startsWith('pending:') && !label.startsWith('retired:');

describe('升级证书 in the portal: ECDSA → SM2 dual pair', { skip: requireTool('chromium') }, () => {
  let env: PortalEnv;
  let b: BrowserSession;

  before(async () => {
    env = await startPortalEnv({
      keys: [
        { label: 'UP-EC', days: 200 },
        { label: 'UP-KILL', days: 200 },
        // an SM2 holder too: the CA then has its SM2 hierarchy beside the ECDSA one
        { label: 'UP-SM2', days: 30, dual: true },
      ],
    });
    b = await openBrowser(env);
  });
  after(async () => {
    await b?.close();
    await env?.close();
  });

  /** 升级证书 → the SM2 option → 确认 → online payment → 支付成功; returns the order id. */
  const orderUpgrade = async (page: Page, label: string, shots?: string): Promise<string> => {
    await b.context.clearCookies();
    await loginWith(page, env, label);
    await page.getByRole('menuitem', { name: '升级证书' }).click();
    const card = page.getByTestId('upgrade-card');
    await card.getByTestId('upgrade-option-org-identity-sm2').waitFor();
    assert.match((await card.textContent()) ?? '', /单位身份证书（SM2 双证书）/);
    const changes = card.getByTestId('upgrade-changes');
    assert.match((await changes.textContent()) ?? '', /SM2 国密双证书/);
    assert.match((await card.getByTestId('amount').textContent()) ?? '', /200/);
    await card.getByLabel('收件人').fill('CA客服部');
    await card.getByLabel('联系电话').fill('021-962600');
    await card.getByLabel('发票邮寄地址').fill('上海市虹口区四川北路1601室');
    await card.getByLabel('邮编').fill('200080');
    await page.getByTestId('pay-online').click();
    if (shots) await screenshot(page, `${shots}-form`);
    await page.getByTestId('submit-upgrade').click();
    await page.getByTestId('pay').waitFor();
    const orderId = orderIdOf(page);
    assert.equal(await page.getByTestId('order-kind').textContent(), '升级证书');
    await page.getByTestId('pay').click();
    await page.waitForURL(/\/sandbox-pay\//);
    await page.locator('#confirm-pay').click();
    await page.locator('#paid').waitFor();
    await page.locator('#return').click();
    await page.getByText('支付成功').first().waitFor({ timeout: 30_000 });
    return orderId;
  };

  /** After 更新成功: the key holds an SM2 signing pair and its encryption pair; the server superseded the ECDSA certificate. */
  const assertUpgraded = async (label: string, orderId: string, newSerial: string): Promise<void> => {
    const key = env.keys.get(label)!;
    const { pairs, encryption, objects } = await workingPairsSoft(key.file, PIN);
    const signing = pairs.filter((p) => isCurrent(p.label));
    assert.deepEqual(
      signing.map((p) => normSerial(p.serial)),
      [newSerial],
      JSON.stringify(objects),
    );
    assert.equal(encryption.filter((p) => isCurrent(p.label)).length, 1, 'an encryption pair, its key delivered by the KMC');
    assert.equal(pairs.length, 1, 'the old ECDSA pair is gone');

    const db = env.ca.rt.storage.db;
    const order = await env.ca.rt.renewals.order(orderId);
    assert.equal(order.state, 'completed');
    const rec = (await getCertificate(db, order.issued_serial!))!;
    assert.equal(rec.profile, 'org-identity-sm2');
    assert.equal(keyTypeOfSpki(parseCertificate(Buffer.from(rec.der)).spki).keyType, 'sm2');
    assert.ok(await getEncryptionPartner(db, rec.serial), 'with its encryption partner');
    const old = (await getCertificate(db, parseCertificate(key.certificate).serialHex))!;
    assert.equal(old.status, 'revoked');
    assert.equal(old.revocation_reason, 4, 'superseded');
  };

  test('升级证书 → 确认 → 支付成功 → 证书更新 installs the SM2 dual pair; the ECDSA certificate is superseded', async () => {
    await withScreenshots(b, 'upgrade', async () => {
      const { page } = b;
      const orderId = await orderUpgrade(page, 'UP-EC', 'e2e-upgrade');
      await page.getByTestId('go-update').click();
      await page.getByTestId('update-steps').waitFor();
      const popup = await popupFrom(page, () => page.getByTestId('start-update').click());
      await popup.locator('#order', { hasText: orderId }).waitFor();
      await approveInAssistant(popup, PIN);
      await page.getByTestId('update-success').waitFor({ timeout: 90_000 });
      assert.equal(await page.getByTestId('new-certificate').locator('.ant-card-head-title').textContent(), '签名证书');
      await page.getByTestId('new-encryption-certificate').waitFor();
      await screenshot(page, 'e2e-upgrade-success');
      const newSerial = normSerial((await page.getByTestId('new-serial').textContent()) ?? '');
      await assertUpgraded('UP-EC', orderId, newSerial);
    });
  });

  test('killed after "certificate-written": the ECDSA certificate still works; 继续更新 finishes the upgrade', async () => {
    const label = 'UP-KILL';
    const key = env.keys.get(label)!;
    await env.restartAgent({ CERTDESK_AGENT_CRASH_AFTER: 'certificate-written' });
    let orderId = '';
    await withScreenshots(b, 'upgrade-interrupt', async () => {
      const { page } = b;
      orderId = await orderUpgrade(page, label);
      await page.getByTestId('go-update').click();
      const popup = await popupFrom(page, () => page.getByTestId('start-update').click());
      await approveInAssistant(popup, PIN);
      await page.getByTestId('update-error').waitFor({ timeout: 60_000 });
      assert.equal((await env.agent.exited).signal, 'SIGKILL');
    });
    const mid = await workingPairsSoft(key.file, PIN);
    assert.deepEqual(
      mid.pairs.filter((p) => isCurrent(p.label)).map((p) => normSerial(p.serial)),
      [normSerial(parseCertificate(key.certificate).serialHex)],
      'the old ECDSA certificate is still the current one and signs',
    );

    await env.restartAgent();
    await withScreenshots(b, 'upgrade-resume', async () => {
      const { page } = b;
      // the next visit: the page reads the assistant's journal and offers to continue
      await page.goto(`${env.origin}/#/orders/${orderId}/update`);
      await page.reload();
      await page.getByTestId('resume-at').waitFor();
      assert.equal(await page.getByText('去支付').count(), 0, 'never asks to pay again');
      const popup = await popupFrom(page, () => page.getByTestId('start-update').click());
      await approveInAssistant(popup, PIN);
      await page.getByTestId('update-success').waitFor({ timeout: 90_000 });
      const newSerial = normSerial((await page.getByTestId('new-serial').textContent()) ?? '');
      await assertUpgraded(label, orderId, newSerial);
    });
  });
});
