// OCSP and CRLs from a PostgreSQL streaming replica (DATABASE_READ_URL): a primary and a hot standby
// made with pg_basebackup, both throwaway clusters on loopback. `certdesk serve` writes to the
// primary and reads statuses and CRLs from the replica: a revocation on the primary is answered
// revoked once the replica has replayed it (the test measures how long that takes, and /readyz
// reports the lag); with replay paused, the replica-backed answers stay as they were, which shows
// where they come from. A whole renewal through that server works, so no write goes to the
// (read-only) replica.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createTestCa, crlPathFor, openssl, opensslAsync, type TestCa } from './helpers/ca.js';
import { createHolder, ORDER_FORM, PortalClient, type TestHolder } from './helpers/holder.js';
import { postgresBin, startPrimary, startReplica, type PgCluster } from './helpers/pg-cluster.js';
import { BUILT_CLI, eventually, freePort, run, type Running } from './helpers/processes.js';
import { requireTool } from './helpers/requirements.js';
import { toPem } from '../src/pki/pem.js';
import { getCertificate } from '../src/sa/certificates.js';

const skip = requireTool('postgres-server');

interface Ready {
  status: string;
  checks: Record<string, string>;
  replication?: { lagBytes: number; lagMs: number; primaryLsn: string; replayLsn: string };
}

describe('OCSP and CRLs read from a streaming replica', { skip }, () => {
  let primary: PgCluster;
  let replica: PgCluster;
  let ca: TestCa;
  let server: Running;
  let base: string;
  let replicaAdmin: pg.Client;
  let files: { root: string; chain: string };

  before(async () => {
    const bin = postgresBin()!;
    primary = startPrimary(bin, await freePort());
    replica = startReplica(bin, primary, await freePort());
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    ca = await createTestCa({ postgres: true, postgresServer: primary.url, port });
    const dbName = new URL(ca.env.DATABASE_URL!).pathname.slice(1);
    replicaAdmin = new pg.Client({ connectionString: replica.urlFor(dbName) });
    // the database was created on the primary: it appears on the replica by replication
    assert.ok(
      await eventually(async () => {
        try {
          await replicaAdmin.connect();
          return true;
        } catch {
          replicaAdmin = new pg.Client({ connectionString: replica.urlFor(dbName) });
          return false;
        }
      }),
      'the database reached the replica',
    );
    server = run(process.execPath, [BUILT_CLI, 'serve'], {
      env: { ...ca.env, DATABASE_READ_URL: replica.urlFor(dbName), LOG_LEVEL: 'warn' },
    });
    assert.ok(
      await eventually(async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.ok === true, 60_000),
      `up: ${server.out()}`,
    );
    files = ca.files();
  });
  after(async () => {
    await server?.stop();
    await replicaAdmin?.end().catch(() => {});
    await ca?.cleanup();
    replica?.stop();
    primary?.stop();
  });

  const ready = async (): Promise<Ready> => (await (await fetch(`${base}/readyz`)).json()) as Ready;

  /** Status as a relying party gets it from the replica-backed server: good, revoked or unknown. */
  async function ocspStatus(holder: TestHolder): Promise<string> {
    const certFile = path.join(ca.dir, `cert-${holder.serial}.pem`);
    writeFileSync(certFile, toPem('CERTIFICATE', holder.certDer));
    const r = await opensslAsync([
      'ocsp',
      '-issuer',
      files.chain,
      '-cert',
      certFile,
      '-url',
      `${base}/ocsp`,
      '-CAfile',
      files.root,
      '-no_nonce',
    ]);
    assert.match(r.out, /Response verify OK/, r.out);
    return /: (good|revoked|unknown)/.exec(r.out)?.[1] ?? r.out;
  }

  async function crlSerials(serial: string): Promise<string> {
    const der = Buffer.from(await (await fetch(`${base}${await crlPathFor(ca, serial)}`)).arrayBuffer());
    const v = openssl(['crl', '-inform', 'DER', '-noout', '-text', '-CAfile', files.chain], der);
    return v.out.toLowerCase().replace(/[^0-9a-z\n]/g, '');
  }

  test('/readyz reports the replica and its lag', async () => {
    const r = await ready();
    assert.equal(r.checks.replica, 'ok', JSON.stringify(r));
    assert.equal(typeof r.replication?.lagBytes, 'number');
    assert.equal(typeof r.replication?.lagMs, 'number');
  });

  test('a revocation on the primary is answered revoked once the replica replayed it; the lag is measured', async (t) => {
    const holder = await createHolder(ca, { name: '副本查询' });
    assert.ok(await eventually(async () => (await ocspStatus(holder)) === 'good'), 'the new certificate reaches the replica');

    const start = Date.now();
    await ca.rt.ca.revoke(holder.serial, 'keyCompromise', 'test');
    let status = '';
    while ((status = await ocspStatus(holder)) !== 'revoked' && Date.now() - start < 30_000);
    const observed = Date.now() - start;
    assert.equal(status, 'revoked');
    assert.ok((await crlSerials(holder.serial)).includes(holder.serial), 'the CRL read from the replica lists it');
    t.diagnostic(`revocation on the primary answered revoked via the replica after ${observed} ms (openssl ocsp polling)`);
  });

  test('while the replica does not replay, its answers stay as they were and /readyz shows the lag growing', async (t) => {
    const holder = await createHolder(ca, { name: '副本暂停' });
    assert.ok(await eventually(async () => (await ocspStatus(holder)) === 'good'));
    // its shard's CRL signed (first request) and replayed, so the replica has one to answer with
    await crlSerials(holder.serial);
    const shard = (await getCertificate(ca.rt.storage.db, holder.serial))!.crl_shard;
    const onReplica = 'select 1 from shard_crls where ca_id = $1 and shard = $2';
    const params = [ca.rt.ca.issuing.record.id, shard];
    assert.ok(
      await eventually(async () => (await replicaAdmin.query(onReplica, params)).rowCount! > 0),
      'the replica has its shard CRL',
    );
    await replicaAdmin.query('select pg_wal_replay_pause()');
    try {
      await ca.rt.ca.revoke(holder.serial, 'keyCompromise', 'test');
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await ocspStatus(holder), 'good', 'the status comes from the replica, which has not replayed the revocation');
      assert.ok(!(await crlSerials(holder.serial)).includes(holder.serial), 'and so does the CRL');
      const lagging = await ready();
      assert.ok(lagging.replication!.lagBytes > 0, JSON.stringify(lagging));
      assert.ok(lagging.replication!.lagMs >= 1000, JSON.stringify(lagging));
      t.diagnostic(`paused: /readyz lagBytes=${lagging.replication!.lagBytes} lagMs=${lagging.replication!.lagMs}`);
    } finally {
      await replicaAdmin.query('select pg_wal_replay_resume()');
    }
    assert.ok(await eventually(async () => (await ocspStatus(holder)) === 'revoked'), 'revoked once replayed');
    assert.ok(await eventually(async () => (await ready()).replication?.lagBytes === 0), 'caught up: lag 0');
  });

  test('a whole renewal through the server works: no write goes to the read-only replica', async () => {
    const holder = await createHolder(ca, { name: '副本更新' });
    const portal = new PortalClient(base, new URL(ca.config.publicUrl).origin);
    let r = await portal.login(holder);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const order = (await portal.call<{ order: { id: string; amountFen: number } }>('POST', '/api/portal/orders', ORDER_FORM)).body
      .order;
    const pay = await portal.call<{ redirectUrl: string }>('POST', `/api/portal/orders/${order.id}/pay`);
    const u = new URL(pay.body.redirectUrl);
    const page = await (await fetch(`${base}${u.pathname}${u.search}`)).text();
    const tradeNo = /name="trade_no" value="([^"]+)"/.exec(page)![1]!;
    await fetch(`${base}/sandbox-pay/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `trade_no=${tradeNo}&bank=${encodeURIComponent('中国银行')}`,
    });
    assert.ok(await eventually(async () => (await ca.rt.renewals.order(order.id)).state === 'paid'), 'paid');
    const req = await holder.renewalRequest(order.id);
    r = await portal.call('POST', `/api/portal/orders/${order.id}/issue`, {
      csr: req.csr.toString('base64'),
      proof: req.proof.toString('base64'),
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    r = await portal.call('POST', `/api/portal/orders/${order.id}/installed`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal((r.body as { order: { state: string } }).order.state, 'completed');
    // the superseded certificate was revoked on the primary; the replica-backed responder follows
    assert.ok(await eventually(async () => (await ocspStatus(holder)) === 'revoked'));
    assert.doesNotMatch(server.out(), /read-only transaction|"level":50/, server.out());
    // and the replica connection really is read-only: a write there is refused
    await assert.rejects(replicaAdmin.query("insert into rate_limits values ('x', 0, 1)"), /read-only/);
  });
});
