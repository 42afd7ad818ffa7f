// The English portal names things in English: the product (PRODUCT_NAME_EN) and the 证书种类 of the
// certificate, of its orders and in 证书查询 — from the catalogue's English name (kept with each
// order) and the profile's. Chinese stays where the page is Chinese.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { approveInAssistant, popupFrom, screenshot, withScreenshots, type BrowserSession } from '../helpers/browser.js';
import { requireTool } from '../helpers/requirements.js';
import { fillOrderForm, openBrowser, PIN, startPortalEnv, type PortalEnv } from './portal-env.js';

const TYPE_ZH = '单位身份证书';
const TYPE_EN = 'Organisation identity certificate';
const PRODUCT_EN = 'UNITrust Certificate Self-Service';

describe('the portal in English', { skip: requireTool('chromium') }, () => {
  let env: PortalEnv;
  let b: BrowserSession;

  before(async () => {
    env = await startPortalEnv({ keys: [{ label: 'UKey-EN', days: 30 }] });
    b = await openBrowser(env);
  });

  after(async () => {
    await b?.close();
    await env?.close();
  });

  const mainText = async (): Promise<string> => (await b.page.locator('main').textContent()) ?? '';

  test('product name, 证书种类 of the certificate, its order, 订单查询 and 证书查询 in English', async () => {
    await withScreenshots(b, 'english', async () => {
      const { page } = b;
      await page.goto(`${env.origin}/`);
      await page.getByTestId('lang-switch').click();
      await page.getByRole('heading', { name: 'Log in' }).waitFor();
      assert.equal(await page.title(), PRODUCT_EN);
      assert.equal(await page.getByTestId('product-name').textContent(), PRODUCT_EN);

      await page.getByTestId('connect-agent').click();
      const row = page.getByTestId('cert-table').getByRole('row', { name: /UKey-EN/ });
      await row.waitFor();
      assert.ok(((await row.textContent()) ?? '').includes(TYPE_EN));
      await row.click();
      const popup = await popupFrom(page, () => page.getByTestId('login').click());
      await approveInAssistant(popup, PIN);
      await page.getByTestId('holder-name').waitFor({ timeout: 30_000 });

      // 更新证书: the certificate's type
      const card = page.getByTestId('confirm-card');
      await card.waitFor();
      const confirm = (await card.textContent()) ?? '';
      assert.ok(confirm.includes(TYPE_EN), confirm);
      assert.ok(!confirm.includes(TYPE_ZH), confirm);

      // an order (made in Chinese, whose labels the helper fills), then read in English
      await page.getByTestId('lang-switch').click();
      await page.getByTestId('confirm-cert').click();
      await fillOrderForm(page, 'bank');
      await page.getByTestId('reference').waitFor();
      assert.ok((await mainText()).includes(TYPE_ZH), 'Chinese where the page is Chinese');
      await page.getByTestId('lang-switch').click();
      await page.getByText('Order details').waitFor();
      let text = await mainText();
      assert.ok(text.includes(TYPE_EN) && !text.includes(TYPE_ZH), text);
      await screenshot(page, 'e2e-english-order');

      await page.getByRole('menuitem', { name: 'Orders' }).click();
      // the order's row, not the table's empty-state row shown while the list loads
      await page.getByTestId('orders').getByRole('row').filter({ hasText: TYPE_EN }).first().waitFor();
      text = (await page.getByTestId('orders').textContent()) ?? '';
      assert.ok(text.includes(TYPE_EN) && !text.includes(TYPE_ZH), text);

      await page.getByRole('menuitem', { name: 'Certificates' }).click();
      await page.getByTestId('current-certificate').waitFor();
      text = await mainText();
      assert.ok(text.includes(TYPE_EN) && !text.includes(TYPE_ZH), text);
      assert.deepEqual(b.errors, []);
    });
  });
});
