// 应用开通 in Chromium: staff have a relying application (电子税务局, ¥50 a year, a webhook URL on a
// small receiver that checks X-Certdesk-Signature); the holder opens 应用开通, enables it for a year,
// pays at the sandbox gateway (支付成功, 应用已开通); the application hears enablement.started and its
// own API (HTTP Basic with its credential) says the certificate is enabled, for this holder, until a
// year from now. Then, with the receiver down, the holder renews the certificate (更新证书 → 更新成功):
// the certificate.renewed webhook fails and is a dead letter in the console's 消息队列; staff send it
// again, the receiver (back) gets it once, and the API says the NEW certificate is enabled (the
// enablement belongs to the holder), the old one (superseded) not.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { RelyingAppView } from '../../src/api/staff/shapes.js';
import { parseCertificate } from '../../src/pki/certificate.js';
import type { AppCertificateView } from '../../src/shared/app-views.js';
import { screenshot, withScreenshots, type BrowserSession } from '../helpers/browser.js';
import { requireTool } from '../helpers/requirements.js';
import { createStaff, loggedInStaff } from '../helpers/staff.js';
import { freePort } from '../helpers/holder.js';
import { runNotify } from '../../src/notify/notifier.js';
import type { Page } from 'playwright-core';
import { loginWith, normSerial, openBrowser, payOnline, runUpdate, startPortalEnv, type PortalEnv } from './portal-env.js';

const YEAR = 365 * 86_400_000;

describe('应用开通 in the portal', { skip: requireTool('chromium') }, () => {
  let env: PortalEnv;
  let b: BrowserSession;
  let tax: { app: RelyingAppView; credentialSecret: string; webhookSecret: string };
  let hookPort: number;
  let receiver: Server | undefined;
  const hooks: { type: string; data: Record<string, unknown>; verified: boolean }[] = [];

  /** The relying application's webhook endpoint: verifies the signature as docs/WEBHOOKS.md says. */
  const startReceiver = async (): Promise<void> => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(req.headers['x-certdesk-signature'] ?? ''));
        const verified = !!m && createHmac('sha256', tax.webhookSecret).update(`${m[1]}.${body}`).digest('hex') === m[2];
        const event = JSON.parse(body) as { type: string; data: Record<string, unknown> };
        hooks.push({ ...event, verified });
        res.writeHead(verified ? 204 : 401).end();
      });
    });
    await new Promise<void>((r) => receiver!.listen(hookPort, '127.0.0.1', r));
  };
  const stopReceiver = () => new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));

  before(async () => {
    env = await startPortalEnv({ keys: [{ label: 'UKey-APPS', days: 30 }] });
    hookPort = await freePort();
    const admin = await loggedInStaff(env.ca.rt, env.base, env.origin, ['admin']);
    const r = await admin.call<typeof tax>('POST', '/api/staff/relying-apps', {
      name: '电子税务局',
      nameEn: 'e-Tax',
      description: '网上办税服务厅',
      acceptedTypes: ['org-identity'],
      feePerYearFen: 5000,
      webhookUrl: `http://127.0.0.1:${hookPort}/certdesk-events`,
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    tax = r.body;
    await startReceiver();
    b = await openBrowser(env);
  });
  after(async () => {
    await stopReceiver();
    await b?.close();
    await env?.close();
  });

  /** What the relying application's own API says about a serial. */
  const ask = async (serial: string) => {
    const r = await fetch(`${env.base}/api/apps/v1/certificates/${serial}`, {
      headers: { authorization: `Basic ${Buffer.from(`${tax.app.credentialId}:${tax.credentialSecret}`).toString('base64')}` },
    });
    return { status: r.status, body: (await r.json()) as AppCertificateView };
  };

  /** The console in a new tab, logged in as a new admin (TOTP enrolment included). */
  const staffConsole = async (): Promise<Page> => {
    await b.context.clearCookies({ path: '/api/staff' }); // a console session of an earlier test
    const staffPage = await b.context.newPage();
    const adminUser = await createStaff(env.ca.rt, ['admin']);
    await staffPage.goto(`${env.origin}/staff.html`);
    await staffPage.locator('#login_username').fill(adminUser.username);
    await staffPage.locator('#login_password').fill(adminUser.password);
    await staffPage.locator('form#login button[type=submit]').click();
    await staffPage.getByTestId('enrol-qr').waitFor();
    await staffPage.locator('#totp_code').fill(adminUser.nextCode());
    await staffPage.locator('form#totp button[type=submit]').click();
    await staffPage.getByTestId('staff-user').waitFor();
    return staffPage;
  };

  test('开通 → 支付成功 → the application says enabled; after 更新证书 the new certificate is enabled too', async () => {
    await withScreenshots(b, 'apps', async () => {
      const { page } = b;
      const key = env.keys.get('UKey-APPS')!;
      const oldSerial = normSerial(parseCertificate(key.certificate).serialHex);
      assert.equal((await ask(oldSerial)).status, 404, 'not this application’s holder yet');

      await loginWith(page, env, 'UKey-APPS');
      await page.getByRole('menuitem', { name: '应用开通' }).click();
      await page.getByTestId(`app-disabled-${tax.app.id}`).waitFor();
      assert.match((await page.getByTestId('apps-table').textContent()) ?? '', /电子税务局.*50\.00 元\/年/s);
      await page.getByTestId(`app-enable-${tax.app.id}`).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByLabel('收件人').fill('CA客服部');
      await dialog.getByLabel('联系电话').fill('021-962600');
      await dialog.getByLabel('发票邮寄地址').fill('上海市虹口区四川北路1601室');
      await dialog.getByLabel('邮编').fill('200080');
      await dialog.getByTestId('pay-online').click();
      await screenshot(page, 'e2e-apps-enable');
      await page.getByTestId('app-enable-submit').click();
      await page.getByTestId('pay').waitFor();
      assert.equal(await page.getByTestId('order-kind').textContent(), '应用开通');
      await page.getByTestId('pay').click();
      await page.waitForURL(/\/sandbox-pay\//);
      await page.locator('#confirm-pay').click();
      await page.locator('#paid').waitFor();
      await page.locator('#return').click();
      await page.getByText('应用已开通').waitFor({ timeout: 30_000 });
      await page.getByTestId('go-apps').click();
      await page.getByTestId(`app-enabled-${tax.app.id}`).waitFor();
      await screenshot(page, 'e2e-apps-enabled');

      const before = await ask(oldSerial);
      assert.equal(before.status, 200, JSON.stringify(before.body));
      assert.equal(before.body.enabled, true);
      assert.equal(before.body.holder.name, '企业测试');
      assert.ok(Math.abs(new Date(before.body.enablement!.endsAt).getTime() - (Date.now() + YEAR)) < 5 * 60_000);
      await runNotify(env.ca.rt);
      const started = hooks.filter((h) => h.type === 'enablement.started');
      assert.equal(started.length, 1, JSON.stringify(hooks));
      assert.ok(started[0]!.verified, 'the signature verifies with the webhook secret');
      assert.equal((started[0]!.data.holder as { name: string }).name, '企业测试');

      // 更新证书 while the application is down: its webhook becomes a dead letter
      await stopReceiver();
      env.ca.rt.config.notifyMaxAttempts = 1;
      await page.getByRole('menuitem', { name: '更新证书' }).click();
      await page.getByTestId('confirm-cert').click();
      const orderId = await payOnline(page);
      const newSerial = await runUpdate(page, orderId);
      const down = await runNotify(env.ca.rt);
      assert.equal(down.dead, 1, JSON.stringify(down));

      // 消息队列: staff see the dead webhook with its error and send it again once the app is back
      const staffPage = await staffConsole();
      await staffPage.getByRole('menuitem', { name: '消息队列' }).click();
      const row = staffPage.getByTestId('outbox-table').getByRole('row', { name: new RegExp(`order:${orderId}`) });
      await row.waitFor();
      assert.match((await row.textContent()) ?? '', /应用回调.*发送失败.*webhook to app .* failed/s);
      await screenshot(staffPage, 'e2e-outbox-dead');
      await startReceiver();
      await row.getByRole('button', { name: '重新发送' }).click();
      await staffPage.getByText('已重新排队').waitFor();
      await runNotify(env.ca.rt);
      await runNotify(env.ca.rt);
      await staffPage.close();
      const renewedHooks = hooks.filter((h) => h.type === 'certificate.renewed');
      assert.equal(renewedHooks.length, 1, 'delivered once after the retry');
      assert.ok(renewedHooks[0]!.verified);
      assert.equal(normSerial(String(renewedHooks[0]!.data.serial)), newSerial);
      assert.equal(normSerial(String(renewedHooks[0]!.data.previousSerial)), oldSerial);
      assert.equal(renewedHooks[0]!.data.orderId, orderId);
      const renewed = await ask(newSerial);
      assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
      assert.equal(renewed.body.enabled, true, 'the renewed certificate is enabled');
      const old = await ask(oldSerial);
      assert.equal(old.body.status, 'revoked');
      assert.equal(old.body.enabled, false);
    });
  });

  test('应用管理 in the console lists the application; rotating its credential shows the new secret once, and the old one stops working', async () => {
    await withScreenshots(b, 'relying-apps', async () => {
      const staffPage = await staffConsole();
      await staffPage.getByRole('menuitem', { name: '应用管理' }).click();
      const row = staffPage.getByTestId('relying-apps').getByRole('row', { name: /电子税务局/ });
      await row.waitFor();
      assert.match((await row.textContent()) ?? '', new RegExp(tax.app.credentialId));
      assert.ok(!(await staffPage.content()).includes(tax.credentialSecret), 'the secret is never shown again');
      await row.getByRole('button', { name: '更换 API 凭据' }).click();
      const secret = (await staffPage.getByTestId('secret-credentialSecret').locator('code').textContent()) ?? '';
      assert.ok(secret.length >= 40);
      await screenshot(staffPage, 'e2e-relying-apps');
      const old = tax.credentialSecret;
      tax = { ...tax, credentialSecret: secret };
      const key = env.keys.get('UKey-APPS')!;
      const anySerial = normSerial(parseCertificate(key.certificate).serialHex);
      assert.equal((await ask(anySerial)).status, 200, 'the new secret works');
      tax = { ...tax, credentialSecret: old };
      assert.equal((await ask(anySerial)).status, 401, 'the old one does not');
      await staffPage.close();
    });
  });
});
