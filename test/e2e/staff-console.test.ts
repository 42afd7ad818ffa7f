// The staff console in Chromium against the real server (certdesk's Fastify app with the built
// web/dist): an operator logs in with password + TOTP (first login: enrolment QR code), confirms a
// bank transfer for a holder's order — and the holder, in the same test, completes the update
// (driven through the portal API, as the key assistant's page would) — imports a bank statement
// that matches two orders and reports one unmatched line, marks an invoice mailed, downloads the
// e-invoice; an auditor cannot confirm payments.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import { buildServer } from '../../src/api/server.js';
import { buildWeb, launchBrowser, PORTAL_HOST, screenshot, withScreenshots, type BrowserSession } from '../helpers/browser.js';
import { requireTool } from '../helpers/requirements.js';
import { createTestCa, type TestCa } from '../helpers/ca.js';
import { createHolder, freePort, PortalClient } from '../helpers/holder.js';
import { createStaff, type TestStaff } from '../helpers/staff.js';

type Order = { id: string; state: string; reference: string; amountFen: number };
const FORM = {
  termYears: 1,
  recipient: 'CA客服部',
  phone: '021-962600',
  address: '上海市虹口区四川北路1601室',
  postcode: '200080',
};

describe('staff console in the browser', { skip: requireTool('chromium') }, () => {
  let ca: TestCa;
  let app: FastifyInstance;
  let base: string;
  let origin: string;
  let b: BrowserSession;
  let dir: string;

  before(async () => {
    buildWeb();
    const port = await freePort();
    origin = `http://${PORTAL_HOST}:${port}`;
    ca = await createTestCa({ port, env: { PUBLIC_URL: origin } });
    ({ app } = await buildServer(ca.rt, { logger: false }));
    await app.listen({ port, host: '127.0.0.1' });
    base = `http://127.0.0.1:${port}`;
    dir = mkdtempSync(path.join(tmpdir(), 'certdesk-staff-e2e-'));
  });
  after(async () => {
    await b?.close();
    await app?.close();
    await ca?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const holderOrder = async (
    name: string,
  ): Promise<{ portal: PortalClient; order: Order; holder: Awaited<ReturnType<typeof createHolder>> }> => {
    const holder = await createHolder(ca, { name, uniqueId: `UID${Math.floor(Math.random() * 1e12)}` });
    const portal = new PortalClient(base, origin);
    assert.equal((await portal.login(holder)).status, 200);
    const r = await portal.call<{ order: Order }>('POST', '/api/portal/orders', { ...FORM, paymentMethod: 'bank' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return { portal, order: r.body.order, holder };
  };

  const login = async (page: Page, s: TestStaff, expect: 'enrol' | 'totp'): Promise<void> => {
    await page.goto(`${origin}/staff.html`);
    await page.locator('#login_username').fill(s.username);
    await page.locator('#login_password').fill(s.password);
    await page.locator('form#login button[type=submit]').click();
    if (expect === 'enrol') {
      await page.getByTestId('enrol-qr').waitFor();
      assert.equal(await page.getByTestId('enrol-secret').innerText(), s.secret);
    }
    await page.locator('#totp_code').fill(s.nextCode());
    await page.locator('form#totp button[type=submit]').click();
    await page.getByTestId('staff-user').waitFor();
  };

  test('an operator logs in with password + TOTP, confirms a bank transfer, and the holder completes the update', async () => {
    b = await launchBrowser();
    const page = b.page;
    await withScreenshots(b, 'staff-confirm', async () => {
      const operator = await createStaff(ca.rt, ['operator'], 'li.operator');
      const { portal, order, holder } = await holderOrder('浏览器转帐公司');

      // a wrong password first: refused without saying which part was wrong
      await page.goto(`${origin}/staff.html`);
      await page.locator('#login_username').fill(operator.username);
      await page.locator('#login_password').fill('not-the-password');
      await page.locator('form#login button[type=submit]').click();
      await page.getByTestId('login-error').getByText('用户名或密码错误').waitFor();

      await login(page, operator, 'enrol');
      await screenshot(page, 'staff-queue');
      const row = page.locator('tr', { hasText: order.reference });
      await row.waitFor();
      assert.match(await row.innerText(), /300\.00/);
      await page.getByTestId(`confirm-${order.reference}`).click();
      // a wrong amount is refused with the reason
      await page.locator('#confirm_reference').fill('ICBC-E2E-0001');
      await page.locator('#confirm_amount').fill('200.00');
      await page.locator('.ant-modal-footer .ant-btn-primary').click();
      await page.getByTestId('confirm-error').getByText('实收金额 200.00 元与订单金额 300.00 元不符').waitFor();
      await page.locator('#confirm_amount').fill('300.00');
      await page.locator('.ant-modal-footer .ant-btn-primary').click();
      await page.getByText(`订单 ${order.id} 已确认收款`).waitFor();
      await row.waitFor({ state: 'detached' });

      // the holder sees it paid at once and completes the update
      const seen = await portal.call<{ order: Order }>('GET', `/api/portal/orders/${order.id}`);
      assert.equal(seen.body.order.state, 'paid');
      const req = await holder.renewalRequest(order.id);
      const issued = await portal.call<{ order: Order }>('POST', `/api/portal/orders/${order.id}/issue`, {
        csr: req.csr.toString('base64'),
        proof: req.proof.toString('base64'),
      });
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      const done = await portal.call<{ order: Order }>('POST', `/api/portal/orders/${order.id}/installed`);
      assert.equal(done.body.order.state, 'completed');

      // the order's history in the console shows every step with who did it
      await page.goto(`${origin}/staff.html#/orders/${order.id}`);
      const drawer = page.locator('.ant-drawer');
      await drawer.getByText('completed', { exact: true }).waitFor();
      const text = await drawer.innerText();
      assert.match(text, /payment\.rejected/);
      assert.match(text, new RegExp(`paid · .* · staff:${operator.username}`));
      await screenshot(page, 'staff-order-history');

      // the paper invoice is marked mailed; the e-invoice downloads as a PDF
      await page.goto(`${origin}/staff.html#/invoices`);
      await page.getByTestId(`mail-${order.id}`).click();
      const tracking = page.locator('#mail_trackingNo');
      await tracking.fill('EA123456789CN');
      // the modal's form must hold the value before OK (under load the fill can land during its opening)
      assert.equal(await tracking.inputValue(), 'EA123456789CN');
      const mailed = page.waitForResponse(
        (r) => r.request().method() === 'POST' && r.url().endsWith(`/api/staff/orders/${order.id}/invoice/mailed`),
        { timeout: 30_000 },
      );
      await page.locator('.ant-modal-footer .ant-btn-primary').click();
      assert.equal((await mailed).status(), 200, 'the invoice is marked mailed');
      await page.locator('.ant-modal-wrap').waitFor({ state: 'hidden' });
      await page.getByTestId(`mail-${order.id}`).waitFor({ state: 'detached', timeout: 30_000 });
      const events = (await portal.call<{ order: { events: { type: string }[] } }>('GET', `/api/portal/orders/${order.id}`)).body
        .order.events;
      assert.ok(events.some((e) => e.type === 'invoice.mailed'));
      const pdf = await page.evaluate(async (id) => {
        const r = await fetch(`/api/staff/orders/${id}/invoice.pdf`);
        return {
          status: r.status,
          type: r.headers.get('content-type'),
          head: new TextDecoder().decode((await r.arrayBuffer()).slice(0, 5)),
        };
      }, order.id);
      assert.deepEqual(pdf, { status: 200, type: 'application/pdf', head: '%PDF-' });
    });
  });

  test('a statement import matches two orders and reports one unmatched line', async () => {
    const page = b.page;
    await withScreenshots(b, 'staff-import', async () => {
      const a = await holderOrder('对账单甲');
      const c = await holderOrder('对账单乙');
      const file = path.join(dir, 'statement.csv');
      writeFileSync(
        file,
        '\uFEFFdate,amount,reference,payer,transaction_id\n' +
          `2026-11-25,300.00,证书更新 ${a.order.reference},对账单甲,E2E-TX-1\n` +
          `2026-11-25,300.00,${c.order.reference} 汇款,对账单乙,E2E-TX-2\n` +
          '2026-11-25,88.00,房租,无关单位,E2E-TX-3\n',
      );
      await page.goto(`${origin}/staff.html#/payments`);
      await page.getByTestId('import-statement').waitFor();
      await page.locator('input[type=file]').setInputFiles(file);
      const result = page.getByTestId('import-result');
      await result.getByText('共 3 行：匹配 2，之前已记录 0，多付款 0，未匹配 1').waitFor();
      await result.getByRole('tab', { name: /未匹配/ }).click();
      await result.getByText('附言中没有参考号（CD…）').waitFor();
      await screenshot(page, 'staff-import');
      for (const o of [a, c])
        assert.equal((await o.portal.call<{ order: Order }>('GET', `/api/portal/orders/${o.order.id}`)).body.order.state, 'paid');
    });
  });

  test('an admin edits a seal type’s and an upgrade path’s price in yuan; a price that is not money is refused on its field', async () => {
    const adminBrowser = await launchBrowser();
    try {
      await withScreenshots(adminBrowser, 'staff-catalogue', async () => {
        const page = adminBrowser.page;
        await login(page, await createStaff(ca.rt, ['admin'], 'qian.admin'), 'enrol');
        await page.goto(`${origin}/staff.html#/catalogue`);
        const dialog = page.getByRole('dialog');
        const price = dialog.getByLabel('价格（元）');
        const catalogue = async () =>
          page.evaluate(
            async () =>
              (await (await fetch('/api/staff/catalogue')).json()) as {
                sealTypes: { code: string; priceFen: number; validityDays: number }[];
                upgradePaths: { fromType: string; toType: string; priceFen: number; termYears: number }[];
              },
          );

        // a seal type's row is edited with 编辑, not the certificate types' 编辑证书种类
        assert.match(await page.getByTestId('edit-seal-type-contract').innerText(), /^编\s*辑$/);
        await page.getByTestId('edit-seal-type-contract').click();
        assert.equal(await price.inputValue(), '200.00', 'the price in fen is shown in yuan');
        await price.fill('abc');
        await dialog.locator('.ant-btn-primary').click();
        await dialog.getByText('价格须为元数，最多两位小数（如 300.00）').waitFor();
        assert.equal((await catalogue()).sealTypes.find((x) => x.code === 'contract')!.priceFen, 20000, 'nothing saved');
        await price.fill('188.50');
        await dialog.locator('.ant-btn-primary').click();
        await page.getByTestId('seal-types').getByText('188.50').waitFor();
        const contract = (await catalogue()).sealTypes.find((x) => x.code === 'contract')!;
        assert.equal(contract.priceFen, 18850);
        assert.equal(contract.validityDays, 365, 'the fields not edited are kept');

        await page.getByTestId('edit-upgrade-org-identity-org-identity-sm2').click();
        assert.equal(await price.inputValue(), '200.00');
        await price.fill('99.9');
        await dialog.locator('.ant-btn-primary').click();
        await page.getByTestId('upgrade-paths').getByText('99.90').waitFor();
        const path = (await catalogue()).upgradePaths.find((x) => x.toType === 'org-identity-sm2')!;
        assert.equal(path.priceFen, 9990);
        assert.equal(path.termYears, 1);
        await screenshot(page, 'staff-catalogue');
      });
    } finally {
      await adminBrowser.close();
    }
  });

  test('an auditor cannot confirm payments: no menu, no button, and the server refuses', async () => {
    const auditorBrowser = await launchBrowser({ locale: 'en-US' });
    try {
      await withScreenshots(auditorBrowser, 'staff-auditor', async () => {
        const page = auditorBrowser.page;
        const auditor = await createStaff(ca.rt, ['auditor'], 'zhao.auditor');
        const { order } = await holderOrder('审计员看得到');
        await login(page, auditor, 'enrol');
        // launched in English, the console is in English: the auditor's menu, in the English labels
        const menu = await page.locator('.ant-menu').innerText();
        assert.match(menu, /Audit log/);
        assert.doesNotMatch(menu, /Offline payments/);
        assert.doesNotMatch(menu, /审计日志|线下收款/, 'no Chinese labels in the English menu');
        await page.goto(`${origin}/staff.html#/orders/${order.id}`);
        await page.locator('.ant-drawer').getByText(order.reference).waitFor();
        const drawer = await page.locator('.ant-drawer').innerText();
        assert.match(drawer, /Reference/, 'the order drawer is in English');
        assert.match(drawer, /Organisation identity certificate/, 'the 证书种类 in English');
        assert.doesNotMatch(drawer, /单位身份证书/);
        assert.equal(
          await page
            .locator('.ant-drawer')
            .getByRole('button', { name: /Confirm payment|确认到账/ })
            .count(),
          0,
        );
        const refused = await page.evaluate(async (id) => {
          const s = (await (await fetch('/api/staff/session')).json()) as { csrfToken: string };
          const r = await fetch(`/api/staff/orders/${id}/confirm-payment`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-csrf-token': s.csrfToken },
            body: JSON.stringify({ reference: 'X', amount: '300.00' }),
          });
          return { status: r.status, body: (await r.json()) as { error: string } };
        }, order.id);
        assert.equal(refused.status, 403);
        assert.equal(refused.body.error, 'forbidden');
        // the auditor's own page: the chain verifies
        await page.goto(`${origin}/staff.html#/audit`);
        await page.getByTestId('audit-verify').click();
        await page
          .getByTestId('audit-verdict')
          .getByText(/^Audit chain intact: \d+ entries$/)
          .waitFor();
        await screenshot(page, 'staff-audit');
      });
    } finally {
      await auditorBrowser.close();
    }
  });
});
