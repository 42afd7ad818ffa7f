// Smoke test of the holder portal's build: `npm run build:web`, web/dist served by a tiny static
// server as http://portal.test:PORT with a stub of GET /api/portal/config and /session, loaded in
// Chromium. The zh-CN login page renders, the English switch works and sticks, and a click on
// 连接协卡助手 with no assistant running explains what to do.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  buildWeb,
  launchBrowser,
  screenshot,
  sendJson,
  serveStatic,
  WEB_DIST,
  withScreenshots,
  type BrowserSession,
  type StaticServer,
} from '../helpers/browser.js';
import { freePort } from '../helpers/processes.js';
import { requireTool } from '../helpers/requirements.js';

describe('holder portal: build and first page', { skip: requireTool('chromium') }, () => {
  let web: StaticServer;
  let b: BrowserSession;
  let deadAgentPort: number;
  const apiCalls: string[] = [];

  before(async () => {
    buildWeb();
    deadAgentPort = await freePort(); // nothing listens there: "the assistant is not running"
    web = await serveStatic(WEB_DIST, (req, res) => {
      const url = req.url ?? '';
      if (!url.startsWith('/api/')) return false;
      apiCalls.push(`${req.method} ${url}`);
      if (url === '/api/portal/config')
        return sendJson(res, 200, {
          agentUrl: `http://127.0.0.1:${deadAgentPort}`,
          productName: 'UNITrust 证书自助服务系统',
          productNameEn: 'UNITrust Certificate Self-Service',
        });
      if (url === '/api/portal/session') return sendJson(res, 401, { error: 'no_session', message: 'not logged in' });
      return sendJson(res, 404, { error: 'not_found', message: url });
    });
    b = await launchBrowser();
  });

  after(async () => {
    await b?.close();
    await web?.close();
  });

  test('the zh-CN login page renders with the seed labels', async () => {
    await withScreenshots(b, 'smoke-zh', async () => {
      const { page } = b;
      await page.goto(`${web.origin}/`);
      await page.getByRole('heading', { name: '登录系统' }).waitFor();
      assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
      assert.equal((await page.getByTestId('product-name').textContent())?.trim(), 'UNITrust 证书自助服务系统');
      assert.match((await page.getByTestId('today').textContent()) ?? '', /^\d{4}年\d{2}月\d{2}日 星期[一二三四五六日]$/);
      assert.ok(await page.getByRole('button', { name: /连接协卡助手/ }).isVisible());
      assert.ok(await page.getByText('浏览器可能会询问权限').isVisible(), 'the permission prompt is explained before it appears');
      assert.equal(await page.title(), 'UNITrust 证书自助服务系统');
      // No call to the assistant before a click (Local Network Access): only config and session.
      assert.deepEqual(apiCalls.sort(), ['GET /api/portal/config', 'GET /api/portal/session']);
      await screenshot(page, 'login-zh');
    });
  });

  test('the English switch translates the page and is remembered', async () => {
    await withScreenshots(b, 'smoke-en', async () => {
      const { page } = b;
      await page.getByTestId('lang-switch').click();
      await page.getByRole('heading', { name: 'Log in' }).waitFor();
      assert.equal(await page.getAttribute('html', 'lang'), 'en');
      assert.equal((await page.getByTestId('product-name').textContent())?.trim(), 'UNITrust Certificate Self-Service');
      assert.match((await page.getByTestId('today').textContent()) ?? '', /^[A-Z][a-z]+day, \d{1,2} [A-Z][a-z]+ \d{4}$/);
      assert.ok(await page.getByRole('button', { name: /Connect to the key assistant/ }).isVisible());
      await screenshot(page, 'login-en');
      await page.reload();
      await page.getByRole('heading', { name: 'Log in' }).waitFor();
      await page.getByTestId('lang-switch').click();
      await page.getByRole('heading', { name: '登录系统' }).waitFor();
    });
  });

  test('without a running assistant, a click on 连接协卡助手 explains what to do', async () => {
    await withScreenshots(b, 'smoke-unreachable', async () => {
      const { page } = b;
      await page.getByTestId('connect-agent').click();
      const alert = page.getByTestId('agent-unreachable');
      await alert.waitFor();
      const text = (await alert.textContent()) ?? '';
      assert.match(text, /无法连接协卡助手/);
      assert.match(text, /访问此设备上的其他应用和服务/);
      assert.match(text, new RegExp(`127\\.0\\.0\\.1:${deadAgentPort}`));
      assert.ok(await page.getByRole('button', { name: /重新连接/ }).isVisible());
      await screenshot(page, 'login-unreachable');
      assert.deepEqual(b.errors, [], 'no uncaught errors in the page');
    });
  });
});
