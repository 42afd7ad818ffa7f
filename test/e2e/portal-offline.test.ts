// 银行转帐 / 邮政汇款 end to end: the order page shows the remittance instructions with the reference
// code and 等待到账, refreshing by itself; staff confirm the payment with the CLI
// (`certdesk orders confirm-payment`); the page turns to 支付成功 without a reload and the update
// runs to 更新成功.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { workingPairsSoft } from '../helpers/agent.js';
import {
  approveInAssistant,
  chromiumAvailable,
  popupFrom,
  screenshot,
  withScreenshots,
  type BrowserSession,
} from '../helpers/browser.js';
import { cliAsync } from '../helpers/cli.js';
import { fillOrderForm, loginWith, openBrowser, orderIdOf, PIN, startPortalEnv, type PortalEnv } from './portal-env.js';

describe(
  'portal renewal with an offline payment confirmed by staff',
  { skip: !chromiumAvailable() && 'no /usr/bin/chromium' },
  () => {
    let env: PortalEnv;
    let b: BrowserSession;

    before(async () => {
      env = await startPortalEnv({ keys: [{ label: 'UKey-BANK', days: 30 }] });
      b = await openBrowser();
    });

    after(async () => {
      await b?.close();
      await env?.close();
    });

    test('银行转帐: reference code and 等待到账; the CLI confirms; 支付成功; 更新成功', async () => {
      await withScreenshots(b, 'offline', async () => {
        const { page } = b;
        await loginWith(page, env, 'UKey-BANK');
        await page.getByTestId('confirm-cert').click();
        await fillOrderForm(page, 'bank');
        const ref = page.getByTestId('reference');
        await ref.waitFor();
        const orderId = orderIdOf(page);
        const reference = ((await ref.textContent()) ?? '').trim();
        assert.match(reference, /^[A-Z0-9-]{4,}$/);
        assert.ok(await page.getByTestId('awaiting').isVisible());
        const remit = (await page.getByTestId('remittance').textContent()) ?? '';
        assert.match(remit, /等待到账/);
        assert.match(remit, /汇款识别码/);
        await screenshot(page, 'e2e-offline-awaiting');

        const r = await cliAsync(['orders', 'confirm-payment', reference, '--reference', 'ICBC-E2E-0001'], env.ca.env);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`order ${orderId} is paid`));
        await page.getByText('支付成功').waitFor({ timeout: 20_000 });
        await screenshot(page, 'e2e-offline-paid');

        await page.getByTestId('go-update').click();
        const popup = await popupFrom(page, () => page.getByTestId('start-update').click());
        await approveInAssistant(popup, PIN);
        await page.getByTestId('update-success').waitFor({ timeout: 90_000 });
        const { pairs } = await workingPairsSoft(env.keys.get('UKey-BANK')!.file, PIN);
        assert.equal(pairs.length, 1);
        assert.equal(
          pairs[0]!.serial.replace(/^0+/, ''),
          ((await page.getByTestId('new-serial').textContent()) ?? '').trim().replace(/^0+/, '').toUpperCase(),
        );
      });
    });
  },
);
