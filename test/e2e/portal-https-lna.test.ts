// The portal as deployed: HTTPS through nginx (docs/deploy/nginx-certdesk.conf) on an address
// Chromium treats as public (--ip-address-space-overrides), so Local Network Access guards every
// call from the page to the key assistant on 127.0.0.1.
//  - No permission: the page says what the browser asked and how to allow it (Chromium's own words,
//    zh-CN and en), offers 重新连接, and 重新连接 lists the key once the site is allowed.
//  - "Apps on device" blocked in the site settings (loopback-network denied): the same help.
//  - Permission granted but the assistant not running: the page says so, and nothing about the browser.
//  - Permission granted: login and the whole online renewal complete as over plain http.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseCertificate } from '../../src/pki/certificate.js';
import { workingPairsSoft } from '../helpers/agent.js';
import { PORTAL_HOST, screenshot, withScreenshots, type BrowserSession } from '../helpers/browser.js';
import { requireTool } from '../helpers/requirements.js';
import { loginWith, normSerial, openBrowser, payOnline, PIN, runUpdate, startPortalEnv, type PortalEnv } from './portal-env.js';

const LABEL = 'UKey-LNA';
const skip = requireTool('chromium') || requireTool('nginx');

describe('portal over HTTPS on a public address (Local Network Access)', { skip }, () => {
  let env: PortalEnv;

  before(async () => {
    env = await startPortalEnv({ keys: [{ label: LABEL, days: 30 }], https: true });
  });

  after(async () => {
    await env?.close();
  });

  const withBrowser = async (name: string, fn: (b: BrowserSession) => Promise<void>): Promise<void> => {
    const b = await openBrowser(env);
    try {
      await withScreenshots(b, name, () => fn(b));
    } finally {
      await b.close();
    }
  };

  test('the portal is served over TLS by nginx with its security headers', async () => {
    await withBrowser('https-headers', async ({ page }) => {
      const res = await page.goto(`${env.origin}/`);
      assert.ok(res, 'no response');
      assert.equal(new URL(page.url()).protocol, 'https:');
      assert.equal(await page.evaluate(() => (globalThis as unknown as { isSecureContext: boolean }).isSecureContext), true);
      const csp = (await res.allHeaders())['content-security-policy'] ?? '';
      assert.match(csp, new RegExp(`connect-src 'self' http://127\\.0\\.0\\.1:${env.agentPort} `));
    });
  });

  test('without the permission: the prompt explained, how to allow it, 重新连接 lists the key once allowed', async () => {
    await withBrowser('lna-denied', async (b) => {
      const { page } = b;
      const site = `${PORTAL_HOST}:${env.tls!.port}`;
      await page.goto(`${env.origin}/`);
      const note = (await page.locator('.ant-alert', { hasText: '浏览器可能会询问权限' }).textContent()) ?? '';
      assert.ok(note.includes(`${site} 想要：访问此设备上的其他应用和服务`), note);
      await page.getByTestId('connect-agent').click();
      // Headless Chromium answers its own prompt with "Block": the state the holder is in after 屏蔽.
      const help = page.getByTestId('agent-unreachable');
      await help.waitFor();
      assert.equal(await help.getAttribute('data-permission'), 'denied');
      const text = (await help.textContent()) ?? '';
      for (const s of [
        '浏览器未允许本网站连接协卡助手',
        '访问此设备上的其他应用和服务',
        '查看网站信息',
        '设备上的应用',
        '允许',
        '重新连接',
      ])
        assert.ok(text.includes(s), `${s} in ${text}`);
      const reconnect = page.getByTestId('connect-agent');
      assert.equal(await reconnect.textContent(), '重新连接');
      assert.equal(await reconnect.isEnabled(), true);
      assert.equal(await page.getByTestId('cert-table').count(), 0, 'no empty certificate list');
      assert.ok(
        b.logs.some((l) => l.includes('Permission was denied for this request to access the `loopback` address space')),
        'Chromium itself refused the request (Local Network Access)',
      );
      await screenshot(page, 'e2e-lna-denied');

      // the same help in English
      await page.getByTestId('lang-switch').click();
      const en = (await help.textContent()) ?? '';
      for (const s of [
        'Access other apps and services on this device',
        'View site information',
        'Apps on device',
        'Connect again',
      ])
        assert.ok(en.includes(s), `${s} in ${en}`);
      assert.equal(await reconnect.textContent(), 'Connect again');
      await page.getByTestId('lang-switch').click();

      // the holder allows the site (what "Allow" in the prompt or the site settings does) and reconnects
      await b.context.grantPermissions(['local-network-access'], { origin: env.origin });
      await reconnect.click();
      await page
        .getByTestId('cert-table')
        .getByRole('row', { name: new RegExp(LABEL) })
        .waitFor();
      assert.equal(await help.count(), 0);
    });
  });

  test('"Apps on device" blocked in the site settings: the page says so', async () => {
    await withBrowser('lna-blocked-setting', async (b) => {
      const { page } = b;
      const cdp = await b.context.newCDPSession(page);
      await cdp.send('Browser.setPermission', {
        permission: { name: 'loopback-network' },
        setting: 'denied',
        origin: env.origin,
      });
      await page.goto(`${env.origin}/`);
      await page.getByTestId('connect-agent').click();
      await page.getByTestId('agent-denied').waitFor();
      assert.equal(await page.getByTestId('agent-unreachable').getAttribute('data-permission'), 'denied');
      assert.equal(await page.getByTestId('connect-agent').textContent(), '重新连接');
    });
  });

  test('with the permission and no assistant running: the page says to start it, not to allow it', async () => {
    await withBrowser('lna-granted-no-agent', async (b) => {
      const { page } = b;
      await b.context.grantPermissions(['local-network-access'], { origin: env.origin });
      env.agent.proc.kill('SIGKILL');
      await env.agent.exited;
      try {
        await page.goto(`${env.origin}/`);
        await page.getByTestId('connect-agent').click();
        const help = page.getByTestId('agent-unreachable');
        await help.waitFor();
        assert.equal(await help.getAttribute('data-permission'), 'granted');
        const text = (await help.textContent()) ?? '';
        assert.ok(text.includes('无法连接协卡助手') && text.includes(`127.0.0.1:${env.agentPort}`), text);
        assert.ok(!text.includes('设备上的应用'), 'the browser allowed it: nothing to change there');
      } finally {
        await env.restartAgent();
      }
    });
  });

  test('with the permission: login and the whole online renewal complete', async () => {
    await withBrowser('lna-granted-renewal', async (b) => {
      const { page } = b;
      await b.context.grantPermissions(['local-network-access'], { origin: env.origin });
      await page.goto(`${env.origin}/`);
      await page.getByTestId('connect-agent').click();
      await page
        .getByTestId('cert-table')
        .getByRole('row', { name: new RegExp(LABEL) })
        .waitFor();
      // antd would render two-character labels as "确 认"; the seed's labels are exact
      assert.equal(await page.getByTestId('login').textContent(), '登录系统');
      await loginWith(page, env, LABEL);
      const cookie = (await b.context.cookies(env.origin)).find((c) => c.httpOnly);
      assert.equal(cookie?.secure, true, 'the session cookie is Secure over https');

      await page.getByTestId('confirm-card').getByText('请确认您证书的信息').waitFor();
      assert.equal(await page.getByTestId('confirm-cert').textContent(), '确认');
      await page.getByTestId('confirm-cert').click();
      assert.equal(await page.getByTestId('submit-order').textContent(), '确认');
      const orderId = await payOnline(page, { shots: 'e2e-https' });
      const newSerial = await runUpdate(page, orderId, { shots: 'e2e-https' });

      const key = env.keys.get(LABEL)!;
      const { pairs } = await workingPairsSoft(key.file, PIN);
      assert.deepEqual(
        pairs.map((p) => normSerial(p.serial)),
        [newSerial],
        'the key holds exactly the new working pair',
      );
      assert.notEqual(newSerial, normSerial(parseCertificate(key.certificate).serialHex));
      const { order } = await page.evaluate(
        (id) =>
          fetch(`/api/portal/orders/${id}`).then(
            (r) => r.json() as Promise<{ order: { state: string; events: { type: string }[] } }>,
          ),
        orderId,
      );
      assert.equal(order.state, 'completed');
      assert.equal(order.events.filter((e) => e.type === 'paid').length, 1, 'paid once');
      assert.deepEqual(b.errors, []);
    });
  });
});
