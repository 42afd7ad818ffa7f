// 撤销证书 end to end in Chromium, walked by its zh-CN labels, on a soft token and on SoftHSM2: the
// holder logs in, chooses 密钥泄露, signs the revocation statement with the PIN in the assistant's
// window, and the certificate is revoked at once (OCSP via openssl says revoked with the reason);
// then the assistant deletes the revoked certificate from the key. And 挂失/撤销申请 without the
// key, approved in the staff console's 挂失审核.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { parseCertificate } from '../../src/pki/certificate.js';
import { toPem } from '../../src/pki/pem.js';
import { getCertificate } from '../../src/sa/certificates.js';
import { AgentClient } from '../helpers/agent.js';
import { approveInAssistant, launchBrowser, popupFrom, withScreenshots, type BrowserSession } from '../helpers/browser.js';
import { opensslAsync } from '../helpers/ca.js';
import { createHolder } from '../helpers/holder.js';
import { requireTool } from '../helpers/requirements.js';
import { createStaff, type TestStaff } from '../helpers/staff.js';
import { loginWith, openBrowser, PIN, startPortalEnv, type PortalEnv, type TokenKind } from './portal-env.js';

async function ocspSays(env: PortalEnv, der: Buffer): Promise<string> {
  const files = env.ca.files();
  const file = path.join(env.dir, `ocsp-${Date.now()}.pem`);
  writeFileSync(file, toPem('CERTIFICATE', der));
  return (await opensslAsync(['ocsp', '-issuer', files.chain, '-cert', file, '-url', `${env.base}/ocsp`, '-CAfile', files.root]))
    .out;
}

for (const kind of ['soft', 'pkcs11'] as TokenKind[]) {
  const skip = kind === 'pkcs11' ? requireTool('chromium', 'softhsm2') : requireTool('chromium');
  describe(`撤销证书 by the holder (${kind})`, { skip }, () => {
    let env: PortalEnv;
    let b: BrowserSession;
    const LABEL = `UKey-REVOKE-${kind}`;

    before(async () => {
      env = await startPortalEnv({ tokenKind: kind, keys: [{ label: LABEL, days: 200 }] });
      b = await openBrowser();
    });
    after(async () => {
      await b?.close();
      await env?.close();
    });

    test('the holder revokes with the PIN; OCSP says revoked (keyCompromise); the key is cleared', async () => {
      await withScreenshots(b, `revoke-${kind}`, async () => {
        const { page } = b;
        const key = env.keys.get(LABEL)!;
        const serial = parseCertificate(key.certificate).serialHex;
        await loginWith(page, env, LABEL);
        await page.getByRole('menuitem', { name: '撤销证书' }).click();
        await page.getByText('不退还未使用期限的费用').waitFor();
        await page.getByLabel('密钥泄露').check();
        const popup = await popupFrom(page, () => page.getByRole('button', { name: '确认撤销' }).click());
        await approveInAssistant(popup, PIN);
        await page.getByText('证书已撤销').waitFor({ timeout: 30_000 });
        assert.equal((await getCertificate(env.ca.rt.storage.db, serial))!.status, 'revoked');
        const answer = await ocspSays(env, key.certificate);
        assert.match(answer, /: revoked/);
        assert.match(answer, /Reason: keyCompromise/);

        const del = await popupFrom(page, () => page.getByRole('button', { name: '从 UKey 中删除已撤销的证书' }).click());
        await approveInAssistant(del, PIN);
        await page.getByText('已从 UKey 中删除已撤销的证书').waitFor({ timeout: 30_000 });
        const r = await new AgentClient(env.agent.url, env.origin).call(
          'GET',
          `/v1/tokens/${encodeURIComponent(key.tokenId)}/certificates`,
        );
        const left = (r.body as { certificates: { serial: string }[] }).certificates;
        assert.ok(
          !left.some((c) => c.serial.replace(/^0+/, '').toLowerCase() === serial),
          'the revoked certificate is gone from the key',
        );
        assert.deepEqual(b.errors, []);
      });
    });
  });
}

describe('挂失/撤销申请 approved in 挂失审核', { skip: requireTool('chromium') }, () => {
  let env: PortalEnv;
  let b: BrowserSession;
  let staffBrowser: BrowserSession;
  let reviewer: TestStaff;

  before(async () => {
    env = await startPortalEnv({ keys: [{ label: 'UKey-LOST', days: 200 }] });
    b = await openBrowser();
    staffBrowser = await launchBrowser();
    reviewer = await createStaff(env.ca.rt, ['reviewer']);
  });
  after(async () => {
    await b?.close();
    await staffBrowser?.close();
    await env?.close();
  });

  const staffLogin = async (page: Page, s: TestStaff): Promise<void> => {
    await page.goto(`${env.origin}/staff.html`);
    await page.locator('#login_username').fill(s.username);
    await page.locator('#login_password').fill(s.password);
    await page.locator('form#login button[type=submit]').click();
    await page.getByTestId('enrol-qr').waitFor();
    await page.locator('#totp_code').fill(s.nextCode());
    await page.locator('form#totp button[type=submit]').click();
    await page.getByTestId('staff-user').waitFor();
  };

  test('the holder without the key files the request; the reviewer picks the lost key’s certificate and approves; it is revoked', async () => {
    const key = env.keys.get('UKey-LOST')!;
    const serial = parseCertificate(key.certificate).serialHex;
    const rec = (await getCertificate(env.ca.rt.storage.db, serial))!;
    const holder = (await env.ca.rt.storage.db
      .selectFrom('holders')
      .selectAll()
      .where('id', '=', rec.holder_id!)
      .executeTakeFirst())!;
    // the holder has a second, newer key still in hand: the request matches that one by default
    const kept = await createHolder(env.ca, { name: holder.name, uniqueId: holder.unique_id });
    await withScreenshots(b, 'loss-report', async () => {
      const { page } = b;
      await page.goto(`${env.origin}/#/lost`);
      await page.getByLabel('唯一识别号').fill(holder.unique_id);
      await page.getByLabel('名称').fill(holder.name);
      await page.getByLabel('联系方式（电话或电子邮箱）').fill('13800138000');
      await page.getByLabel('密钥泄露').check();
      // the holder names a serial — the wrong key's, as it turns out on the call back
      const serialField = page.getByLabel('证书序列号（选填）');
      await serialField.fill('not a serial');
      await page.getByRole('button', { name: '提交申请' }).click();
      await page.getByText('序列号为十六进制数字（0-9、A-F）').waitFor();
      await serialField.fill(kept.serial.toUpperCase());
      await page.getByRole('button', { name: '提交申请' }).click();
      await page.getByText('申请已提交').waitFor();
    });
    await withScreenshots(staffBrowser, 'loss-review', async () => {
      const page = staffBrowser.page;
      await staffLogin(page, reviewer);
      await page.getByRole('menuitem', { name: '挂失审核' }).click();
      const row = page.getByRole('row', { name: new RegExp(holder.unique_id) });
      // what the requester typed is shown beside the certificate it identifies
      assert.match(
        await row.getByTestId('loss-given-serial').innerText(),
        new RegExp(`申请人所填序列号 ${kept.serial}\\s*即此证书`),
      );
      await row.getByRole('button', { name: '批准并撤销' }).click();
      await page.getByLabel('撤销哪张证书（该持有人有多张有效证书）').click();
      await page.locator('.ant-select-item-option', { hasText: serial }).click();
      await page.getByPlaceholder('核实情况').fill('已电话回访确认：丢失的是旧 UKey');
      await page.locator('.ant-modal .ant-btn-primary').click();
      await page.getByText('已保存').waitFor();
    });
    assert.equal((await getCertificate(env.ca.rt.storage.db, serial))!.status, 'revoked');
    assert.match(await ocspSays(env, key.certificate), /Reason: keyCompromise/);
    assert.equal((await getCertificate(env.ca.rt.storage.db, kept.serial))!.status, 'valid', 'the key still in hand stays valid');
  });
});
