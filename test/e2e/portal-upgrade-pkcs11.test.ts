// 升级证书 with a PKCS#11 key (SoftHSM2): the upgrade to 单位身份证书（SM2 双证书） is shown but cannot be
// chosen — the key cannot hold SM2 keys (PKCS#11 has no standard SM2 mechanism) — with the reason and
// where to go, and nothing is ordered or charged.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { screenshot, withScreenshots, type BrowserSession } from '../helpers/browser.js';
import { requireTool } from '../helpers/requirements.js';
import { loginWith, openBrowser, startPortalEnv, type PortalEnv } from './portal-env.js';

describe('升级证书 on a PKCS#11 key', { skip: requireTool('chromium') || requireTool('softhsm2') }, () => {
  let env: PortalEnv;
  let b: BrowserSession;

  before(async () => {
    env = await startPortalEnv({ tokenKind: 'pkcs11', sm2Hierarchy: true, keys: [{ label: 'UP-P11', days: 200 }] });
    b = await openBrowser(env);
  });
  after(async () => {
    await b?.close();
    await env?.close();
  });

  test('the SM2 upgrade is not offered to a key that cannot hold SM2 keys; nothing is ordered', async () => {
    await withScreenshots(b, 'upgrade-pkcs11', async () => {
      const { page } = b;
      await loginWith(page, env, 'UP-P11');
      await page.getByRole('menuitem', { name: '升级证书' }).click();
      const card = page.getByTestId('upgrade-card');
      await card.getByTestId('upgrade-unsupported-org-identity-sm2').waitFor();
      assert.match((await card.getByTestId('upgrade-unsupported-org-identity-sm2').textContent()) ?? '', /不支持 SM2/);
      assert.equal(
        await card.locator('.ant-radio-wrapper-disabled', { hasText: '单位身份证书（SM2 双证书）' }).count(),
        1,
        'the option cannot be chosen',
      );
      assert.ok(await page.getByTestId('submit-upgrade').isDisabled(), '确认 is disabled');
      await screenshot(page, 'e2e-upgrade-pkcs11');
      const orders = (await page.evaluate(() =>
        fetch('/api/portal/orders').then((r) => r.json() as Promise<{ orders: unknown[] }>),
      )) as { orders: unknown[] };
      assert.deepEqual(orders.orders, [], 'nothing was ordered');
    });
  });
});
