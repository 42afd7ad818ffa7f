// The approval flow in a real browser (Chromium through playwright-core): a portal page on another
// origin asks the assistant to log in, opens the assistant's approval window, the PIN is typed there,
// the window tells the portal by postMessage, the portal reads the signature with its session token.
// A page from an origin not on the allowlist cannot read anything.
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildLoginChallenge, verifyLoginSignature } from '../src/pki/login-challenge.js';
import { softTokenWithCertificate, startAgentProcess, type AgentProcess } from './helpers/agent.js';
import { CHROMIUM } from './helpers/browser.js';
import { createTestCa, type TestCa } from './helpers/ca.js';
import { requireTool } from './helpers/requirements.js';

const PIN = '246810';

/** The portal's page: plain script, as a portal would do it. */
function portalPage(agentUrl: string, challenge: string): string {
  return `<!doctype html><meta charset="utf-8"><title>portal</title>
<button id="login">登录</button><pre id="out"></pre><pre id="err"></pre>
<script>
const AGENT = ${JSON.stringify(agentUrl)};
const CHALLENGE = ${JSON.stringify(challenge)};
document.getElementById('login').addEventListener('click', async () => {
  try {
    const popup = window.open('about:blank', 'certdesk-approve', 'width=640,height=720');
    const { tokens } = await (await fetch(AGENT + '/v1/tokens')).json();
    const t = tokens[0];
    const { certificates } = await (await fetch(AGENT + '/v1/tokens/' + t.id + '/certificates')).json();
    const res = await fetch(AGENT + '/v1/requests', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ op: 'login', tokenId: t.id, certificateId: certificates[0].id, challenge: CHALLENGE }),
    });
    const r = await res.json();
    window.addEventListener('message', async (ev) => {
      if (ev.origin !== AGENT || !ev.data || ev.data.requestId !== r.requestId) return;
      const done = await (await fetch(AGENT + '/v1/requests/' + r.requestId, { headers: { Authorization: 'Bearer ' + r.sessionToken } })).json();
      document.getElementById('out').textContent = JSON.stringify({ status: ev.data.status, result: done.result });
    });
    popup.location = r.approveUrl;
  } catch (e) {
    document.getElementById('err').textContent = String(e);
  }
});
</script>`;
}

const evilPage = (agentUrl: string): string => `<!doctype html><meta charset="utf-8"><pre id="out"></pre>
<script>
fetch(${JSON.stringify(agentUrl)} + '/v1/tokens').then((r) => r.text()).then((t) => { document.getElementById('out').textContent = 'READ ' + t; },
  (e) => { document.getElementById('out').textContent = 'BLOCKED ' + e.name; });
</script>`;

describe('approval flow in Chromium', { skip: requireTool('chromium') }, () => {
  let ca: TestCa;
  let dir: string;
  let portal: Server;
  let portalOrigin: string;
  let agent: AgentProcess;
  let challenge = '';
  let file = '';

  before(async () => {
    ca = await createTestCa();
    dir = mkdtempSync(path.join(tmpdir(), 'certdesk-agent-browser-'));
    file = path.join(dir, 'token.json');
    await softTokenWithCertificate(ca, file, { pin: PIN });
    portal = createServer((req, res) => {
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(req.url === '/evil' ? evilPage(agent.url) : portalPage(agent.url, challenge));
    });
    await new Promise<void>((r) => portal.listen(0, '127.0.0.1', r));
    const port = (portal.address() as AddressInfo).port;
    portalOrigin = `http://127.0.0.1:${port}`;
    challenge = buildLoginChallenge({ origin: portalOrigin, ttlSeconds: 600 }).text;
    agent = await startAgentProcess(['--soft-token', file, '--allow-origin', portalOrigin, '--journal-dir', path.join(dir, 'j')]);
  });

  after(async () => {
    await agent?.stop();
    portal?.close();
    await ca?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs in: PIN typed only in the assistant’s window, result by postMessage + session token', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      const portalBodies: string[] = [];
      page.on('request', (r) => portalBodies.push(r.postData() ?? ''));
      await page.goto(`${portalOrigin}/`);
      const [popup] = await Promise.all([page.waitForEvent('popup'), page.click('#login')]);
      await popup.waitForURL(/\/approve\?request=/);
      await popup.waitForSelector('#request:not([hidden])');
      assert.equal(await popup.textContent('#origin'), portalOrigin, 'the window shows which site asks');
      assert.equal(await popup.textContent('#op'), '登录', 'and for what');
      assert.match((await popup.textContent('#cert')) ?? '', /企业测试/);
      assert.equal(await popup.textContent('#tries'), '6');

      await popup.fill('#pin', '999999');
      await popup.click('#approve');
      await popup.waitForSelector('#message:not([hidden])');
      assert.match((await popup.textContent('#message')) ?? '', /PIN 错误，还剩 5 次/);

      // the key is pulled out and put back while the window is open: the window follows (SSE)
      renameSync(file, `${file}.away`);
      await popup.waitForSelector('#pin-form', { state: 'hidden' });
      assert.match((await popup.textContent('#message')) ?? '', /未检测到此请求对应的 UKey/);
      renameSync(`${file}.away`, file);
      await popup.waitForSelector('#pin-form', { state: 'visible' });

      await popup.fill('#pin', PIN);
      await popup.click('#approve');
      await page.waitForFunction("document.getElementById('out').textContent !== ''", undefined, { timeout: 15_000 });
      const out = JSON.parse((await page.textContent('#out'))!) as {
        status: string;
        result: { signature: string; certificate: string };
      };
      assert.equal(out.status, 'done');
      assert.equal(
        verifyLoginSignature(
          challenge,
          Buffer.from(out.result.signature, 'base64'),
          Buffer.from(out.result.certificate, 'base64'),
        ),
        true,
      );
      assert.equal(await page.textContent('#err'), '');
      assert.ok(!portalBodies.some((b) => b.includes(PIN) || b.includes('999999')), 'the portal page never sent a PIN');
    } finally {
      await browser.close();
    }
  });

  it('a page on an origin that is not allowed cannot read the assistant', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      // same host, another port → another origin, not on the allowlist
      await page.goto(`${portalOrigin.replace('127.0.0.1', 'localhost')}/evil`);
      await page.waitForFunction("document.getElementById('out').textContent !== ''");
      assert.equal(await page.textContent('#out'), 'BLOCKED TypeError');
    } finally {
      await browser.close();
    }
  });
});
