// Interrupting the update (证书更新) is safe: the assistant is killed right after a step is journaled
// (CERTDESK_AGENT_CRASH_AFTER) and the browser is closed; the key keeps a working certificate; the
// holder logs in again (with the old certificate, or — after the labels switched — the new one), the
// portal offers the unfinished order, the update resumes from the journal's step and ends with
// 更新成功. Paid once, one order, exactly one working pair on the key.
// Killed after "confirmed" the server already calls the order completed while the old pair is still
// on the key: the order page, 订单查询 and 更新证书 ask the assistant and offer 继续更新, never 更新成功.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseCertificate } from '../../src/pki/certificate.js';
import { workingPairsSoft } from '../helpers/agent.js';
import { approveInAssistant, popupFrom, screenshot, withScreenshots } from '../helpers/browser.js';
import { requireTool } from '../helpers/requirements.js';
import { fillOrderForm, loginWith, openBrowser, orderIdOf, PIN, startPortalEnv, type PortalEnv } from './portal-env.js';
import type { Page } from 'playwright-core';

interface ApiOrder {
  state: string;
  issuedSerial: string | null;
  events: { type: string }[];
}

const norm = (s: string): string => s.replace(/^0+/, '').toUpperCase();

/** Pays online and starts the update with the assistant set to die after `crashAfter`; returns the order id. */
async function payAndCrash(env: PortalEnv, label: string, crashAfter: string): Promise<string> {
  await env.restartAgent({ CERTDESK_AGENT_CRASH_AFTER: crashAfter });
  const b1 = await openBrowser();
  let orderId = '';
  try {
    await withScreenshots(b1, `interrupt-${crashAfter}-1`, async () => {
      const { page } = b1;
      await loginWith(page, env, label);
      await page.getByTestId('confirm-cert').click();
      await fillOrderForm(page, 'online');
      await page.getByTestId('pay').waitFor();
      orderId = orderIdOf(page);
      await page.getByTestId('pay').click();
      await page.locator('#confirm-pay').click();
      await page.locator('#return').click();
      await page.getByTestId('go-update').click();
      const popup = await popupFrom(page, () => page.getByTestId('start-update').click());
      await approveInAssistant(popup, PIN);
      await page.getByTestId('update-error').waitFor({ timeout: 60_000 });
      assert.equal((await env.agent.exited).signal, 'SIGKILL');
      await screenshot(page, `e2e-interrupted-${crashAfter}`);
    });
  } finally {
    await b1.close();
  }
  return orderId;
}

/** The order as the server has it (in the page's session). */
const serverOrder = (page: Page, id: string): Promise<ApiOrder> =>
  page
    .evaluate((i) => fetch(`/api/portal/orders/${i}`).then((r) => r.json() as Promise<{ order: ApiOrder }>), id)
    .then((r) => r.order);

describe('portal update interrupted and resumed', { skip: requireTool('chromium') }, () => {
  let env: PortalEnv;

  before(async () => {
    env = await startPortalEnv({
      keys: [
        { label: 'UKey-INT1', days: 30 },
        { label: 'UKey-INT2', days: 30 },
        { label: 'UKey-INT3', days: 30 },
      ],
    });
  });

  after(async () => {
    await env?.close();
  });

  for (const [label, crashAfter, loginSerial] of [
    ['UKey-INT1', 'certificate-written', 'old'],
    ['UKey-INT2', 'labels-switched', 'new'],
  ] as const) {
    test(`killed after "${crashAfter}", browser closed: the next visit (with the ${loginSerial} certificate) finishes`, async () => {
      const key = env.keys.get(label)!;
      const oldSerial = norm(parseCertificate(key.certificate).serialHex);

      // 1. pay online, start the update; the assistant dies after `crashAfter`
      const orderId = await payAndCrash(env, label, crashAfter);

      // the key still holds exactly one working certificate: the old one before the switch, the new one after
      const mid = await workingPairsSoft(key.file, PIN);
      const current = mid.pairs.filter((p) => !p.label.startsWith('pending:') && !p.label.startsWith('retired:'));
      assert.equal(current.length, 1, JSON.stringify(mid.objects));
      if (loginSerial === 'old') assert.equal(norm(current[0]!.serial), oldSerial);
      else assert.notEqual(norm(current[0]!.serial), oldSerial);

      // 2. the assistant is back, a new browser: log in, continue the order, resume, 更新成功
      await env.restartAgent();
      const b2 = await openBrowser();
      try {
        await withScreenshots(b2, `interrupt-${crashAfter}-2`, async () => {
          const { page } = b2;
          await loginWith(page, env, label);
          await page.getByTestId('open-order').waitFor();
          assert.match((await page.getByTestId('open-order').textContent()) ?? '', new RegExp(orderId));
          await page.getByTestId('continue-order').click();
          await page.getByTestId('resume-at').waitFor();
          await screenshot(page, `e2e-resume-${crashAfter}`);
          assert.equal(await page.getByText('去支付').count(), 0, 'never asks to pay again');
          const popup = await popupFrom(page, () => page.getByTestId('start-update').click());
          await approveInAssistant(popup, PIN);
          await page.getByTestId('update-success').waitFor({ timeout: 90_000 });
          const { order } = await page.evaluate(
            (id) => fetch(`/api/portal/orders/${id}`).then((r) => r.json() as Promise<{ order: ApiOrder }>),
            orderId,
          );
          assert.equal(order.state, 'completed');
          assert.equal(order.events.filter((e) => e.type === 'paid').length, 1, 'paid once');
          const all = await page.evaluate(() =>
            fetch('/api/portal/orders').then((r) => r.json() as Promise<{ orders: unknown[] }>),
          );
          const end = await workingPairsSoft(key.file, PIN);
          assert.deepEqual(
            end.pairs.map((p) => norm(p.serial)),
            [norm(order.issuedSerial!)],
            'exactly the new working pair',
          );
          assert.ok(all.orders.length >= 1);
        });
      } finally {
        await b2.close();
      }
    });
  }
  test('killed after "confirmed": the order is completed on the server, the portal still offers 继续更新', async () => {
    const label = 'UKey-INT3';
    const key = env.keys.get(label)!;
    const orderId = await payAndCrash(env, label, 'confirmed');
    // the old pair is still on the key, no longer current
    const mid = await workingPairsSoft(key.file, PIN);
    assert.equal(mid.pairs.length, 2, JSON.stringify(mid.objects));

    await env.restartAgent();
    const b2 = await openBrowser();
    try {
      await withScreenshots(b2, 'interrupt-confirmed-2', async () => {
        const { page } = b2;
        await loginWith(page, env, label); // with the new certificate: the labels were switched
        assert.equal((await serverOrder(page, orderId)).state, 'completed');

        // 更新证书 names the order to continue
        await page.getByTestId('open-order').waitFor();
        assert.match((await page.getByTestId('open-order').textContent()) ?? '', new RegExp(orderId));

        // the order page: 继续更新, not 更新成功
        await page.goto(`${env.origin}/#/orders/${orderId}`);
        await page.getByTestId('update-unfinished').waitFor();
        assert.equal(await page.getByTestId('go-update').textContent(), '继续更新');
        assert.equal(await page.getByText('更新成功').count(), 0, 'never 更新成功 while the key is unfinished');
        await screenshot(page, 'e2e-order-unfinished-confirmed');

        // 订单查询: the row offers 继续更新 too
        await page.getByRole('menuitem', { name: '订单查询' }).click();
        const resume = page.getByTestId(`resume-${orderId}`);
        await resume.waitFor();
        assert.equal(await resume.textContent(), '继续更新');

        // 继续更新 finishes the install
        await resume.click();
        await page.getByTestId('resume-at').waitFor();
        const popup = await popupFrom(page, () => page.getByTestId('start-update').click());
        await approveInAssistant(popup, PIN);
        await page.getByTestId('update-success').waitFor({ timeout: 90_000 });
        const order = await serverOrder(page, orderId);
        const end = await workingPairsSoft(key.file, PIN);
        assert.deepEqual(
          end.pairs.map((p) => norm(p.serial)),
          [norm(order.issuedSerial!)],
          'exactly the new working pair',
        );
        assert.equal(order.events.filter((e) => e.type === 'paid').length, 1, 'paid once');

        // and now the order page says 更新成功
        await page.goto(`${env.origin}/#/orders/${orderId}`);
        await page.getByText('更新成功').waitFor();
        assert.equal(await page.getByTestId('update-unfinished').count(), 0);
      });
    } finally {
      await b2.close();
    }
  });
});
