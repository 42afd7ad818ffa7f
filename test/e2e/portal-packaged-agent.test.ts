// The renewal end to end once more, with the assistant as holders install it: the single executable
// of `npm run package:agent`, started from its own directory with the configuration the CA signed
// (no --allow-origin typed). Then the 下载中心 as a holder sees it: the package's SHA-256 and the CA's
// signature check out with OpenSSL; and an assistant older than AGENT_MIN_VERSION is sent there.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AGENT_VERSION } from '../../src/agent/version.js';
import { parseCertificate } from '../../src/pki/certificate.js';
import { workingPairsSoft } from '../helpers/agent.js';
import { packagedAgent } from '../helpers/agent-package.js';
import { screenshot, withScreenshots, type BrowserSession } from '../helpers/browser.js';
import { openssl } from '../helpers/ca.js';
import { requireTool } from '../helpers/requirements.js';
import { loginWith, normSerial, openBrowser, payOnline, PIN, runUpdate, startPortalEnv, type PortalEnv } from './portal-env.js';

describe('portal renewal with the packaged assistant', { skip: requireTool('chromium', 'dpkg') }, () => {
  let env: PortalEnv;
  let b: BrowserSession;

  before(async () => {
    env = await startPortalEnv({ keys: [{ label: 'UKey-PKG', days: 30 }], packagedAgent: true, downloadsDir: true });
    b = await openBrowser();
  });
  after(async () => {
    await b?.close();
    await env?.close();
  });

  test('log in, pay online, update: the key holds the new certificate', async () => {
    await withScreenshots(b, 'packaged-renewal', async () => {
      const { page } = b;
      assert.equal(env.agent.proc.spawnfile, path.join(env.dir, 'certdesk-agent', 'certdesk-agent'), 'the packaged binary runs');
      await loginWith(page, env, 'UKey-PKG');
      await page.getByTestId('confirm-cert').click();
      const orderId = await payOnline(page);
      const newSerial = await runUpdate(page, orderId);
      const key = env.keys.get('UKey-PKG')!;
      const { pairs } = await workingPairsSoft(key.file, PIN);
      assert.equal(pairs.length, 1, 'exactly one working pair on the key');
      assert.equal(normSerial(pairs[0]!.serial), newSerial);
      assert.notEqual(pairs[0]!.serial, parseCertificate(key.certificate).serialHex.toUpperCase());
    });
  });

  test('下载中心: version, size, SHA-256 and a CA signature OpenSSL verifies', async () => {
    await withScreenshots(b, 'packaged-downloads', async () => {
      const { page } = b;
      await page.getByTestId('downloads-link').click();
      const linux = page.getByTestId('dl-linux-x64');
      await linux.getByTestId('dl-file').first().waitFor();
      await screenshot(page, 'e2e-downloads');
      assert.match(
        (await page.getByTestId('dl-versions').textContent()) ?? '',
        new RegExp(`当前版本 ${AGENT_VERSION.replaceAll('.', '\\.')}`),
      );
      const pkg = packagedAgent();
      const rows = await linux.locator('tbody tr[data-row-key]').all();
      assert.equal(rows.length, 2, 'the single executable and the .deb');
      const deb = path.basename(pkg.deb);
      const row = linux.locator('tbody tr[data-row-key]', { hasText: deb });
      const sha = ((await row.getByTestId('dl-sha256').textContent()) ?? '').trim();
      const bytes = readFileSync(pkg.deb);
      assert.equal(sha, createHash('sha256').update(bytes).digest('hex'));
      // what the holder downloads: the file and its signature, checked against the CA root
      const fetched = async (href: string): Promise<Buffer> => {
        const r = await fetch(new URL(href, env.base));
        assert.equal(r.status, 200, href);
        return Buffer.from(await r.arrayBuffer());
      };
      const file = await fetched((await row.getByTestId('dl-file').getAttribute('href'))!);
      assert.ok(file.equals(bytes), 'the download is the package');
      const sig = await fetched((await row.getByTestId('dl-signature').getAttribute('href'))!);
      const { root } = env.ca.files();
      writeFileSync(path.join(env.dir, deb), file);
      writeFileSync(path.join(env.dir, `${deb}.p7s`), sig);
      const ok = openssl([
        'cms',
        '-verify',
        '-binary',
        '-inform',
        'DER',
        '-purpose',
        'any',
        '-out',
        '/dev/null',
        '-in',
        path.join(env.dir, `${deb}.p7s`),
        '-content',
        path.join(env.dir, deb),
        '-CAfile',
        root,
      ]);
      assert.equal(ok.status, 0, ok.out);
      writeFileSync(path.join(env.dir, deb), Buffer.concat([file, Buffer.from([0])]));
      const bad = openssl([
        'cms',
        '-verify',
        '-binary',
        '-inform',
        'DER',
        '-purpose',
        'any',
        '-out',
        '/dev/null',
        '-in',
        path.join(env.dir, `${deb}.p7s`),
        '-content',
        path.join(env.dir, deb),
        '-CAfile',
        root,
      ]);
      assert.notEqual(bad.status, 0, 'a changed file fails the check');
      assert.match((await page.getByTestId('dl-windows-x64').textContent()) ?? '', /暂未提供/);
      // only what the manifest lists is served
      for (const p of ['/downloads/manifest.json', '/downloads/..%2Fpackage.json', '/downloads/build%2Fmeta.json'])
        assert.equal((await fetch(new URL(p, env.base))).status, 404, p);
    });
  });

  test('an assistant older than AGENT_MIN_VERSION: told so at login, with the download link', async () => {
    await withScreenshots(b, 'packaged-too-old', async () => {
      const { page } = b;
      env.ca.rt.config.agentMinVersion = '99.0.0';
      await page.getByTestId('logout').click();
      await page.goto(`${env.origin}/`);
      await page.reload();
      // connected before in this tab: the page reconnects by itself; otherwise connect
      const auto = await page
        .getByTestId('cert-table')
        .waitFor({ timeout: 5000 })
        .then(() => true)
        .catch(() => false);
      if (!auto) await page.getByTestId('connect-agent').click();
      const warn = page.getByTestId('agent-too-old');
      await warn.waitFor();
      assert.match((await warn.textContent()) ?? '', new RegExp(`${AGENT_VERSION.replaceAll('.', '\\.')}.*99\\.0\\.0`));
      assert.ok(await page.getByTestId('login').isDisabled(), 'no login with it');
      await screenshot(page, 'e2e-agent-too-old');
      await warn.getByTestId('agent-too-old-download').click();
      await page.getByTestId('downloads').waitFor();
    });
  });
});
