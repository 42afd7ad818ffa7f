// 变更证书 in the browser: the holder asks to change the organisation name and locality with the
// 营业执照 scan (a file that is not a PDF/JPG/PNG by content is refused first); the request page waits
// for the review; a reviewer approves it in the console's 变更审核 (old and new side by side); the
// holder installs the new certificate through the assistant (证书更新, one PIN); the key then holds
// exactly the new certificate, with the new name, the same 唯一识别号 and end; the old one is revoked
// affiliationChanged. On a soft token and on SoftHSM2 (PKCS#11); on SoftHSM2 the assistant is killed
// mid-install first: the old certificate keeps working, and 继续更新 finishes the change.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { REVOCATION_REASONS } from '../../src/shared/revocation-reasons.js';
import { parseCertificate } from '../../src/pki/certificate.js';
import { attributeValue } from '../../src/pki/name.js';
import { getCertificate } from '../../src/sa/certificates.js';

import { approveInAssistant, popupFrom, screenshot, withScreenshots, type BrowserSession } from '../helpers/browser.js';
import { requireTool } from '../helpers/requirements.js';
import { createStaff } from '../helpers/staff.js';
import { loginWith, normSerial, openBrowser, PIN, startPortalEnv, workingPairsOf, type PortalEnv } from './portal-env.js';

const PDF = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');
const NEW_ORG = '企业测试（变更后）有限公司';

for (const kind of ['soft', 'pkcs11'] as const) {
  describe(
    `portal change of certificate details (${kind})`,
    { skip: requireTool('chromium') || (kind === 'pkcs11' && requireTool('softhsm2')) },
    () => {
      let env: PortalEnv;
      let b: BrowserSession;

      before(async () => {
        env = await startPortalEnv({ tokenKind: kind, keys: [{ label: 'UKey-CHANGE', days: 200 }] });
        b = await openBrowser(env);
      });
      after(async () => {
        await b?.close();
        await env?.close();
      });

      test('变更证书 → 变更审核 approves → 证书更新 installs the new certificate', async () => {
        const shot = (name: string) => (kind === 'soft' ? name : `${name}-p11`);
        await withScreenshots(b, shot('change'), async () => {
          const { page } = b;
          const key = env.keys.get('UKey-CHANGE')!;
          const old = parseCertificate(key.certificate);
          await loginWith(page, env, 'UKey-CHANGE');
          await page.getByRole('menuitem', { name: '变更证书' }).click();
          const card = page.getByTestId('change-card');
          await card.getByText(`当前：${attributeValue(old.subject, 'O')}`).waitFor();
          assert.equal(
            (await page.getByTestId('change-unique-id').textContent())?.trim(),
            attributeValue(old.subject, 'serialNumber'),
          );
          await page.getByTestId('change-organization').fill(NEW_ORG);
          await page.getByTestId('change-locality').fill('上海市');
          await page.getByTestId('change-reason').fill('工商登记名称变更');
          await card.getByLabel('收件人').fill('CA客服部');
          await card.getByLabel('联系电话').fill('021-962600');
          // a "PDF" that is an executable by its bytes: refused by content, the page says why
          await page.locator('input[type=file]').setInputFiles({
            name: '营业执照.pdf',
            mimeType: 'application/pdf',
            buffer: Buffer.concat([Buffer.from('MZ'), Buffer.alloc(64)]),
          });
          await page.getByTestId('submit-change').click();
          await card.getByText(/checked by its content/).waitFor();
          await card
            .getByRole('button', { name: /delete|删除/i })
            .first()
            .click();
          await page
            .locator('input[type=file]')
            .setInputFiles({ name: '营业执照.pdf', mimeType: 'application/pdf', buffer: PDF });
          await screenshot(page, shot('e2e-change-form'));
          await page.getByTestId('submit-change').click();
          await page.getByTestId('change-detail').waitFor();
          const orderId = /#\/changes\/([^/?#]+)/.exec(page.url())![1]!;
          await page.getByTestId('change-review-state').getByText('待审核').waitFor();
          await page.getByText('变更申请已提交，等待 CA 审核').waitFor();

          // the reviewer, in the staff console: old and new side by side, the document, approve
          const reviewer = await createStaff(env.ca.rt, ['reviewer']);
          const staffPage = await page.context().newPage();
          await staffPage.goto(`${env.origin}/staff.html`);
          await staffPage.locator('#login_username').fill(reviewer.username);
          await staffPage.locator('#login_password').fill(reviewer.password);
          await staffPage.locator('form#login button[type=submit]').click();
          await staffPage.getByTestId('enrol-qr').waitFor();
          await staffPage.locator('#totp_code').fill(reviewer.nextCode());
          await staffPage.locator('form#totp button[type=submit]').click();
          await staffPage.getByTestId('staff-user').waitFor();
          await staffPage.getByRole('menuitem', { name: '变更审核' }).click();
          const values = staffPage.getByTestId(`change-values-${orderId}`);
          await values.waitFor();
          const text = (await values.textContent()) ?? '';
          assert.match(text, new RegExp(`单位名称${attributeValue(old.subject, 'O')}${NEW_ORG}`));
          assert.match(text, /所在地—上海市/);
          assert.equal(await staffPage.getByTestId(`change-doc-${orderId}-0`).textContent(), '营业执照.pdf');
          await screenshot(staffPage, shot('e2e-change-review'));
          await staffPage.getByTestId(`change-approve-${orderId}`).click();
          await values.waitFor({ state: 'detached' });
          await staffPage.close();

          // back in the portal: the page turns to 安装新证书 by itself (¥0: nothing to pay)
          await page.getByTestId('change-go-update').waitFor({ timeout: 20_000 });
          await screenshot(page, shot('e2e-change-approved'));
          if (kind === 'pkcs11') {
            // killed mid-install: the key still has the old certificate working; the next visit resumes
            await env.restartAgent({ CERTDESK_AGENT_CRASH_AFTER: 'verified' });
            await page.getByTestId('change-go-update').click();
            const first = await popupFrom(page, () => page.getByTestId('start-update').click());
            await approveInAssistant(first, PIN);
            await page.getByTestId('update-error').waitFor({ timeout: 60_000 });
            assert.equal((await env.agent.exited).signal, 'SIGKILL');
            const mid = await workingPairsOf(env, 'UKey-CHANGE');
            assert.deepEqual(
              mid.pairs
                .filter((p) => !p.label.startsWith('pending:') && !p.label.startsWith('retired:'))
                .map((p) => normSerial(p.serial)),
              [normSerial(old.serialHex)],
              'the old certificate is still the current one and signs',
            );
            await env.restartAgent();
            await page.reload();
            await page.getByTestId('resume-at').waitFor();
          } else {
            await page.getByTestId('change-go-update').click();
            await page.getByTestId('update-steps').waitFor();
          }
          const popup = await popupFrom(page, () => page.getByTestId('start-update').click());
          await popup.locator('#order', { hasText: orderId }).waitFor();
          await approveInAssistant(popup, PIN);
          await page.getByTestId('update-success').waitFor({ timeout: 90_000 });
          await screenshot(page, shot('e2e-change-installed'));
          const newSerial = normSerial((await page.getByTestId('new-serial').textContent()) ?? '');

          // the key holds exactly the new certificate: the new name, the same 唯一识别号 and end
          const { pairs } = await workingPairsOf(env, 'UKey-CHANGE');
          assert.equal(pairs.length, 1, 'exactly one working pair on the key');
          assert.equal(normSerial(pairs[0]!.serial), newSerial);
          const cert = parseCertificate(pairs[0]!.certificate);
          assert.equal(attributeValue(cert.subject, 'O'), NEW_ORG);
          assert.equal(attributeValue(cert.subject, 'L'), '上海市');
          assert.equal(attributeValue(cert.subject, 'serialNumber'), attributeValue(old.subject, 'serialNumber'));
          assert.equal(cert.notAfter.getTime(), old.notAfter.getTime());
          const oldRec = await getCertificate(env.ca.rt.storage.db, old.serialHex.replace(/^0+/, '').toLowerCase());
          assert.equal(oldRec?.status, 'revoked');
          assert.equal(oldRec?.revocation_reason, REVOCATION_REASONS.affiliationChanged);

          await page.goto(`${env.origin}/#/changes/${orderId}`);
          await page.getByTestId('change-done').waitFor();
        });
      });
    },
  );
}
