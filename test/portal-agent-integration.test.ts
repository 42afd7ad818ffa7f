// The whole renewal across real processes: the server (`certdesk serve`), the key assistant
// (`certdesk agent`) with a soft token, and the test playing the portal page between them. The
// server is SIGKILLed right after it issued; after a restart the holder logs in again, sees the paid
// order and finishes: one payment, one certificate, and a key that holds exactly the new pair.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseCertificate } from '../src/pki/certificate.js';
import { createTestCa, type TestCa } from './helpers/ca.js';
import { CERTDESK, ROOT } from './helpers/cli.js';
import { freePort, ORDER_FORM, PortalClient } from './helpers/holder.js';
import {
  AgentClient,
  driveRenewal,
  issueThroughPortal,
  loginWithAgent,
  PORTAL,
  softTokenWithCertificate,
  startAgentProcess,
  workingPairsSoft,
  type AgentProcess,
} from './helpers/agent.js';

const PIN = '246813';

function startServer(env: NodeJS.ProcessEnv): { proc: ChildProcess; exited: Promise<unknown> } {
  const proc = spawn(process.execPath, [CERTDESK, 'serve'], {
    env: { ...env, LOG_LEVEL: 'warn' },
    cwd: ROOT,
    stdio: 'ignore',
  });
  return { proc, exited: new Promise((r) => proc.once('exit', r)) };
}

async function waitHealthy(base: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('server did not start');
}

describe('renewal across server, assistant and token, with the server killed mid-way', () => {
  let ca: TestCa;
  let server: { proc: ChildProcess; exited: Promise<unknown> };
  let agent: AgentProcess;
  let base: string;
  let tokenFile: string;
  before(async () => {
    const port = await freePort();
    ca = await createTestCa({ port, env: { PORTAL_ORIGINS: PORTAL } });
    base = `http://127.0.0.1:${port}`;
    tokenFile = path.join(ca.dir, 'holder-token.json');
    await softTokenWithCertificate(ca, tokenFile, { pin: PIN, days: 30 });
    server = startServer(ca.env);
    await waitHealthy(base);
    agent = await startAgentProcess(['--soft-token', tokenFile, '--journal-dir', path.join(ca.dir, 'journal')]);
  });
  after(async () => {
    await agent?.stop();
    server?.proc.kill('SIGKILL');
    await ca?.cleanup();
  });

  const login = (portal: PortalClient, a: AgentClient) => loginWithAgent(portal, a, PIN);

  test('pay once, issue once, survive SIGKILL of the server, finish after logging in again', async () => {
    const a = new AgentClient(agent.url);
    const portal = new PortalClient(base, PORTAL);
    const { tokenId, certificateId } = await login(portal, a);
    const order = (await portal.call<{ order: { id: string } }>('POST', '/api/portal/orders', ORDER_FORM)).body.order;

    const pay = await portal.call<{ redirectUrl: string }>('POST', `/api/portal/orders/${order.id}/pay`);
    const u = new URL(pay.body.redirectUrl);
    const page = await (await fetch(`${base}${u.pathname}${u.search}`)).text();
    const tradeNo = /name="trade_no" value="([^"]+)"/.exec(page)![1]!;
    await fetch(`${base}/sandbox-pay/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `trade_no=${tradeNo}&bank=${encodeURIComponent('交通银行')}`,
    });
    for (let i = 0; i < 100 && (await ca.rt.renewals.order(order.id)).state !== 'paid'; i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.equal((await ca.rt.renewals.order(order.id)).state, 'paid');

    // First attempt: the server issues, then dies before the page hears back.
    let killed = false;
    await assert.rejects(
      driveRenewal(a, {
        tokenId,
        orderId: order.id,
        pin: PIN,
        certificateId,
        issue: async (csr, proof) => {
          const r = await portal.call('POST', `/api/portal/orders/${order.id}/issue`, {
            csr: csr.toString('base64'),
            proof: proof.toString('base64'),
          });
          assert.equal(r.status, 200, JSON.stringify(r.body));
          server.proc.kill('SIGKILL');
          await server.exited;
          killed = true;
          throw new Error('the page lost the server');
        },
      }),
      /lost the server/,
    );
    assert.ok(killed);
    // Meanwhile the key still holds the old, working certificate.
    const during = await workingPairsSoft(tokenFile, PIN);
    assert.ok(during.pairs.length >= 1);

    server = startServer(ca.env);
    await waitHealthy(base);
    // The session cookie is gone with the tab in real life: log in again.
    const again = new PortalClient(base, PORTAL);
    await login(again, a);
    const quote = await again.call<{ openOrder: { id: string; state: string } }>('GET', '/api/portal/renewal');
    assert.equal(quote.body.openOrder.id, order.id, 'the paid order is shown, not a new payment');
    assert.equal(quote.body.openOrder.state, 'issued');

    const done = await driveRenewal(a, {
      tokenId,
      orderId: order.id,
      pin: PIN,
      certificateId,
      issue: issueThroughPortal(again, order.id),
    });
    assert.equal(done.status, 'done');
    const installed = await again.call<{ order: { state: string } }>('POST', `/api/portal/orders/${order.id}/installed`);
    assert.equal(installed.body.order.state, 'completed');

    const payments = await ca.rt.storage.db.selectFrom('payments').selectAll().where('order_id', '=', order.id).execute();
    assert.equal(payments.length, 1, 'one payment');
    const certs = await ca.rt.storage.db.selectFrom('certificates').selectAll().where('order_id', '=', order.id).execute();
    assert.equal(certs.length, 1, 'one certificate');
    const after = await workingPairsSoft(tokenFile, PIN);
    assert.equal(after.pairs.length, 1, 'exactly the new pair');
    assert.equal(parseCertificate(after.pairs[0]!.certificate).serialHex, certs[0]!.serial);
  });
});
