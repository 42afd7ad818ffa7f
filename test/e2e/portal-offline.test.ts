// 银行转帐 / 邮政汇款 end to end: the order page shows the remittance instructions with the reference
// code and 等待到账, refreshing by itself; staff confirm the payment with the CLI
// (`certdesk orders confirm-payment`); the page turns to 支付成功 without a reload and the update
// runs to 更新成功. Once paid, the order shows its invoice and the e-invoice PDF downloads.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { workingPairsSoft } from '../helpers/agent.js';
import { withScreenshots, type BrowserSession } from '../helpers/browser.js';
import { requireTool } from '../helpers/requirements.js';
import {
  loginWith,
  normSerial,
  openBrowser,
  payByBankTransfer,
  PIN,
  runUpdate,
  startPortalEnv,
  type PortalEnv,
} from './portal-env.js';

describe('portal renewal with an offline payment confirmed by staff', { skip: requireTool('chromium') }, () => {
  let env: PortalEnv;
  let b: BrowserSession | undefined;

  before(async () => {
    env = await startPortalEnv({
      keys: [
        { label: 'UKey-BANK', days: 30 },
        { label: 'UKey-POST', days: 30 },
      ],
    });
  });

  after(async () => {
    await b?.close();
    await env?.close();
  });

  /** Logs in with `label` in a fresh browser, pays by `method`, has staff confirm it, and updates. */
  const offlineRenewal = async (label: string, method: 'bank' | 'postal', bankReference: string): Promise<void> => {
    await b?.close();
    const session = (b = await openBrowser());
    await withScreenshots(session, `offline-${method}`, async () => {
      const { page } = session;
      await loginWith(page, env, label);
      await page.getByTestId('confirm-cert').click();
      const { orderId } = await payByBankTransfer(page, env, { method, bankReference, shots: `e2e-offline-${method}` });
      // paid: the order shows its invoice, the e-invoice downloads with the holder's session
      const invoice = page.getByTestId('order-invoice');
      await invoice.waitFor();
      const invoiceText = await invoice.innerText();
      assert.match(invoiceText, /INV-/);
      assert.match(invoiceText, /下载电子发票/);
      assert.match(invoiceText, /纸质发票待寄出/);
      const href = await invoice.locator('a').getAttribute('href');
      const pdf = await page.evaluate(async (url) => {
        const r = await fetch(url);
        return {
          status: r.status,
          type: r.headers.get('content-type'),
          head: new TextDecoder().decode((await r.arrayBuffer()).slice(0, 5)),
        };
      }, href!);
      assert.deepEqual(pdf, { status: 200, type: 'application/pdf', head: '%PDF-' });
      const newSerial = await runUpdate(page, orderId);
      const { pairs } = await workingPairsSoft(env.keys.get(label)!.file, PIN);
      assert.equal(pairs.length, 1);
      assert.equal(normSerial(pairs[0]!.serial), newSerial);
      const order = await env.ca.rt.renewals.order(orderId);
      assert.equal(order.payment_method, method, 'the order was paid the way the page chose');
    });
  };

  test('银行转帐: reference code, bank account and 等待到账; the CLI confirms; 支付成功; 更新成功', async () => {
    await offlineRenewal('UKey-BANK', 'bank', 'ICBC-E2E-0001');
  });

  test('邮政汇款: reference code, post office address and 等待到账; the CLI confirms; 支付成功; 更新成功', async () => {
    await offlineRenewal('UKey-POST', 'postal', 'POST-E2E-0001');
  });
});
