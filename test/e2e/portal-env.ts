// The real thing for the end-to-end tests: certdesk's server (buildServer, in this process, serving
// the built web/dist) on http://portal.test:PORT with a test CA, the key assistant as a child process
// (`certdesk agent`) with soft tokens holding certificates from that CA, and Chromium.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import { buildServer } from '../../src/api/server.js';
import { softTokenWithCertificate, startAgentProcess, type AgentProcess } from '../helpers/agent.js';
import {
  approveInAssistant,
  buildWeb,
  freePort,
  launchBrowser,
  popupFrom,
  PORTAL_HOST,
  type BrowserSession,
} from '../helpers/browser.js';
import { createTestCa, type TestCa } from '../helpers/ca.js';

export const PIN = '135790';

export interface KeyOnDisk {
  label: string;
  file: string;
  tokenId: string;
  certificate: Buffer;
}

export interface PortalEnv {
  ca: TestCa;
  app: FastifyInstance;
  /** http://portal.test:PORT (the browser's view) */
  origin: string;
  /** http://127.0.0.1:PORT (this process's view) */
  base: string;
  agentPort: number;
  agent: AgentProcess;
  keys: Map<string, KeyOnDisk>;
  dir: string;
  /** kills the assistant (SIGKILL: an open event stream keeps SIGTERM from ending it) and starts it again */
  restartAgent(env?: Record<string, string>): Promise<AgentProcess>;
  /** a soft token holding a fresh certificate from the test CA, seen by the next (re)started assistant */
  addKey(label: string, days: number): Promise<KeyOnDisk>;
  close(): Promise<void>;
}

export async function startPortalEnv(o: {
  keys: { label: string; days: number }[];
  agentEnv?: Record<string, string>;
}): Promise<PortalEnv> {
  buildWeb();
  const dir = mkdtempSync(path.join(tmpdir(), 'certdesk-e2e-portal-'));
  const port = await freePort();
  const agentPort = await freePort();
  const origin = `http://${PORTAL_HOST}:${port}`;
  const ca = await createTestCa({
    port,
    env: { PUBLIC_URL: origin, AGENT_URL: `http://127.0.0.1:${agentPort}` },
  });
  const { app } = await buildServer(ca.rt, { logger: false });
  await app.listen({ port, host: '127.0.0.1' });
  const keys = new Map<string, KeyOnDisk>();
  const addKey = async (label: string, days: number): Promise<KeyOnDisk> => {
    const file = path.join(dir, `${label}.token`);
    const r = await softTokenWithCertificate(ca, file, { pin: PIN, tokenLabel: label, days });
    const k = { label, file, tokenId: r.tokenId, certificate: r.certificate };
    keys.set(label, k);
    return k;
  };
  for (const k of o.keys) await addKey(k.label, k.days);
  const start = (env: Record<string, string> = {}): Promise<AgentProcess> =>
    startAgentProcess(
      [
        '--port',
        String(agentPort),
        ...[...keys.values()].flatMap((k) => ['--soft-token', k.file]),
        '--journal-dir',
        path.join(dir, 'journal'),
        '--allow-origin',
        origin,
      ],
      { env },
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
      await app.close();
      await ca.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return env;
}

export async function openBrowser(): Promise<BrowserSession> {
  return launchBrowser();
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
