// The real thing for the end-to-end tests: certdesk's server (buildServer, in this process, serving
// the built web/dist) on http://portal.test:PORT — or, with `https`, behind nginx on
// https://portal.test:PORT as deployed (test/helpers/tls-proxy.ts) — with a test CA, the key assistant as a child process
// (`certdesk agent`, or with `packagedAgent` the single executable of `npm run package:agent` with its
// CA-signed configuration beside it) with soft tokens — or SoftHSM2 tokens through PKCS#11
// (`tokenKind: 'pkcs11'`) — holding certificates from that CA, and Chromium. Also the page steps the tests share.
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import { buildServer } from '../../src/api/server.js';
import {
  softHsmTokenWithCertificate,
  softTokenWithCertificate,
  startAgentProcess,
  workingPairsPkcs11,
  workingPairsSoft,
  type AgentProcess,
  type WorkingPair,
} from '../helpers/agent.js';
import {
  approveInAssistant,
  buildWeb,
  launchBrowser,
  popupFrom,
  PORTAL_HOST,
  screenshot,
  type BrowserSession,
} from '../helpers/browser.js';
import { freePort } from '../helpers/processes.js';
import { packagedAgent } from '../helpers/agent-package.js';
import { createTestCa, type TestCa } from '../helpers/ca.js';
import { cliAsync } from '../helpers/cli.js';
import { createSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { sm2DualTokenFromRa } from '../helpers/sm2-holder.js';
import { startTlsProxy, type TlsProxy } from '../helpers/tls-proxy.js';

export const PIN = '135790';

export type TokenKind = 'soft' | 'pkcs11';

export interface KeyOnDisk {
  kind: TokenKind;
  /** the token's label (also the SoftHSM token label on PKCS#11) */
  label: string;
  /** the soft token's file ('' on PKCS#11) */
  file: string;
  /** the assistant's id of the token */
  tokenId: string;
  /** the certificate the key was provisioned with */
  certificate: Buffer;
  /** an SM2 dual pair's encryption certificate (keys added with `dual`) */
  encryptionCertificate?: Buffer;
}

export interface PortalEnv {
  ca: TestCa;
  app: FastifyInstance;
  /** http://portal.test:PORT, or https://portal.test:PORT through nginx (the browser's view) */
  origin: string;
  /** http://127.0.0.1:PORT (this process's view) */
  base: string;
  agentPort: number;
  agent: AgentProcess;
  keys: Map<string, KeyOnDisk>;
  dir: string;
  tokenKind: TokenKind;
  /** the SoftHSM2 environment the assistant uses (tokenKind 'pkcs11' only) */
  hsm?: SoftHsm;
  /** nginx in front of the server (`https` only) */
  tls?: TlsProxy;
  /**
   * Chromium flags for this portal: with `https`, trust the proxy's certificate by its pin and treat
   * the portal's address as public, as a CA's site on the internet is (Local Network Access applies)
   */
  browserArgs: string[];
  /** kills the assistant (SIGKILL: an open event stream keeps SIGTERM from ending it) and starts it again */
  restartAgent(env?: Record<string, string>): Promise<AgentProcess>;
  /**
   * a token (soft, or a new SoftHSM token) holding a fresh certificate from the test CA, seen by the
   * next (re)started assistant
   */
  addKey(label: string, days: number, o?: { dual?: boolean }): Promise<KeyOnDisk>;
  close(): Promise<void>;
}

export async function startPortalEnv(o: {
  /** `dual`: an SM2 dual pair (单位身份证书（SM2 双证书）, soft tokens only); the CA then has an SM2 hierarchy beside the ECDSA one */
  keys: { label: string; days: number; dual?: boolean }[];
  agentEnv?: Record<string, string>;
  /** where the assistant keeps the keys: soft token files (default) or SoftHSM2 through PKCS#11 */
  tokenKind?: TokenKind;
  /** give the CA its SM2 hierarchy beside the ECDSA one even without an SM2 key (an upgrade target) */
  sm2Hierarchy?: boolean;
  /** serve the portal through nginx over HTTPS on a public address (docs/deploy/nginx-certdesk.conf) */
  https?: boolean;
  /** run the packaged assistant (dist-agent/certdesk-agent-linux-x64), configured by the CA's signed file */
  packagedAgent?: boolean;
  /** serve the 下载中心 from the packages `npm run package:agent` made (AGENT_DOWNLOADS_DIR) */
  downloadsDir?: boolean;
}): Promise<PortalEnv> {
  buildWeb();
  const tokenKind = o.tokenKind ?? 'soft';
  const dir = mkdtempSync(path.join(tmpdir(), 'certdesk-e2e-portal-'));
  // Every SoftHSM token gets the same user PIN as the soft tokens. createSoftHsm wants a first token:
  // an empty one, which the assistant lists too (it holds no certificate, so the portal shows nothing).
  const hsm = tokenKind === 'pkcs11' ? createSoftHsm({ tokens: ['empty'], pin: PIN }) : undefined;
  const port = await freePort();
  const agentPort = await freePort();
  const tlsPort = o.https ? await freePort() : undefined;
  const origin = tlsPort ? `https://${PORTAL_HOST}:${tlsPort}` : `http://${PORTAL_HOST}:${port}`;
  // What is made so far, released in reverse: when a step fails (a port taken, a token not made), the
  // test's after() has no env to close, and a listening server left behind keeps the file running
  // until its timeout.
  const undo: (() => unknown)[] = [() => rmSync(dir, { recursive: true, force: true })];
  if (hsm) undo.push(() => hsm.cleanup());
  const release = async (): Promise<void> => {
    for (const u of undo.splice(0).reverse()) await u();
  };
  try {
    const ca = await createTestCa({
      ...(o.sm2Hierarchy || o.keys.some((k) => k.dual) ? { keyType: 'both' as const } : {}),
      port,
      env: {
        PUBLIC_URL: origin,
        AGENT_URL: `http://127.0.0.1:${agentPort}`,
        ...(o.downloadsDir ? { AGENT_DOWNLOADS_DIR: path.dirname(packagedAgent().binary) } : {}),
        ...(tlsPort ? { TRUST_PROXY: '127.0.0.1' } : {}),
      },
    });
    undo.push(() => ca.cleanup());
    const { app } = await buildServer(ca.rt, { logger: false });
    undo.push(() => app.close());
    await app.listen({ port, host: '127.0.0.1' });
    const tls = tlsPort ? await startTlsProxy({ host: PORTAL_HOST, port: tlsPort, upstreamPort: port }) : undefined;
    if (tls) undo.push(() => tls.close());
    const keys = new Map<string, KeyOnDisk>();
    const addKey = async (label: string, days: number, a: { dual?: boolean } = {}): Promise<KeyOnDisk> => {
      let k: KeyOnDisk;
      if (a.dual) {
        // SoftHSM2 has no SM2 mechanisms: an SM2 dual pair lives on a soft token
        assert.ok(!hsm, 'an SM2 dual pair needs a soft token');
        const file = path.join(dir, `${label}.token`);
        const r = await sm2DualTokenFromRa(ca, file, { pin: PIN, tokenLabel: label, days });
        k = {
          kind: 'soft',
          label,
          file,
          tokenId: r.tokenId,
          certificate: r.certificate,
          encryptionCertificate: r.encryptionCertificate,
        };
      } else if (hsm) {
        const r = await softHsmTokenWithCertificate(ca, hsm, { tokenLabel: label, days });
        assert.equal(r.token.pin, PIN);
        k = { kind: 'pkcs11', label, file: '', tokenId: r.tokenId, certificate: r.certificate };
      } else {
        const file = path.join(dir, `${label}.token`);
        const r = await softTokenWithCertificate(ca, file, { pin: PIN, tokenLabel: label, days });
        k = { kind: 'soft', label, file, tokenId: r.tokenId, certificate: r.certificate };
      }
      keys.set(label, k);
      return k;
    };
    for (const k of o.keys) await addKey(k.label, k.days, { dual: k.dual });
    // As installed: the binary alone in a directory with the configuration the CA signed for this portal.
    const install = o.packagedAgent ? path.join(dir, 'certdesk-agent') : undefined;
    if (install) {
      mkdirSync(install);
      copyFileSync(packagedAgent().binary, path.join(install, 'certdesk-agent'));
      chmodSync(path.join(install, 'certdesk-agent'), 0o755);
      const signed = await cliAsync(['agent-config', 'sign', '--out', path.join(install, 'certdesk-agent.json')], ca.env);
      assert.equal(signed.status, 0, signed.stderr);
    }
    const start = (env: Record<string, string> = {}): Promise<AgentProcess> =>
      startAgentProcess(
        [
          '--port',
          String(agentPort),
          ...(hsm
            ? ['--pkcs11-module', hsm.module]
            : [...keys.values()].flatMap((k) => (k.kind === 'soft' ? ['--soft-token', k.file] : []))),
          '--journal-dir',
          path.join(dir, 'journal'),
          ...(install ? [] : ['--allow-origin', origin]),
        ],
        {
          env: hsm ? { SOFTHSM2_CONF: hsm.conf, ...env } : env,
          ...(install ? { executable: path.join(install, 'certdesk-agent'), origins: [], cwd: install } : {}),
        },
      );
    const env: PortalEnv = {
      ca,
      app,
      origin,
      base: `http://127.0.0.1:${port}`,
      agentPort,
      agent: await start(o.agentEnv),
      keys,
      dir,
      tokenKind,
      hsm,
      tls,
      browserArgs: tls
        ? [`--ignore-certificate-errors-spki-list=${tls.spkiPin}`, `--ip-address-space-overrides=127.0.0.1:${tls.port}=public`]
        : [],
      async restartAgent(e) {
        if (env.agent.proc.exitCode === null && env.agent.proc.signalCode === null) env.agent.proc.kill('SIGKILL');
        await env.agent.exited;
        env.agent = await start(e);
        return env.agent;
      },
      addKey,
      async close() {
        if (env.agent.proc.exitCode === null && env.agent.proc.signalCode === null) env.agent.proc.kill('SIGKILL');
        await env.agent.exited;
        await release();
      },
    };
    return env;
  } catch (e) {
    await release();
    throw e;
  }
}

/** Chromium for this portal (with `env`: its flags — the HTTPS portal's certificate pin, its public address). */
export async function openBrowser(env?: PortalEnv, o: { locale?: string } = {}): Promise<BrowserSession> {
  return launchBrowser({ extraArgs: env?.browserArgs, locale: o.locale });
}

/** The 登录系统 flow in the page: connect (a click), choose the key's certificate, PIN in the assistant's window. */
export async function loginWith(page: Page, env: PortalEnv, label: string, o: { expectError?: boolean } = {}): Promise<void> {
  await page.goto(`${env.origin}/`);
  await page.getByRole('heading', { name: '登录系统' }).waitFor();
  const table = page.getByTestId('cert-table');
  const auto = await table
    .waitFor({ timeout: 3000 })
    .then(() => true)
    .catch(() => false);
  if (!auto) await page.getByTestId('connect-agent').click();
  const row = table.getByRole('row', { name: new RegExp(label) });
  await row.waitFor();
  await row.click();
  const popup = await popupFrom(page, () => page.getByTestId('login').click());
  await approveInAssistant(popup, PIN);
  if (o.expectError) await page.getByTestId('login-error').waitFor({ timeout: 30_000 });
  else await page.getByTestId('holder-name').waitFor({ timeout: 30_000 });
}

/** Fills 请填写您的订单信息 with the seed's example and submits it. */
export async function fillOrderForm(page: Page, method: 'online' | 'postal' | 'bank'): Promise<void> {
  const form = page.getByTestId('order-card');
  await form.getByText('请填写您的订单信息').waitFor();
  await form.getByLabel('收件人').fill('CA客服部');
  await form.getByLabel('联系电话').fill('021-962600');
  await form.getByLabel('发票邮寄地址').fill('上海市虹口区四川北路1601室');
  await form.getByLabel('邮编').fill('200080');
  await page.getByTestId(`pay-${method}`).click();
  await page.getByTestId('submit-order').click();
}

/** The order id of the page the browser shows (/#/orders/:id…). */
export function orderIdOf(page: Page): string {
  const m = /#\/orders\/([^/?#]+)/.exec(page.url());
  assert.ok(m, `not on an order page: ${page.url()}`);
  return decodeURIComponent(m[1]!);
}

/**
 * From 请填写您的订单信息 (after 请确认您证书的信息) with online payment through the sandbox gateway's
 * page (选择银行 → 确认支付 → 返回商户) to 支付成功. Returns the order id.
 */
export async function payOnline(page: Page, o: { shots?: string } = {}): Promise<string> {
  await fillOrderForm(page, 'online');
  await page.getByTestId('pay').waitFor();
  const orderId = orderIdOf(page);
  await page.getByTestId('pay').click();
  await page.waitForURL(/\/sandbox-pay\//);
  if (o.shots) await screenshot(page, `${o.shots}-sandbox-gateway`);
  await page.locator('#confirm-pay').click();
  await page.locator('#paid').waitFor();
  await page.locator('#return').click();
  await page.waitForURL(new RegExp(`#/orders/${orderId}$`));
  await page.getByText('支付成功').waitFor({ timeout: 30_000 });
  if (o.shots) await screenshot(page, `${o.shots}-paid`);
  return orderId;
}

/**
 * From 请填写您的订单信息 with 银行转帐 (or 邮政汇款): the remittance instructions for that method with
 * the reference code and 等待到账; staff confirm the payment with `certdesk orders confirm-payment`;
 * the page turns to 支付成功 by itself. Returns the order id and the reference code.
 */
export async function payByBankTransfer(
  page: Page,
  env: PortalEnv,
  o: { bankReference: string; shots?: string; method?: 'bank' | 'postal' },
): Promise<{ orderId: string; reference: string }> {
  const method = o.method ?? 'bank';
  await fillOrderForm(page, method);
  const ref = page.getByTestId('reference');
  await ref.waitFor();
  const orderId = orderIdOf(page);
  const reference = ((await ref.textContent()) ?? '').trim();
  assert.match(reference, /^[A-Z0-9-]{4,}$/);
  assert.ok(await page.getByTestId('awaiting').isVisible());
  const remit = (await page.getByTestId('remittance').textContent()) ?? '';
  assert.match(remit, /等待到账/);
  assert.match(remit, /汇款识别码/);
  // where to send the money: the post office address for 邮政汇款, the bank account for 银行转帐
  if (method === 'postal') {
    assert.match(remit, /汇款地址\s*上海市虹口区四川北路1601室/);
    assert.match(remit, /邮编\s*200080/);
    assert.doesNotMatch(remit, /开户银行|账号/);
  } else {
    assert.match(remit, /开户银行/);
    assert.match(remit, /账号/);
    assert.doesNotMatch(remit, /汇款地址/);
  }
  if (o.shots) await screenshot(page, `${o.shots}-awaiting`);

  const r = await cliAsync(['orders', 'confirm-payment', reference, '--reference', o.bankReference], env.ca.env);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`order ${orderId} is paid`));
  await page.getByText('支付成功').waitFor({ timeout: 20_000 });
  if (o.shots) await screenshot(page, `${o.shots}-paid`);
  return { orderId, reference };
}

/**
 * The update of a paid order: 开始更新, one PIN in the assistant's window (which names the order),
 * the steps through to 更新成功. Returns the new certificate's serial as the page shows it
 * (upper-case hex without leading zeros).
 */
export async function runUpdate(page: Page, orderId: string, o: { shots?: string } = {}): Promise<string> {
  await page.getByTestId('go-update').click();
  await page.getByTestId('update-steps').waitFor();
  const popup = await popupFrom(page, () => page.getByTestId('start-update').click());
  await popup.locator('#order', { hasText: orderId }).waitFor();
  await approveInAssistant(popup, PIN);
  await page.getByTestId('update-success').waitFor({ timeout: 90_000 });
  if (o.shots) await screenshot(page, `${o.shots}-update-success`);
  return normSerial((await page.getByTestId('new-serial').textContent()) ?? '');
}

/** A serial in hex as upper case without leading zeros (how the page and the helpers compare). */
export const normSerial = (s: string): string => s.trim().replace(/^0+/, '').toUpperCase();

/** The key's certificates whose private key is on the token and signs, read without the assistant. */
export async function workingPairsOf(
  env: PortalEnv,
  label: string,
): Promise<{ pairs: WorkingPair[]; objects: { class: string; label: string; id: string }[] }> {
  const k = env.keys.get(label);
  assert.ok(k, `no key ${label}`);
  return k.kind === 'pkcs11' ? workingPairsPkcs11(env.hsm!, label, PIN) : workingPairsSoft(k.file, PIN);
}
