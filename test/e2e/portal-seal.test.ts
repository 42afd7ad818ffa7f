// 印章申请 in the browser: an SM2 holder previews a generated 单位公章, uploads the 公安备案 filing, pays
// at the sandbox gateway (支付成功); a reviewer approves it in the console's 印章审核, and the CA's seal
// maker makes it; 印章查询 shows the seal with its picture and esID, and 写入 UKey puts it on the key
// through the assistant (PIN in its window), beside the certificate it is bound to.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SEAL_APPLICATION } from '../../src/agent/tokens/driver.js';
import { SoftToken } from '../../src/agent/tokens/soft-token.js';
import { parseCertificate } from '../../src/pki/certificate.js';
import { parseSeal } from '../../src/pki/ses-seal.js';
import { getSealByOrder } from '../../src/sa/seals.js';
import { approveInAssistant, popupFrom, screenshot, withScreenshots, type BrowserSession } from '../helpers/browser.js';
import { requireTool } from '../helpers/requirements.js';
import { createStaff } from '../helpers/staff.js';
import { loginWith, openBrowser, orderIdOf, PIN, startPortalEnv, type PortalEnv } from './portal-env.js';

const PDF = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');

describe('portal seal application', { skip: requireTool('chromium') }, () => {
  let env: PortalEnv;
  let b: BrowserSession;

  before(async () => {
    env = await startPortalEnv({ keys: [{ label: 'UKey-SEAL', days: 200, dual: true }] });
    b = await openBrowser(env);
  });
  const madeFor = (orderId: string) => getSealByOrder(env.ca.rt.storage.db, orderId);
  after(async () => {
    await b?.close();
    await env?.close();
  });

  test('印章申请 → pay → 印章审核 approves → 印章查询 shows the seal', async () => {
    await withScreenshots(b, 'seal-apply', async () => {
      const { page } = b;
      await loginWith(page, env, 'UKey-SEAL');
      const org = await page.evaluate(() =>
        fetch('/api/portal/session')
          .then((r) => r.json() as Promise<{ certificate: { organization: string | null; commonName: string } }>)
          .then((s) => s.certificate.organization ?? s.certificate.commonName),
      );
      await page.getByRole('menuitem', { name: '印章申请' }).click();
      const card = page.getByTestId('seal-apply-card');
      await card.getByText('单位公章').first().waitFor();
      await card.getByLabel('印章名称').fill('别的单位');
      await page.getByTestId('seal-preview').click();
      await card.getByText(/must be the organisation/).waitFor();
      await card.getByLabel('印章名称').fill(org);
      await page.getByTestId('seal-preview').click();
      const img = page.getByTestId('seal-preview-image').locator('img').or(page.locator('img[data-testid="seal-preview-image"]'));
      await img.first().waitFor();
      await page.locator('input[type=file]').setInputFiles({ name: '公安备案.pdf', mimeType: 'application/pdf', buffer: PDF });
      await card.getByText('公安备案.pdf').waitFor();
      await card.getByLabel('收件人').fill('CA客服部');
      await card.getByLabel('联系电话').fill('021-962600');
      await card.getByLabel('发票邮寄地址').fill('上海市虹口区四川北路1601室');
      await card.getByLabel('邮编').fill('200080');
      await page.getByTestId('pay-online').click();
      await screenshot(page, 'e2e-seal-apply');
      await page.getByTestId('submit-seal').click();
      await page.getByTestId('pay').waitFor();
      const orderId = orderIdOf(page);
      await page.getByTestId('pay').click();
      await page.waitForURL(/\/sandbox-pay\//);
      await page.locator('#confirm-pay').click();
      await page.locator('#paid').waitFor();
      await page.locator('#return').click();
      await page.getByTestId('paid').getByText('支付成功').first().waitFor({ timeout: 30_000 });
      assert.equal(await madeFor(orderId), undefined, 'paid, not yet approved: nothing made');

      // the reviewer, in the staff console
      const reviewer = await createStaff(env.ca.rt, ['reviewer']);
      await page.goto(`${env.origin}/staff.html`);
      await page.locator('#login_username').fill(reviewer.username);
      await page.locator('#login_password').fill(reviewer.password);
      await page.locator('form#login button[type=submit]').click();
      await page.getByTestId('enrol-qr').waitFor();
      await page.locator('#totp_code').fill(reviewer.nextCode());
      await page.locator('form#totp button[type=submit]').click();
      await page.getByTestId('staff-user').waitFor();
      await page.goto(`${env.origin}/staff.html#/seal-reviews`);
      const row = page.getByTestId('seal-reviews').getByRole('row', { name: new RegExp(orderId) });
      await row.waitFor();
      assert.match((await row.textContent()) ?? '', /公安备案\.pdf/);
      await screenshot(page, 'e2e-seal-review');
      await page.getByTestId(`seal-approve-${orderId}`).click();
      await row.waitFor({ state: 'detached' });
      const seal = await madeFor(orderId);
      assert.ok(seal, 'approved and paid: made');
      const key = env.keys.get('UKey-SEAL')!;
      assert.deepEqual(parseSeal(Buffer.from(seal.der)).certList, [key.certificate], 'bound to the holder’s signing certificate');

      // back in the portal: 印章查询
      await page.goto(`${env.origin}/#/seals`);
      await page.getByTestId(`seal-esid-${orderId}`).getByText(seal.es_id).waitFor({ timeout: 30_000 });
      assert.match((await page.getByTestId(`seal-status-${orderId}`).textContent()) ?? '', /已制作/);
      await screenshot(page, 'e2e-seals');

      // 写入 UKey: the assistant's window shows the seal, takes the PIN, and writes it beside its certificate
      const popup = await popupFrom(page, () => page.getByTestId(`seal-write-${orderId}`).click());
      await popup.locator('#seal img').waitFor();
      assert.match((await popup.locator('#seal').textContent()) ?? '', new RegExp(seal.es_id));
      await approveInAssistant(popup, PIN);
      await page.getByTestId('seal-written').waitFor({ timeout: 30_000 });
      await page.getByTestId(`seal-status-${orderId}`).getByText('已写入').waitFor();
      const s = await new SoftToken(key.file).login(PIN);
      try {
        const onKey = await s.readData(SEAL_APPLICATION);
        assert.deepEqual(
          onKey.map((d) => d.label),
          [seal.es_id],
          'one data object labelled with the esID',
        );
        assert.ok(onKey[0]!.value.equals(Buffer.from(seal.der)));
        const cert = (await s.readCertificates()).find((c) => c.der.equals(key.certificate));
        assert.ok(cert, 'its certificate is on the same key');
        assert.ok(
          (await s.listKeys()).some((k) => k.spki.equals(parseCertificate(key.certificate).spki)),
          'with its private key',
        );
      } finally {
        await s.close();
      }

      // 证书查询 lists the seal made for the certificate too
      await page.goto(`${env.origin}/#/certificates`);
      await page.getByTestId('certificate-seals').getByText(seal.es_id).waitFor();
    });
  });
});
