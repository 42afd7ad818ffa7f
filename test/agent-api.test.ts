// The key assistant's local API against a running `certdesk agent`: who may call it (origin
// allowlist, Private Network Access preflights, Host check), the PIN typed only into its own page,
// retries and the refused last try, login signatures on a soft token and on SoftHSM2, certificate
// writes that match no key, key insertion/removal events, PIN changes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PinGuard } from '../src/agent/sessions.js';
import { SoftToken } from '../src/agent/tokens/soft-token.js';
import { createSoftToken } from '../src/agent/tokens/soft-token.js';
import { parseCsr } from '../src/pki/csr.js';
import { buildLoginChallenge, verifyLoginSignature } from '../src/pki/login-challenge.js';
import {
  AgentClient,
  issueFor,
  PORTAL,
  softHsmTokenWithCertificate,
  softTokenWithCertificate,
  startAgentProcess,
  type AgentProcess,
} from './helpers/agent.js';
import { createTestCa, type TestCa } from './helpers/ca.js';
import { requireTool } from './helpers/requirements.js';
import { createSoftHsm, type SoftHsm } from './helpers/softhsm.js';

const PIN = '246810';
const OTHER = 'https://other.example';
const EVIL = 'https://evil.example';
/** why the PKCS#11 parts cannot run here (under CI=true a missing SoftHSM2 fails instead) */
const noHsm = requireTool('softhsm2');

/** A raw request with a chosen Host header (fetch does not let one set it). */
function rawGet(
  port: number,
  p: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: p, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads Server-Sent Events from /v1/events. */
async function openEvents(
  url: string,
  origin: string,
): Promise<{ next(type: string, ms?: number): Promise<unknown>; close(): void }> {
  const ac = new AbortController();
  const res = await fetch(`${url}/v1/events`, { headers: { Origin: origin }, signal: ac.signal });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('access-control-allow-origin'), origin);
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  const queue: { type: string; data: unknown }[] = [];
  const pump = async (): Promise<void> => {
    const { value, done } = await reader.read();
    if (done) throw new Error('event stream closed');
    buf += dec.decode(value, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const type = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (type && data) queue.push({ type, data: JSON.parse(data) });
    }
  };
  return {
    async next(type, ms = 5000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const idx = queue.findIndex((e) => e.type === type);
        if (idx >= 0) return queue.splice(idx, 1)[0]!.data;
        if (Date.now() > deadline) throw new Error(`no ${type} event within ${ms} ms`);
        await Promise.race([pump(), new Promise((r) => setTimeout(r, 250))]);
      }
    },
    close: () => ac.abort(),
  };
}

describe('key assistant API', () => {
  let ca: TestCa;
  let hsm: SoftHsm | undefined;
  let dir: string;
  let agent: AgentProcess;
  let c: AgentClient;
  const soft: Record<string, { file: string; tokenId: string; certId: string }> = {};
  let p11: { tokenId: string; certId: string; label: string } | undefined;
  let p11Gone: { tokenId: string; label: string } | undefined;
  let lateFile: string;

  before(async () => {
    ca = await createTestCa();
    dir = mkdtempSync(path.join(tmpdir(), 'certdesk-agent-api-'));
    for (const name of ['main', 'final', 'moved', 'pin']) {
      const file = path.join(dir, `${name}.json`);
      const t = await softTokenWithCertificate(ca, file, { pin: PIN, tokenLabel: `企业测试-${name}` });
      soft[name] = { file, tokenId: t.tokenId, certId: t.certId };
    }
    lateFile = path.join(dir, 'late.json');
    const args = [
      '--soft-token',
      soft.main!.file,
      '--soft-token',
      soft.final!.file,
      '--soft-token',
      soft.moved!.file,
      '--soft-token',
      soft.pin!.file,
      '--soft-token',
      lateFile,
      '--allow-origin',
      OTHER,
      '--pkcs11-module',
      '/nonexistent/libvendor-pkcs11.so',
    ];
    let env: NodeJS.ProcessEnv = {};
    if (!noHsm) {
      hsm = createSoftHsm({ tokens: ['placeholder'] });
      const t = await softHsmTokenWithCertificate(ca, hsm, { tokenLabel: 'ukey-1' });
      p11 = { tokenId: t.tokenId, certId: t.certId, label: 'ukey-1' };
      const g = await softHsmTokenWithCertificate(ca, hsm, { tokenLabel: 'ukey-gone' });
      p11Gone = { tokenId: g.tokenId, label: 'ukey-gone' };
      args.push('--pkcs11-module', hsm.module);
      env = hsm.env;
    }
    agent = await startAgentProcess(args, { env });
    c = new AgentClient(agent.url);
  });

  after(async () => {
    await agent?.stop();
    await hsm?.cleanup();
    await ca?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the keys it sees (label, serial, kind, PIN tries) and their certificates with parsed details', async (t) => {
    if (noHsm) t.skip(`the PKCS#11 token is not checked: ${noHsm}`);
    const tokens = await c.tokens();
    const main = tokens.find((t) => t.id === soft.main!.tokenId)!;
    assert.equal(main.kind, 'soft');
    assert.equal(main.label, '企业测试-main');
    assert.deepEqual(main.pin, { retriesLeft: 6, maxRetries: 6, countLow: false, finalTry: false, locked: false });
    assert.ok(!tokens.some((t) => t.source === lateFile), 'an absent soft token file is not listed');
    const problems = (await c.call('GET', '/v1/tokens')).body.problems as { source: string; message: string }[];
    assert.ok(
      problems.some((p) => p.source === '/nonexistent/libvendor-pkcs11.so' && /cannot load/.test(p.message)),
      'a vendor module that does not load is reported, and the other keys still work',
    );
    if (p11) {
      const hw = tokens.find((t) => t.id === p11!.tokenId)!;
      assert.equal(hw.kind, 'pkcs11');
      assert.equal(hw.label, 'ukey-1');
      assert.equal((hw.pin as { retriesLeft: unknown }).retriesLeft, null, 'PKCS#11 tokens do not say how many tries are left');
    }
    for (const id of [soft.main!.tokenId, ...(p11 ? [p11.tokenId] : [])]) {
      const r = await c.call('GET', `/v1/tokens/${id}/certificates`);
      assert.equal(r.status, 200);
      const [cert] = r.body.certificates as Record<string, unknown>[];
      assert.equal(cert!.name, '企业测试');
      assert.equal((cert!.profile as { name: string }).name, '单位身份证书');
      assert.equal(cert!.uniqueId, '001120438184130111');
      assert.match(String(cert!.issuerName), /Issuing/i);
      assert.ok((cert!.daysLeft as number) >= 29);
      assert.equal((cert!.renewal as { open: boolean }).open, true);
    }
    // read-only GETs also work without an Origin (curl, the CLI)
    assert.equal((await c.call('GET', '/v1/tokens', { origin: null })).status, 200);
    assert.equal((await c.call('GET', '/v1/tokens/soft-0000000000000000')).status, 404);
  });

  it('refuses origins not on the allowlist: 403, no CORS grant, no Private Network Access grant', async () => {
    const evil = await c.call('GET', '/v1/tokens', { origin: EVIL });
    assert.equal(evil.status, 403);
    assert.equal(evil.body.error, 'origin_not_allowed');
    assert.equal(evil.headers.get('access-control-allow-origin'), null);
    const ok = await c.call('GET', '/v1/tokens');
    assert.equal(ok.headers.get('access-control-allow-origin'), PORTAL);
    assert.match(ok.headers.get('vary') ?? '', /Origin/);

    const preflight = (origin: string) =>
      c.call('OPTIONS', '/v1/requests', {
        origin,
        headers: {
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'content-type',
          'Access-Control-Request-Private-Network': 'true',
        },
      });
    const good = await preflight(PORTAL);
    assert.equal(good.status, 204);
    assert.equal(good.headers.get('access-control-allow-origin'), PORTAL);
    assert.equal(good.headers.get('access-control-allow-private-network'), 'true');
    assert.match(good.headers.get('access-control-allow-headers') ?? '', /Content-Type/);
    const bad = await preflight(EVIL);
    assert.equal(bad.status, 403);
    assert.equal(bad.headers.get('access-control-allow-origin'), null);
    assert.equal(bad.headers.get('access-control-allow-private-network'), null);

    const create = await c.call('POST', '/v1/requests', {
      origin: EVIL,
      body: { op: 'change-pin', tokenId: soft.main!.tokenId },
    });
    assert.equal(create.status, 403);
    const noOrigin = await c.call('POST', '/v1/requests', {
      origin: null,
      body: { op: 'change-pin', tokenId: soft.main!.tokenId },
    });
    assert.equal(noOrigin.status, 403);
    assert.equal(noOrigin.body.error, 'origin_required');
    const sse = await c.call('GET', '/v1/events', { origin: EVIL });
    assert.equal(sse.status, 403);
    // 'null' origins (sandboxed frames, file:) are not on any allowlist
    assert.equal((await c.call('GET', '/v1/tokens', { origin: 'null' })).status, 403);
  });

  it('checks the Host header (DNS rebinding) and serves its pages with a strict CSP and no framing', async () => {
    const rebound = await rawGet(agent.port, '/v1/tokens', { Host: `evil.example:${agent.port}` });
    assert.equal(rebound.status, 403);
    assert.equal(JSON.parse(rebound.body).error, 'host_not_allowed');
    assert.equal((await rawGet(agent.port, '/v1/tokens', { Host: `127.0.0.1:${agent.port + 1}` })).status, 403);
    assert.equal((await rawGet(agent.port, '/v1/tokens', { Host: `localhost:${agent.port}` })).status, 200);
    assert.equal((await rawGet(agent.port, '/v1/tokens', { Host: `[::1]:${agent.port}` })).status, 200);
    for (const p of ['/', '/approve']) {
      const page = await rawGet(agent.port, p, { Host: `127.0.0.1:${agent.port}` });
      assert.equal(page.status, 200);
      assert.equal(page.headers['x-frame-options'], 'DENY');
      const csp = String(page.headers['content-security-policy']);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.match(csp, /script-src 'self'/);
      assert.doesNotMatch(page.body, /\son[a-z]+=/i, 'no inline event handlers');
      assert.doesNotMatch(page.body, /<script>(?!<\/script>)/, 'no inline scripts');
    }
    assert.match((await rawGet(agent.port, '/', { Host: `127.0.0.1:${agent.port}` })).body, /UKey 管理/);
  });

  it('login on a soft token: the PIN goes only to the assistant’s page; wrong PIN says tries left; the signature verifies', async () => {
    const { text } = buildLoginChallenge({ origin: PORTAL });
    const req = await c.createRequest({
      op: 'login',
      tokenId: soft.main!.tokenId,
      certificateId: soft.main!.certId,
      challenge: text,
    });
    assert.equal(req.status, 201, JSON.stringify(req.body));
    assert.match(req.approveUrl, new RegExp(`^http://127\\.0\\.0\\.1:${agent.port}/approve\\?request=`));
    assert.ok(!('pin' in req.body));

    // the portal cannot post a PIN, nor read what the page reads
    const id = new URL(req.approveUrl).searchParams.get('request')!;
    const key = new URL(req.approveUrl).searchParams.get('key')!;
    assert.equal((await c.call('POST', `/ui/api/requests/${id}/approve`, { body: { key, pin: PIN } })).status, 403);
    assert.equal((await c.call('GET', `/ui/api/requests/${id}?key=${key}`)).status, 403);
    // nor can anyone without the approval key
    assert.equal(
      (await c.call('POST', `/ui/api/requests/${id}/approve`, { origin: agent.url, body: { key: 'x', pin: PIN } })).status,
      404,
    );

    const wrong = await c.approve(req.approveUrl, '999999');
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, 'pin_incorrect');
    assert.equal(wrong.body.retriesLeft, 5);
    assert.match(String(wrong.body.message), /5 tries left/);
    // what the page shows: who asks, for what, which key and certificate, tries left
    const info = wrong.info.body as Record<string, unknown>;
    assert.equal(info.origin, PORTAL);
    assert.equal(info.op, 'login');
    assert.deepEqual(info.title, { zh: '登录', en: 'Log in' });
    assert.equal((info.token as { label: string }).label, '企业测试-main');
    assert.equal((info.display as { certificate: { name: string } }).certificate.name, '企业测试');

    const before = await c.request(req.requestId, req.sessionToken);
    assert.equal(before.body.status, 'pending');
    const ok = await c.approve(req.approveUrl, PIN);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.requestStatus, 'done');

    const r = await c.request(req.requestId, req.sessionToken);
    assert.equal(r.body.status, 'done');
    const result = r.body.result as { signature: string; certificate: string; algorithm: string; challenge: string };
    assert.equal(result.algorithm, 'ecdsa-with-SHA256');
    assert.equal(
      verifyLoginSignature(text, Buffer.from(result.signature, 'base64'), Buffer.from(result.certificate, 'base64')),
      true,
    );
    assert.equal(
      (await c.tokens()).find((t) => t.id === soft.main!.tokenId)!.pin.retriesLeft,
      6,
      'a good PIN restores the counter',
    );

    // the session token is bound to its origin and request
    assert.equal((await c.call('GET', `/v1/requests/${req.requestId}`)).status, 401);
    assert.equal((await c.call('GET', `/v1/requests/${req.requestId}`, { token: 'forged' })).status, 401);
    assert.equal((await c.call('GET', `/v1/requests/${req.requestId}`, { token: req.sessionToken, origin: OTHER })).status, 403);
    // a finished request cannot be approved again
    assert.equal((await c.approve(req.approveUrl, PIN)).status, 409);
  });

  it('refuses to sign a challenge for another origin, or an expired one', async () => {
    const forOther = buildLoginChallenge({ origin: OTHER }).text;
    const r = await c.createRequest({
      op: 'login',
      tokenId: soft.main!.tokenId,
      certificateId: soft.main!.certId,
      challenge: forOther,
    });
    assert.equal(r.status, 422);
    assert.equal(r.body.error, 'challenge_origin_mismatch');
    const old = buildLoginChallenge({ origin: PORTAL, now: new Date(Date.now() - 3600_000) }).text;
    const e = await c.createRequest({
      op: 'login',
      tokenId: soft.main!.tokenId,
      certificateId: soft.main!.certId,
      challenge: old,
    });
    assert.equal(e.body.error, 'challenge_expired');
    const bad = await c.createRequest({ op: 'login', tokenId: soft.main!.tokenId, certificateId: 'zz', challenge: old });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'certificateId');
  });

  it('with one PIN try left it refuses PIN entry from the web and explains how to unlock', async () => {
    const t = soft.final!;
    const { text } = buildLoginChallenge({ origin: PORTAL });
    const req = await c.createRequest({ op: 'login', tokenId: t.tokenId, certificateId: t.certId, challenge: text });
    assert.equal(req.status, 201);
    for (let i = 0; i < 4; i++) {
      await assert.rejects(new SoftToken(t.file).login('000000'));
    }
    const w = await c.approve(req.approveUrl, '999999');
    assert.equal(w.body.retriesLeft, 1);
    const refused = await c.approve(req.approveUrl, PIN);
    assert.equal(refused.status, 423);
    assert.equal(refused.body.error, 'pin_final_try');
    assert.match(String(refused.body.message), /service point/);
    assert.equal(
      (refused.info.body.refusal as { error: string }).error,
      'pin_final_try',
      'the page shows the refusal instead of a PIN field',
    );
    const again = await c.createRequest({ op: 'login', tokenId: t.tokenId, certificateId: t.certId, challenge: text });
    assert.equal(again.status, 423);
    const listed = (await c.tokens()).find((x) => x.id === t.tokenId)!;
    assert.equal(listed.pin.finalTry, true);
    assert.equal(listed.pin.retriesLeft, 1, 'the refused attempts did not touch the counter');
  });

  it('refuses a certificate that matches no key on the token before writing anything', async () => {
    const t = soft.main!;
    const { csr } = await (async () => {
      const { generateKeyPair, spkiOf, signatureAlgorithmFor } = await import('../src/pki/algorithms.js');
      const { buildCsr } = await import('../src/pki/csr.js');
      const { sign } = await import('node:crypto');
      const k = generateKeyPair('ec-p256');
      return {
        csr: await buildCsr({
          subject: [
            { type: 'CN', value: 'stranger' },
            { type: 'O', value: 'x' },
          ],
          spki: spkiOf(k.publicKey),
          signatureAlgId: signatureAlgorithmFor('ec-p256').algId,
          sign: (d) => sign('sha256', d, k.privateKey),
        }),
      };
    })();
    const foreign = await issueFor(ca, csr);
    const before = (await c.call('GET', `/v1/tokens/${t.tokenId}/objects`)).body.objects;
    const req = await c.createRequest({ op: 'write-certificate', tokenId: t.tokenId, certificate: foreign.toString('base64') });
    assert.equal(req.status, 201);
    const a = await c.approve(req.approveUrl, PIN);
    assert.equal(a.status, 422);
    assert.equal(a.body.error, 'certificate_no_matching_key');
    assert.equal(a.body.requestStatus, 'failed');
    assert.deepEqual((await c.call('GET', `/v1/tokens/${t.tokenId}/objects`)).body.objects, before);
    const r = await c.request(req.requestId, req.sessionToken);
    assert.equal(r.body.status, 'failed');
    assert.equal((r.body.error as unknown as { error: string }).error, 'certificate_no_matching_key');
  });

  it('generates a key pair on the key and makes a CSR signed by it', async () => {
    const t = soft.main!;
    const g = await c.createRequest({ op: 'generate-key', tokenId: t.tokenId, label: 'extra', keyType: 'ec-p256' });
    assert.equal((await c.approve(g.approveUrl, PIN)).status, 200);
    const key = (await c.request(g.requestId, g.sessionToken)).body.result as { id: string };
    const m = await c.createRequest({
      op: 'make-csr',
      tokenId: t.tokenId,
      keyId: key.id,
      subject: { CN: '企业测试', O: '企业测试', C: 'CN' },
    });
    assert.equal(m.status, 201, JSON.stringify(m.body));
    assert.equal((await c.approve(m.approveUrl, PIN)).status, 200);
    const csr = Buffer.from(((await c.request(m.requestId, m.sessionToken)).body.result as { csr: string }).csr, 'base64');
    assert.equal(parseCsr(csr).subject.find((a) => a.type === 'CN')?.value, '企业测试');
    const reserved = await c.createRequest({ op: 'generate-key', tokenId: t.tokenId, label: 'pending:x', keyType: 'ec-p256' });
    assert.equal(reserved.status, 400);
    assert.equal(reserved.body.field, 'label');
  });

  it('a key removed before approval gives a clear error; the request waits for it', async () => {
    const t = soft.moved!;
    const req = await c.createRequest({ op: 'change-pin', tokenId: t.tokenId });
    renameSync(t.file, `${t.file}.away`);
    const a = await c.approve(req.approveUrl, PIN, { newPin: '112233' });
    assert.equal(a.status, 409);
    assert.equal(a.body.error, 'token_not_present');
    assert.equal(a.body.requestStatus, 'pending');
    renameSync(`${t.file}.away`, t.file);
    const b = await c.approve(req.approveUrl, PIN, { newPin: '112233' });
    assert.equal(b.status, 200, JSON.stringify(b.body));
    await (await new SoftToken(t.file).login('112233')).close();
  });

  it('changes the PIN from the UKey 管理 page (own origin only)', async () => {
    const t = soft.pin!;
    const p = `/ui/api/tokens/${t.tokenId}/change-pin`;
    assert.equal((await c.call('POST', p, { body: { oldPin: PIN, newPin: '556677' } })).status, 403, 'not from the portal');
    const wrong = await c.call('POST', p, { origin: agent.url, body: { oldPin: '000000', newPin: '556677' } });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.retriesLeft, 5);
    const ok = await c.call('POST', p, {
      origin: agent.url,
      headers: { 'Sec-Fetch-Site': 'same-origin' },
      body: { oldPin: PIN, newPin: '556677' },
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    await (await new SoftToken(t.file).login('556677')).close();
    const cross = await c.call('POST', p, {
      origin: agent.url,
      headers: { 'Sec-Fetch-Site': 'cross-site' },
      body: { oldPin: '556677', newPin: PIN },
    });
    assert.equal(cross.status, 403);
  });

  it('login on SoftHSM2 (PKCS#11): wrong PIN is reported, the right one signs', { skip: noHsm }, async () => {
    const { text } = buildLoginChallenge({ origin: PORTAL });
    const req = await c.createRequest({ op: 'login', tokenId: p11!.tokenId, certificateId: p11!.certId, challenge: text });
    assert.equal(req.status, 201, JSON.stringify(req.body));
    const wrong = await c.approve(req.approveUrl, '000000');
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, 'pin_incorrect');
    assert.match(String(wrong.body.message), /incorrect PIN/);
    const ok = await c.approve(req.approveUrl, '123456');
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const result = (await c.request(req.requestId, req.sessionToken)).body.result as { signature: string; certificate: string };
    assert.equal(
      verifyLoginSignature(text, Buffer.from(result.signature, 'base64'), Buffer.from(result.certificate, 'base64')),
      true,
    );
  });

  it('pushes key insertion and removal to the page (Server-Sent Events)', async (t) => {
    if (noHsm) t.skip(`the PKCS#11 removal is not checked: ${noHsm}`);
    const ev = await openEvents(agent.url, PORTAL);
    try {
      const first = (await ev.next('tokens')) as { tokens: { id: string }[] };
      assert.ok(first.tokens.some((t) => t.id === soft.main!.tokenId));
      const info = await createSoftToken(lateFile, { label: 'inserted', pin: PIN });
      const ins = (await ev.next('token-inserted')) as { token: { id: string; label: string } };
      assert.equal(ins.token.id, `soft-${info.serial}`);
      rmSync(lateFile);
      const rem = (await ev.next('token-removed')) as { token: { id: string } };
      assert.equal(rem.token.id, `soft-${info.serial}`);
      if (hsm && p11Gone) {
        execFileSync('softhsm2-util', ['--delete-token', '--token', p11Gone.label], { env: hsm.env, stdio: 'ignore' });
        const gone = (await ev.next('token-removed')) as { token: { id: string } };
        assert.equal(gone.token.id, p11Gone.tokenId);
      }
    } finally {
      ev.close();
    }
  });

  it('spaces out PIN attempts on one key', () => {
    const g = new PinGuard(1000);
    const token = {
      id: 'soft-1',
      kind: 'soft',
      label: 'x',
      serial: '1',
      manufacturer: '',
      model: '',
      source: '',
      pin: { retriesLeft: 5, maxRetries: 6, countLow: true, finalTry: false, locked: false },
    } as const;
    g.check(token);
    assert.throws(() => g.check(token), /wait/);
    g.check({ ...token, id: 'soft-2' });
    assert.throws(() => g.check({ ...token, pin: { ...token.pin, locked: true, retriesLeft: 0 } }), /locked/);
  });
});
