// 更新证书 end to end with online payment: the seed's screens (请确认您证书的信息 → 请填写您的订单信息),
// the sandbox gateway's page (选择银行 → 确认支付 → 返回商户), 支付成功, the update with one PIN through
// to 更新成功; the key then holds exactly the new working certificate, the server has the order
// completed and the old certificate superseded; 订单查询 and 证书查询 show it all.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseCertificate } from '../../src/pki/certificate.js';
import { workingPairsSoft } from '../helpers/agent.js';
import { screenshot, withScreenshots, type BrowserSession } from '../helpers/browser.js';
import { requireTool } from '../helpers/requirements.js';
import { loginWith, normSerial, openBrowser, payOnline, PIN, runUpdate, startPortalEnv, type PortalEnv } from './portal-env.js';

describe('portal renewal with online payment', { skip: requireTool('chromium') }, () => {
  let env: PortalEnv;
  let b: BrowserSession;
  let orderId = '';

  before(async () => {
    env = await startPortalEnv({ keys: [{ label: 'UKey-RENEW', days: 30 }] });
    b = await openBrowser();
  });

  after(async () => {
    await b?.close();
    await env?.close();
  });

  test('confirm the certificate, fill the order, pay at the sandbox gateway, 支付成功', async () => {
    await withScreenshots(b, 'renewal-pay', async () => {
      const { page } = b;
      await loginWith(page, env, 'UKey-RENEW');
      const card = page.getByTestId('confirm-card');
      await card.getByText('请确认您证书的信息').waitFor();
      const text = (await card.textContent()) ?? '';
      for (const s of ['名称', '证书种类', '唯一识别号', '更新有效期', '证书服务收费金额', '付费状态', '未支付', '一年'])
        assert.ok(text.includes(s), s);
      assert.match((await page.getByTestId('price').textContent()) ?? '', /^\d+\.\d{2} 元$/);
      await screenshot(page, 'e2e-renew-confirm');
      await page.getByTestId('confirm-cert').click();
      orderId = await payOnline(page, { shots: 'e2e' });
    });
  });

  test('the update: one PIN, the steps, 更新成功; the key holds the new certificate', async () => {
    await withScreenshots(b, 'renewal-update', async () => {
      const { page } = b;
      const newSerial = await runUpdate(page, orderId, { shots: 'e2e' });
      const key = env.keys.get('UKey-RENEW')!;
      const { pairs } = await workingPairsSoft(key.file, PIN);
      assert.equal(pairs.length, 1, 'exactly one working pair on the key');
      assert.equal(normSerial(pairs[0]!.serial), newSerial);
      assert.notEqual(pairs[0]!.serial, parseCertificate(key.certificate).serialHex.toUpperCase());
      // The server's view: completed, paid once.
      const order = await page.evaluate(
        (id) =>
          fetch(`/api/portal/orders/${id}`).then(
            (r) => r.json() as Promise<{ order: { state: string; events: { type: string }[] } }>,
          ),
        orderId,
      );
      assert.equal(order.order.state, 'completed');
      assert.equal(order.order.events.filter((e) => e.type === 'paid').length, 1);
    });
  });

  test('订单查询 and 证书查询 after the renewal', async () => {
    await withScreenshots(b, 'renewal-queries', async () => {
      const { page } = b;
      await page.getByRole('menuitem', { name: '订单查询' }).click();
      const orders = page.getByTestId('orders');
      await orders.getByRole('link', { name: orderId }).waitFor();
      assert.match((await orders.textContent()) ?? '', /已完成/);
      await page.getByRole('menuitem', { name: '证书查询' }).click();
      await page.getByTestId('current-certificate').waitFor();
      await screenshot(page, 'e2e-certificates');
      const main = (await page.locator('main').textContent()) ?? '';
      assert.match(main, /下载 PEM/);
      const href = await page
        .getByTestId('current-certificate')
        .getByRole('link', { name: /下载 PEM/ })
        .getAttribute('href');
      const pem = await page.evaluate((u) => fetch(u!).then((r) => r.text()), href);
      assert.match(pem, /-----BEGIN CERTIFICATE-----/);
    });
  });
});
