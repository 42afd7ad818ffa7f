// Two `certdesk serve` instances on one PostgreSQL database behind HAProxy, configured by the file
// shipped in docs/deploy/haproxy-certdesk.cfg. A holder logs in, orders, pays and installs through
// the load balancer while the instance that issued the certificate is SIGKILLed: the same session
// goes on at the other instance (sessions, challenges, orders, notifications are in the database).
// Scheduled jobs run once per period across both instances, and the login rate limit counts
// attempts at either instance together.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseCertificate } from '../src/pki/certificate.js';
import {
  AgentClient,
  driveRenewal,
  issueThroughPortal,
  loginWithAgent,
  PORTAL,
  softTokenWithCertificate,
  startAgentProcess,
} from './helpers/agent.js';
import type { AgentProcess } from './helpers/agent.js';
import { workingPairsSoft } from './helpers/agent.js';
import { createTestCa, type TestCa } from './helpers/ca.js';
import { ORDER_FORM, PortalClient } from './helpers/holder.js';
import { startLoadBalancer, type LoadBalancer } from './helpers/load-balancer.js';
import { BUILT_CLI, eventually, freePort, run, type Running } from './helpers/processes.js';
import { requireTool } from './helpers/requirements.js';

const PIN = '135790';
const skip = requireTool('postgres', 'haproxy');

/** The portal client, noting which instance answered each call (HAProxy's X-Served-By). */
class TrackedPortal extends PortalClient {
  readonly servedBy: string[] = [];
  override async call<T = Record<string, unknown>>(
    method: string,
    p: string,
    body?: unknown,
    extra: Record<string, string> = {},
  ) {
    const r = await super.call<T>(method, p, body, extra);
    this.servedBy.push(r.headers.get('x-served-by') ?? '?');
    return r;
  }
}

/** pino lines of an instance's output with this `msg` */
function logLines(out: string, msg: string): Record<string, unknown>[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes(`"msg":"${msg}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('two instances behind HAProxy on one PostgreSQL database', { skip }, () => {
  let ca: TestCa;
  let lb: LoadBalancer;
  let agent: AgentProcess;
  let tokenFile: string;
  const instances = new Map<string, { port: number; proc: Running }>();

  const startInstance = async (name: string, port: number): Promise<void> => {
    const proc = run(process.execPath, [BUILT_CLI, 'serve', '--port', String(port)], {
      env: { ...ca.env, LOG_LEVEL: 'debug' },
    });
    instances.set(name, { port, proc });
    await proc.waitFor(/certdesk is serving/, `${name} serving`);
  };

  before(async () => {
    const lbPort = await freePort();
    const lbUrl = `http://127.0.0.1:${lbPort}`;
    ca = await createTestCa({
      postgres: true,
      port: lbPort,
      env: {
        PUBLIC_URL: `http://localhost:${lbPort}`,
        // the gateway notifies (and the server queries) through the load balancer, not one instance
        INTERNAL_URL: lbUrl,
        PORTAL_ORIGINS: PORTAL,
        TRUST_PROXY: '127.0.0.1',
        JOB_INTERVAL_SECONDS: '1',
        CRL_REFRESH_SECONDS: '10',
        // a few shards: every one is refreshed each 10 s
        CRL_SHARDS: '4',
      },
    });
    // both at once on the same database: first-start work (demo staff) is done by one of them
    await Promise.all([startInstance('certdesk1', await freePort()), startInstance('certdesk2', await freePort())]);
    lb = await startLoadBalancer({ port: lbPort, servers: [...instances].map(([name, i]) => ({ name, port: i.port })) });
    tokenFile = path.join(ca.dir, 'holder-token.json');
    await softTokenWithCertificate(ca, tokenFile, { pin: PIN, days: 30 });
    agent = await startAgentProcess(['--soft-token', tokenFile, '--journal-dir', path.join(ca.dir, 'journal')]);
  });
  after(async () => {
    await agent?.stop();
    await lb?.close();
    for (const i of instances.values()) await i.proc.stop();
    await ca?.cleanup();
  });

  test('login, order, payment and install go on when the instance that issued is killed', async () => {
    const a = new AgentClient(agent.url);
    const portal = new TrackedPortal(lb.url, PORTAL);
    const { tokenId, certificateId } = await loginWithAgent(portal, a, PIN);
    const order = (await portal.call<{ order: { id: string } }>('POST', '/api/portal/orders', ORDER_FORM)).body.order;
    const pay = await portal.call<{ redirectUrl: string }>('POST', `/api/portal/orders/${order.id}/pay`);
    assert.equal(pay.status, 200, JSON.stringify(pay.body));
    const u = new URL(pay.body.redirectUrl);
    const page = await (await fetch(`${lb.url}${u.pathname}${u.search}`)).text();
    const tradeNo = /name="trade_no" value="([^"]+)"/.exec(page)![1]!;
    const paid = await fetch(`${lb.url}/sandbox-pay/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `trade_no=${tradeNo}&bank=${encodeURIComponent('招商银行')}`,
    });
    assert.equal(paid.status, 200);
    // paid by the gateway's notification alone (the portal's GET would also query the gateway)
    assert.ok(
      await eventually(async () => (await ca.rt.renewals.order(order.id)).state === 'paid'),
      'the notification reached an instance through the load balancer',
    );

    let killed: string | undefined;
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
          killed = r.headers.get('x-served-by') ?? undefined;
          const victim = instances.get(killed ?? '');
          assert.ok(victim, `X-Served-By names an instance: ${killed}`);
          victim.proc.proc.kill('SIGKILL');
          await victim.proc.exited;
          throw new Error('the page lost the server');
        },
      }),
      /lost the server/,
    );
    const survivor = [...instances.keys()].find((n) => n !== killed)!;

    // the same session (no new login) finishes at the other instance
    const before = portal.servedBy.length;
    const done = await driveRenewal(a, {
      tokenId,
      orderId: order.id,
      pin: PIN,
      certificateId,
      issue: issueThroughPortal(portal, order.id),
    });
    assert.equal(done.status, 'done');
    const installed = await portal.call<{ order: { state: string } }>('POST', `/api/portal/orders/${order.id}/installed`);
    assert.equal(installed.status, 200, JSON.stringify(installed.body));
    assert.equal(installed.body.order.state, 'completed');
    assert.deepEqual(new Set(portal.servedBy.slice(before)), new Set([survivor]), 'after the kill only the survivor answers');
    assert.ok(new Set(portal.servedBy.slice(0, before)).size === 2, `both instances served before: ${portal.servedBy.join(' ')}`);

    const db = ca.rt.storage.db;
    assert.equal((await db.selectFrom('payments').selectAll().where('order_id', '=', order.id).execute()).length, 1, 'paid once');
    const certs = await db.selectFrom('certificates').selectAll().where('order_id', '=', order.id).execute();
    assert.equal(certs.length, 1, 'issued once');
    const pairs = await workingPairsSoft(tokenFile, PIN);
    assert.equal(pairs.pairs.length, 1, 'the token holds exactly the new pair');
    assert.equal(parseCertificate(pairs.pairs[0]!.certificate).serialHex, certs[0]!.serial);
    // the gateway's notifier runs on both instances; one of them sent the notification, once
    const notices = [...instances.values()].flatMap((i) => logLines(i.proc.out(), 'payment notification'));
    assert.equal(notices.length, 1, JSON.stringify(notices));

    await startInstance(killed!, instances.get(killed!)!.port); // back for the next tests
  });

  test('each scheduled job runs once per period across the two instances', async () => {
    const marks = new Map([...instances].map(([n, i]) => [n, i.proc.out().length]));
    const since = Date.now();
    await new Promise((r) => setTimeout(r, 8000));
    const runs = [...instances].flatMap(([n, i]) =>
      logLines(i.proc.out().slice(marks.get(n)), 'job run').map((l) => ({
        instance: n,
        job: String(l.job),
        period: Number(l.period),
      })),
    );
    const housekeeping = runs.filter((r) => r.job === 'order-housekeeping');
    assert.ok(housekeeping.length >= 4, `order housekeeping ran each second: ${JSON.stringify(housekeeping)}`);
    const seen = new Map<string, string>();
    for (const r of runs) {
      const key = `${r.job}@${r.period}`;
      assert.ok(!seen.has(key), `${key} ran at ${seen.get(key)} and again at ${r.instance}`);
      seen.set(key, r.instance);
    }
    // what the job does shows it too: the refresher signs a CRL only when the CA's newest is 9 s
    // old by its thisUpdate (CRL_REFRESH_SECONDS=10; thisUpdate is whole seconds, so up to ~1 s
    // before its audit entry); with both instances signing, two would come out together
    const published = await ca.rt.storage.db
      .selectFrom('audit_log')
      .select(['at', 'actor', 'target'])
      .where('action', '=', 'crl.published')
      .where('at', '>=', since - 20_000)
      .orderBy('seq')
      .execute();
    const refreshed = published.filter((p) => p.actor === 'system:crl-refresher' && p.at >= since);
    assert.ok(refreshed.length > 0, `the refresher published in 8 s: ${JSON.stringify(published)}`);
    for (const r of refreshed) {
      const earlier = published.filter((p) => p.target === r.target && p.at < r.at && r.at - p.at < 5000);
      assert.deepEqual(earlier, [], `${r.target}: a CRL at ${r.at} and another just before (${JSON.stringify(published)})`);
    }
    const rows = await ca.rt.storage.db.selectFrom('job_runs').selectAll().where('job', '=', 'order-housekeeping').execute();
    assert.ok(rows.every((r) => r.finished_at !== null || Date.now() - r.started_at < 5000));
    assert.ok(rows.some((r) => r.error === null));
  });

  test('the login rate limit counts attempts at both instances together', async () => {
    const served = new Set<string>();
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) {
      const r = await new Promise<{ status: number; by: string }>((resolve, reject) => {
        const body = JSON.stringify({ challenge: 'not-a-challenge', signature: 'AA==', certificate: 'AA==' });
        const req = request(
          {
            host: '127.0.0.1',
            port: lb.port,
            path: '/api/portal/login',
            method: 'POST',
            localAddress: '127.0.0.2', // a client of its own, not the test's other logins
            headers: { origin: PORTAL, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, by: String(res.headers['x-served-by']) }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      statuses.push(r.status);
      served.add(r.by);
    }
    assert.equal(served.size, 2, 'attempts went to both instances');
    assert.ok(
      statuses.slice(0, 20).every((s) => s === 401),
      statuses.join(' '),
    );
    assert.equal(statuses[20], 429, `the 21st attempt in a minute is refused: ${statuses.join(' ')}`);
  });
});
