// 登录系统 end to end: Chromium on http://portal.test:PORT (the real server with web/dist), the key
// assistant with soft tokens, the PIN typed into the assistant's own window. Refusals — revoked,
// another CA's certificate, the holder pressing 拒绝 — are explained on the page; 退出 and pulling the
// key out end the session.
import assert from 'node:assert/strict';
import { renameSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { softTokenWithCertificate } from '../helpers/agent.js';
import { popupFrom, screenshot, withScreenshots, type BrowserSession } from '../helpers/browser.js';
import { requireTool } from '../helpers/requirements.js';
import { createTestCa, type TestCa } from '../helpers/ca.js';
import { loginWith, openBrowser, PIN, startPortalEnv, type PortalEnv } from './portal-env.js';

describe('portal login with the key assistant', { skip: requireTool('chromium') }, () => {
  let env: PortalEnv;
  let otherCa: TestCa;
  let b: BrowserSession;

  before(async () => {
    env = await startPortalEnv({
      keys: [
        { label: 'UKey-OK', days: 200 },
        { label: 'UKey-REVOKED', days: 200 },
      ],
    });
    await env.ca.rt.ca.revoke(
      (await import('../../src/pki/certificate.js')).parseCertificate(env.keys.get('UKey-REVOKED')!.certificate).serialHex,
      'keyCompromise',
      'test',
    );
    otherCa = await createTestCa();
    const file = path.join(env.dir, 'UKey-OTHER.token');
    const r = await softTokenWithCertificate(otherCa, file, { pin: PIN, tokenLabel: 'UKey-OTHER', days: 200 });
    env.keys.set('UKey-OTHER', { kind: 'soft', label: 'UKey-OTHER', file, tokenId: r.tokenId, certificate: r.certificate });
    await env.restartAgent();
    b = await openBrowser();
  });

  after(async () => {
    await b?.close();
    await env?.close();
    await otherCa?.cleanup();
  });

  test('the holder connects, sees the certificates of every key and logs in with the PIN', async () => {
    await withScreenshots(b, 'login-ok', async () => {
      const { page } = b;
      await page.goto(`${env.origin}/`);
      await page.getByTestId('connect-agent').click();
      const table = page.getByTestId('cert-table');
      for (const k of ['UKey-OK', 'UKey-REVOKED', 'UKey-OTHER']) await table.getByRole('row', { name: new RegExp(k) }).waitFor();
      await screenshot(page, 'e2e-login-list');
      await loginWith(page, env, 'UKey-OK');
      assert.equal(await page.getByTestId('holder-name').textContent(), '企业测试');
      await page.reload();
      await page.getByTestId('holder-name').waitFor();
      await page.getByTestId('logout').click();
      await page.getByText('您已退出系统').waitFor();
      const status = await page.evaluate(() => fetch('/api/portal/session').then((r) => r.status));
      assert.equal(status, 401);
    });
  });

  test('a revoked certificate is refused with the reason', async () => {
    await withScreenshots(b, 'login-revoked', async () => {
      await loginWith(b.page, env, 'UKey-REVOKED', { expectError: true });
      assert.match((await b.page.getByTestId('login-error').textContent()) ?? '', /已被撤销/);
      await screenshot(b.page, 'e2e-login-revoked');
    });
  });

  test("another CA's certificate is refused with the reason", async () => {
    await withScreenshots(b, 'login-other-ca', async () => {
      await loginWith(b.page, env, 'UKey-OTHER', { expectError: true });
      assert.match((await b.page.getByTestId('login-error').textContent()) ?? '', /不是本认证机构签发的/);
    });
  });

  test('拒绝 in the assistant window is reported, and the holder can try again', async () => {
    await withScreenshots(b, 'login-denied', async () => {
      const { page } = b;
      const row = page.getByTestId('cert-table').getByRole('row', { name: /UKey-OK/ });
      await row.click();
      const popup = await popupFrom(page, () => page.getByTestId('login').click());
      await popup.locator('#deny').click();
      await page.getByTestId('login-error').getByText('您在协卡助手窗口中拒绝了此请求').waitFor();
      await loginWith(page, env, 'UKey-OK');
    });
  });

  test('pulling the key out ends the session', async () => {
    await withScreenshots(b, 'login-key-removed', async () => {
      const { page } = b;
      const file = env.keys.get('UKey-OK')!.file;
      renameSync(file, `${file}.away`);
      try {
        await page.getByText('检测到 UKey 已拔出，已为您退出系统').waitFor({ timeout: 15_000 });
        const status = await page.evaluate(() => fetch('/api/portal/session').then((r) => r.status));
        assert.equal(status, 401);
      } finally {
        renameSync(`${file}.away`, file);
      }
      assert.deepEqual(b.errors, []);
    });
  });
});
