// The key assistant in tests: start `certdesk agent` as a child process (so it can be SIGKILLed), talk
// to it as the portal does (an allowed Origin, approval requests, session tokens) and as its own
// approval page does (the PIN form), and drive a renewal to the end across crashes.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import assert from 'node:assert/strict';
import { randomBytes, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { RENEWAL_STEPS } from '../../src/agent/install/journal.js';
import type { RenewalView } from '../../src/agent/install/renewal.js';
import { TokenError } from '../../src/agent/tokens/driver.js';
import { Pkcs11Driver } from '../../src/agent/tokens/pkcs11-driver.js';
import { createSoftToken, importToSoftToken, SoftToken } from '../../src/agent/tokens/soft-token.js';
import {
  closeModule,
  findKeyPairs,
  generateKeyPair as generateP11Key,
  listObjects as listP11Objects,
  openTokenSession,
  readCertificates as readP11Certificates,
  writeCertificate as writeP11Certificate,
} from '../../src/pkcs11/index.js';
import { generateKeyPair, keyTypeOfSpki, signatureAlgorithmFor, spkiOf, verifyWithAlgId } from '../../src/pki/algorithms.js';
import { parseCertificate } from '../../src/pki/certificate.js';
import * as der from '../../src/pki/der.js';
import { certificateUsage } from '../../src/pki/key-usage.js';
import { sm2Encrypt } from '../../src/pki/sm2-encrypt.js';
import { Sm2PublicKey } from '../../src/pki/sm2-key.js';
import { buildCsr } from '../../src/pki/csr.js';
import { verifyRenewalProof } from '../../src/pki/renewal-proof.js';
import { createTestCa, type TestCa } from './ca.js';
import { CERTDESK, ROOT as REPO } from './cli.js';
import type { ApiClient } from './http-client.js';
import { requireTool } from './requirements.js';
import { createSoftHsm, type SoftHsm, type SoftHsmToken } from './softhsm.js';

/** The repository root (one definition, in the leaf module cli.ts, so helper import cycles cannot see it uninitialised). */
export { REPO };
export const PORTAL = 'https://portal.example';

export interface AgentProcess {
  port: number;
  url: string;
  proc: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM and wait (no-op when it already exited) */
  stop(): Promise<void>;
}

/**
 * Runs the built `certdesk agent --port 0 …` — or, with `executable`, the packaged binary
 * (`certdesk-agent run …`, test/helpers/agent-package.ts) — and waits until it listens. `origins`
 * are passed as --allow-origin (default the test portal; [] when the CA's configuration gives them).
 */
export async function startAgentProcess(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; pinIntervalMs?: number; executable?: string; origins?: string[]; cwd?: string } = {},
): Promise<AgentProcess> {
  const proc = spawn(
    opts.executable ?? process.execPath,
    [
      ...(opts.executable ? ['run'] : [CERTDESK, 'agent']),
      '--port',
      '0',
      '--poll-ms',
      '200',
      '--pin-interval-ms',
      String(opts.pinIntervalMs ?? 0),
      ...(opts.origins ?? [PORTAL]).flatMap((o) => ['--allow-origin', o]),
      ...args,
    ],
    { cwd: opts.cwd ?? REPO, env: { ...process.env, LOG_LEVEL: 'warn', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL'); // not left running behind the failed start
      reject(new Error(`agent did not start in 30 s: ${err}`));
    }, 30_000);
    const check = (): void => {
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stdout!.on('data', check);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`agent exited (${code ?? signal}) before listening: ${err}`));
    });
  });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    proc,
    stderr: () => err,
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** Awaits `p` and checks it fails with a TokenError of this code; returns the error. */
export async function expectTokenError(p: Promise<unknown>, code: string): Promise<TokenError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof TokenError, `expected TokenError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected TokenError ${code}`);
}

/** The agent process died under the request (fault injection). */
export class AgentGone extends Error {
  constructor(cause: unknown) {
    super(`the agent is gone: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'AgentGone';
  }
}

export interface Reply {
  status: number;
  body: Record<string, unknown> & { error?: string; message?: string };
  headers: Headers;
}

export class AgentClient {
  constructor(
    readonly url: string,
    readonly origin: string | null = PORTAL,
  ) {}

  /** One HTTP call; `origin: null` sends no Origin header. */
  async call(
    method: string,
    p: string,
    o: { body?: unknown; token?: string; origin?: string | null; headers?: Record<string, string> } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = { ...o.headers };
    const origin = o.origin === undefined ? this.origin : o.origin;
    if (origin) headers.Origin = origin;
    if (o.token) headers.Authorization = `Bearer ${o.token}`;
    if (o.body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(this.url + p, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
    } catch (e) {
      throw new AgentGone(e);
    }
    let body: Reply['body'] = {};
    try {
      const text = await res.text();
      body = text ? (JSON.parse(text) as Reply['body']) : {};
    } catch (e) {
      if ((e as Error).name !== 'SyntaxError') throw new AgentGone(e);
    }
    return { status: res.status, body, headers: res.headers };
  }

  async tokens(): Promise<
    Array<Record<string, unknown> & { id: string; serial: string; label: string; pin: Record<string, unknown> }>
  > {
    const r = await this.call('GET', '/v1/tokens');
    if (r.status !== 200) throw new Error(`GET /v1/tokens: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.tokens as never;
  }

  async createRequest(
    body: Record<string, unknown>,
  ): Promise<Reply & { requestId: string; approveUrl: string; sessionToken: string }> {
    const r = await this.call('POST', '/v1/requests', { body });
    return {
      ...r,
      requestId: String(r.body.requestId),
      approveUrl: String(r.body.approveUrl),
      sessionToken: String(r.body.sessionToken),
    };
  }

  /** Does what the approval page does: loads itself and its data, then posts the PIN from its own origin. */
  async approve(approveUrl: string, pin: string, extra: Record<string, unknown> = {}): Promise<Reply & { info: Reply }> {
    const u = new URL(approveUrl);
    const id = u.searchParams.get('request') ?? '';
    const key = u.searchParams.get('key') ?? '';
    let page: Response;
    try {
      page = await fetch(approveUrl);
      await page.text();
    } catch (e) {
      throw new AgentGone(e);
    }
    if (page.status !== 200) throw new Error(`approval page: HTTP ${page.status}`);
    const info = await this.call('GET', `/ui/api/requests/${encodeURIComponent(id)}?key=${encodeURIComponent(key)}`, {
      origin: null,
    });
    const r = await this.call('POST', `/ui/api/requests/${encodeURIComponent(id)}/approve`, {
      origin: this.url,
      body: { key, pin, ...extra },
    });
    return { ...r, info };
  }

  async request(id: string, token: string): Promise<Reply> {
    return this.call('GET', `/v1/requests/${encodeURIComponent(id)}`, { token });
  }

  async renewal(orderId: string): Promise<RenewalView | undefined> {
    const r = await this.call('GET', `/v1/renewals/${encodeURIComponent(orderId)}`);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new Error(`GET renewal: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as unknown as RenewalView;
  }
}

/** What the portal hands the assistant for a renewal: the certificate, and for an SM2 dual pair the encryption half. */
export interface IssuedForRenewal {
  certificate: Buffer;
  encryption?: { certificate: Buffer; envelope: Buffer | null };
  /** 印章更新: the holder's seals re-made for the new certificate (SESeal DER) */
  seals?: Buffer[];
}

/**
 * Plays the portal through a renewal until it is done: asks for approval whenever the assistant has
 * work of its own to do (and after every restart), hands over the issued certificate, confirms.
 * Throws AgentGone when the assistant dies under it.
 */
export async function driveRenewal(
  c: AgentClient,
  o: {
    tokenId: string;
    orderId: string;
    pin: string;
    certificateId?: string;
    issue: (csr: Buffer, proof: Buffer) => Promise<Buffer | IssuedForRenewal>;
    onStep?: (step: string) => void;
  },
): Promise<RenewalView> {
  let token: string | undefined;
  for (let i = 0; i < 12; i++) {
    const st = await c.renewal(o.orderId);
    if (st) o.onStep?.(st.step);
    if (st?.status === 'done') return st;
    if (!token || !st || (st.step !== 'csr-built' && st.step !== 'labels-switched')) {
      const req = await c.createRequest({ op: 'renew', tokenId: o.tokenId, orderId: o.orderId, certificateId: o.certificateId });
      if (req.status !== 201) throw new Error(`POST /v1/requests renew: ${req.status} ${JSON.stringify(req.body)}`);
      const a = await c.approve(req.approveUrl, o.pin);
      if (a.status !== 200) throw new Error(`approve renew: ${a.status} ${JSON.stringify(a.body)}`);
      const done = await c.request(req.requestId, req.sessionToken);
      if (done.body.status !== 'done') throw new Error(`renew request: ${JSON.stringify(done.body)}`);
      token = req.sessionToken;
      continue;
    }
    if (st.step === 'csr-built') {
      const issued = await o.issue(Buffer.from(st.csr!, 'base64'), Buffer.from(st.proof!, 'base64'));
      const { certificate, encryption, seals } = Buffer.isBuffer(issued)
        ? { certificate: issued, encryption: undefined, seals: undefined }
        : issued;
      const r = await c.call('POST', `/v1/renewals/${o.orderId}/certificate`, {
        token,
        body: {
          certificate: certificate.toString('base64'),
          ...(encryption
            ? {
                encryption: {
                  certificate: encryption.certificate.toString('base64'),
                  envelope: encryption.envelope?.toString('base64') ?? null,
                },
              }
            : {}),
          ...(seals ? { seals: seals.map((d) => d.toString('base64')) } : {}),
        },
      });
      if (r.status === 202) token = undefined;
      else if (r.status !== 200) throw new Error(`POST certificate: ${r.status} ${JSON.stringify(r.body)}`);
      continue;
    }
    const r = await c.call('POST', `/v1/renewals/${o.orderId}/confirm`, { token });
    if (r.status === 202) token = undefined;
    else if (r.status !== 200) throw new Error(`POST confirm: ${r.status} ${JSON.stringify(r.body)}`);
  }
  throw new Error(`renewal ${o.orderId} did not finish`);
}

/** `driveRenewal`'s `issue` as the portal page does it: POST …/issue with the CSR and proof (200 expected). */
export function issueThroughPortal(portal: ApiClient, orderId: string): (csr: Buffer, proof: Buffer) => Promise<Buffer> {
  return async (csr, proof) => {
    const r = await portal.call<{ certificate: string }>('POST', `/api/portal/orders/${orderId}/issue`, {
      csr: csr.toString('base64'),
      proof: proof.toString('base64'),
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return Buffer.from(r.body.certificate, 'base64');
  };
}

/**
 * Logs in as the portal page does: a challenge from the server, signed in the assistant after the
 * PIN (the newest certificate of `tokenId`, default the first token); keeps the session's CSRF
 * token in `portal`.
 */
export async function loginWithAgent(
  portal: ApiClient,
  a: AgentClient,
  pin: string,
  tokenId?: string,
): Promise<{ tokenId: string; certificateId: string }> {
  const tokens = await a.tokens();
  const token = tokenId ? tokens.find((t) => t.id === tokenId) : tokens[0];
  const certs = await a.call('GET', `/v1/tokens/${token!.id}/certificates`);
  const cert = (certs.body.certificates as { id: string; notAfter: string }[]).sort((x, y) =>
    y.notAfter.localeCompare(x.notAfter),
  )[0]!;
  const ch = await portal.call<{ challenge: string }>('POST', '/api/portal/login/challenge');
  assert.equal(ch.status, 200, JSON.stringify(ch.body));
  const req = await a.createRequest({ op: 'login', tokenId: token!.id, certificateId: cert.id, challenge: ch.body.challenge });
  assert.equal(req.status, 201, JSON.stringify(req.body));
  assert.equal((await a.approve(req.approveUrl, pin)).status, 200);
  const result = (await a.request(req.requestId, req.sessionToken)).body.result as { certificate: string; signature: string };
  const r = await portal.call('POST', '/api/portal/login', {
    challenge: ch.body.challenge,
    signature: result.signature,
    certificate: result.certificate,
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  portal.csrf = String((r.body as Record<string, unknown>).csrfToken);
  return { tokenId: token!.id, certificateId: cert.id };
}

/** Objects as `pkcs11-tool --list-objects` prints them: class, label, id. */
export function parsePkcs11ToolObjects(out: string): { class: string; label: string; id: string }[] {
  const objs: { class: string; label: string; id: string }[] = [];
  let cur: { class: string; label: string; id: string } | undefined;
  for (const line of out.split('\n')) {
    const head = /^(Private Key|Public Key|Certificate|Data|Secret Key) Object/.exec(line);
    if (head) {
      cur = {
        class: {
          'Private Key': 'private-key',
          'Public Key': 'public-key',
          Certificate: 'certificate',
          Data: 'data',
          'Secret Key': 'secret-key',
        }[head[1]!]!,
        label: '',
        id: '',
      };
      objs.push(cur);
      continue;
    }
    const kv = /^\s+(label|ID):\s*(.*?)\s*$/.exec(line);
    if (kv && cur) {
      if (kv[1] === 'label') cur.label = kv[2]!;
      else cur.id = kv[2]!.toLowerCase();
    }
  }
  return objs;
}

// ---------------------------------------------------------------------------------------------
// Keys holding a certificate from a test CA, and checks on them made without the assistant.

export const HOLDER_SUBJECT = [
  { type: 'C', value: 'CN' },
  { type: 'O', value: '企业测试' },
  { type: 'CN', value: '企业测试' },
];
export const HOLDER_UNIQUE_ID = '001120438184130111';
const DAY = 86_400_000;

/** Issues an org-identity certificate for a CSR (idempotent per orderId, like the real portal). */
export async function issueFor(
  ca: TestCa,
  csr: Buffer,
  o: { orderId?: string; days?: number; notAfter?: Date; renews?: string } = {},
): Promise<Buffer> {
  const r = await ca.rt.ca.issue({
    csr,
    profileId: 'org-identity',
    subject: HOLDER_SUBJECT,
    uniqueId: HOLDER_UNIQUE_ID,
    orderId: o.orderId,
    renewsSerial: o.renews,
    notAfter: o.notAfter ?? new Date(Date.now() + (o.days ?? 365) * DAY),
    actor: 'test',
  });
  return r.der;
}

/** A soft token holding one key pair and a certificate expiring in `days` (renewal open at 30). */
export async function softTokenWithCertificate(
  ca: TestCa,
  file: string,
  o: { pin: string; tokenLabel?: string; label?: string; days?: number; notAfter?: Date; soPin?: string },
): Promise<{ tokenId: string; certId: string; certificate: Buffer }> {
  const info = await createSoftToken(file, { label: o.tokenLabel ?? '企业测试', pin: o.pin, soPin: o.soPin });
  const { privateKey, publicKey } = generateKeyPair('ec-p256');
  const csr = await buildCsr({
    subject: HOLDER_SUBJECT,
    spki: spkiOf(publicKey),
    signatureAlgId: signatureAlgorithmFor('ec-p256').algId,
    sign: (d) => cryptoSign('sha256', d, privateKey),
  });
  const certificate = await issueFor(ca, csr, { days: o.days ?? 30, notAfter: o.notAfter });
  const r = await importToSoftToken(file, { pin: o.pin, privateKey, certificate, label: o.label ?? 'identity' });
  return { tokenId: `soft-${info.serial}`, certId: r.certificateId!, certificate };
}

/** A new SoftHSM token holding one key pair generated on it and its certificate. */
export async function softHsmTokenWithCertificate(
  ca: TestCa,
  hsm: SoftHsm,
  o: { tokenLabel: string; label?: string; days?: number },
): Promise<{ tokenId: string; certId: string; certificate: Buffer; token: SoftHsmToken }> {
  const token = hsm.addToken(o.tokenLabel);
  const s = await openTokenSession({ module: hsm.module, token: o.tokenLabel, pin: token.pin });
  try {
    const key = await generateP11Key(s, { keyType: 'ec-p256', label: o.label ?? 'identity' });
    const csr = await buildCsr({
      subject: HOLDER_SUBJECT,
      spki: key.spki,
      signatureAlgId: signatureAlgorithmFor('ec-p256').algId,
      sign: (d) => key.sign(d),
    });
    const certificate = await issueFor(ca, csr, { days: o.days ?? 30 });
    await writeP11Certificate(s, { der: certificate, label: o.label ?? 'identity', id: key.id });
    return { tokenId: Pkcs11Driver.tokenId(hsm.module, token), certId: key.id, certificate, token };
  } finally {
    await s.close();
    closeModule(hsm.module);
  }
}

export interface WorkingPair {
  id: string;
  label: string;
  serial: string;
  certificate: Buffer;
}

function checkPair(certDer: Buffer, data: Buffer, sig: Buffer): boolean {
  const cert = parseCertificate(certDer);
  const { keyType, key } = keyTypeOfSpki(cert.spki);
  // SM2: SM2-with-SM3 with the default user ID (Node's own SM2 verify uses an empty ID)
  if (keyType === 'sm2') return verifyWithAlgId(der.parse(signatureAlgorithmFor('sm2').algId), key, data, sig);
  return cryptoVerify(signatureAlgorithmFor(keyType).digest, data, key, sig);
}

/**
 * Certificates on a soft token whose private key is there and really signs (checked by signing);
 * an SM2 dual pair's encryption certificates apart, in `encryption`: their key is there and decrypts
 * what is encrypted to the certificate.
 */
export async function workingPairsSoft(
  file: string,
  pin: string,
): Promise<{ pairs: WorkingPair[]; encryption: WorkingPair[]; objects: { class: string; label: string; id: string }[] }> {
  const s = await new SoftToken(file).login(pin);
  try {
    const keys = await s.listKeys();
    const pairs: WorkingPair[] = [];
    const encryption: WorkingPair[] = [];
    for (const c of await s.readCertificates()) {
      const cert = parseCertificate(c.der);
      const key = keys.find((k) => k.spki.equals(cert.spki));
      if (!key) continue;
      const data = randomBytes(32);
      const pair = { id: c.id, label: c.label, serial: cert.serialHex.toUpperCase(), certificate: c.der };
      if (certificateUsage(cert) === 'encryption') {
        const plain = await s.decrypt(key.id, sm2Encrypt(Sm2PublicKey.fromSpki(cert.spki), data));
        if (plain.equals(data)) encryption.push(pair);
      } else if (checkPair(c.der, data, await s.sign(key.id, data))) pairs.push(pair);
    }
    const objects = (await s.listObjects()).map((o) => ({ class: o.class, label: o.label, id: o.id }));
    return { pairs, encryption, objects };
  } finally {
    await s.close();
  }
}

/** The same through the shared PKCS#11 layer (not the assistant's driver), with a fresh module load. */
export async function workingPairsPkcs11(
  hsm: SoftHsm,
  tokenLabel: string,
  pin: string,
): Promise<{ pairs: WorkingPair[]; objects: { class: string; label: string; id: string }[] }> {
  closeModule(hsm.module);
  const s = await openTokenSession({ module: hsm.module, token: tokenLabel, pin });
  try {
    const keys = await findKeyPairs(s);
    const pairs: WorkingPair[] = [];
    for (const c of await readP11Certificates(s)) {
      const cert = parseCertificate(c.der);
      const key = keys.find((k) => k.spki.equals(cert.spki));
      if (!key) continue;
      const data = randomBytes(32);
      if (checkPair(c.der, data, await key.sign(data)))
        pairs.push({ id: c.id, label: c.label, serial: cert.serialHex.toUpperCase(), certificate: c.der });
    }
    const objects = (await listP11Objects(s)).map((o) => ({ class: o.class, label: o.label, id: o.id }));
    return { pairs, objects };
  } finally {
    await s.close();
    closeModule(hsm.module);
  }
}

// ---------------------------------------------------------------------------------------------
// The fault-injection suite: one per token kind (two test files, so they run side by side).

export function renewalFaultSuite(kind: 'soft' | 'pkcs11'): void {
  const skip = kind === 'pkcs11' ? requireTool('softhsm2') : false;
  const PIN = kind === 'soft' ? '246810' : '123456';

  describe(`journaled renewal on ${kind === 'soft' ? 'a soft token' : 'SoftHSM2 (PKCS#11)'}`, { skip }, () => {
    let ca: TestCa;
    let hsm: SoftHsm | undefined;
    let dir: string;
    let n = 0;

    before(async () => {
      ca = await createTestCa();
      dir = mkdtempSync(path.join(tmpdir(), `certdesk-agent-${kind}-`));
      if (kind === 'pkcs11') hsm = createSoftHsm({ tokens: ['unused'] });
    });
    after(async () => {
      await hsm?.cleanup();
      await ca?.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    interface Fixture {
      tokenId: string;
      oldCertificate: Buffer;
      args: string[];
      env: NodeJS.ProcessEnv;
      journalDir: string;
      /** working pairs and all objects, read without the assistant */
      inspect(): Promise<{ pairs: WorkingPair[]; objects: { class: string; label: string; id: string }[] }>;
      /** pkcs11-tool's view (PKCS#11 only) */
      tool?(): { class: string; label: string; id: string }[];
    }

    async function fixture(): Promise<Fixture> {
      const name = `k${++n}`;
      const journalDir = path.join(dir, `journal-${name}`);
      if (kind === 'soft') {
        const file = path.join(dir, `${name}.token.json`);
        const t = await softTokenWithCertificate(ca, file, { pin: PIN });
        return {
          tokenId: t.tokenId,
          oldCertificate: t.certificate,
          args: ['--soft-token', file],
          env: {},
          journalDir,
          inspect: () => workingPairsSoft(file, PIN),
        };
      }
      const h = hsm!;
      const t = await softHsmTokenWithCertificate(ca, h, { tokenLabel: name });
      return {
        tokenId: t.tokenId,
        oldCertificate: t.certificate,
        args: ['--pkcs11-module', h.module],
        env: h.env,
        journalDir,
        inspect: () => workingPairsPkcs11(h, name, PIN),
        tool: () => parsePkcs11ToolObjects(h.pkcs11Tool(['--token-label', name, '--login', '--pin', PIN, '--list-objects'])),
      };
    }

    const start = (f: Fixture, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<AgentProcess> =>
      startAgentProcess([...f.args, '--journal-dir', f.journalDir, ...extra], { env: { ...f.env, ...env } });

    /** The CA's side: checks the proof by the old key, issues once per order. */
    const issuer =
      (f: Fixture, orderId: string) =>
      async (csr: Buffer, proof: Buffer): Promise<Buffer> => {
        assert.ok(
          verifyRenewalProof({ orderId, csrDer: csr, signature: proof, oldCertificateDer: f.oldCertificate }),
          'the renewal proof verifies with the old certificate',
        );
        return issueFor(ca, csr, { orderId, renews: parseCertificate(f.oldCertificate).serialHex });
      };

    const oldSerial = (f: Fixture): string => parseCertificate(f.oldCertificate).serialHex.toUpperCase();

    /** (b) and (c): exactly the new pair (plus the old one under retired:<order> when kept). */
    async function assertFinal(f: Fixture, agent: AgentProcess, orderId: string, keepOld: boolean): Promise<void> {
      const c = new AgentClient(agent.url);
      const view = await c.renewal(orderId);
      assert.equal(view?.status, 'done');
      const newSerial = view!.newSerial!;
      const certs = await c.call('GET', `/v1/tokens/${f.tokenId}/certificates`);
      const reported = (certs.body.certificates as { serial: string; label: string; state: string }[])
        .map((x) => `${x.serial}:${x.label}:${x.state}`)
        .sort();
      const expected = [
        `${newSerial}:identity:current`,
        ...(keepOld ? [`${oldSerial(f)}:retired:${orderId}:retired`] : []),
      ].sort();
      assert.deepEqual(reported, expected, 'the assistant reports exactly the new certificate (and the kept old one)');
      const agentObjects = (
        (await c.call('GET', `/v1/tokens/${f.tokenId}/objects`)).body.objects as { class: string; label: string; id: string }[]
      )
        .map((o) => `${o.class}:${o.label}:${o.id}`)
        .sort();
      await agent.stop();

      const { pairs, objects } = await f.inspect();
      assert.deepEqual(
        pairs.map((p) => `${p.serial}:${p.label}`).sort(),
        [`${newSerial}:identity`, ...(keepOld ? [`${oldSerial(f)}:retired:${orderId}`] : [])].sort(),
      );
      const byClass = (cls: string): number => objects.filter((o) => o.class === cls).length;
      const want = keepOld ? 2 : 1;
      assert.equal(byClass('certificate'), want, 'certificates on the token');
      assert.equal(byClass('private-key'), want, 'private keys on the token');
      assert.equal(byClass('public-key'), want, 'public keys on the token');
      assert.ok(
        objects.every((o) => !o.label.startsWith('pending:')),
        'no pending object is left',
      );
      const publicObjects = objects
        .filter((o) => o.class !== 'private-key')
        .map((o) => `${o.class}:${o.label}:${o.id}`)
        .sort();
      assert.deepEqual(agentObjects, publicObjects, "the assistant's object list is the token's");
      if (f.tool) {
        const tool = f.tool();
        assert.deepEqual(
          tool.map((o) => `${o.class}:${o.label}:${o.id}`).sort(),
          objects.map((o) => `${o.class}:${o.label}:${o.id}`).sort(),
          'pkcs11-tool --list-objects agrees',
        );
        assert.deepEqual(
          tool
            .filter((o) => o.class !== 'private-key')
            .map((o) => `${o.class}:${o.label}:${o.id}`)
            .sort(),
          agentObjects,
          'pkcs11-tool agrees with GET /v1/tokens/:id/objects',
        );
      }
    }

    for (const step of RENEWAL_STEPS) {
      it(`SIGKILL right after "${step}": the key keeps a working certificate, and the renewal resumes to the end`, async () => {
        const f = await fixture();
        const orderId = `order-${kind}-${step}`;
        const issue = issuer(f, orderId);
        let agent = await start(f, [], { CERTDESK_AGENT_CRASH_AFTER: step });
        const seen: string[] = [];
        await assert.rejects(
          driveRenewal(new AgentClient(agent.url), { tokenId: f.tokenId, orderId, pin: PIN, issue, onStep: (s) => seen.push(s) }),
          AgentGone,
        );
        const exit = await agent.exited;
        assert.equal(exit.signal, 'SIGKILL', `the agent was killed (exit ${exit.code})`);

        // (a) with the assistant dead: a certificate whose private key is present and signs
        const mid = await f.inspect();
        assert.ok(mid.pairs.length >= 1, `after a crash at ${step} the key still holds a working certificate`);
        if (f.tool) assert.ok(f.tool().some((o) => o.class === 'certificate'));

        agent = await start(f);
        try {
          const c = new AgentClient(agent.url);
          assert.equal((await c.renewal(orderId))?.step, step, 'the journal records the step the crash followed');
          const done = await driveRenewal(c, { tokenId: f.tokenId, orderId, pin: PIN, issue });
          assert.equal(done.step, 'old-retired');
          assert.ok(done.history.filter((h) => h.step === step).length === 1, 'no step is journaled twice');
          await assertFinal(f, agent, orderId, false);
        } finally {
          await agent.stop();
        }
      });
    }

    it('without faults, with --keep-old: the old pair stays as retired:<order>', async () => {
      const f = await fixture();
      const orderId = `order-${kind}-keep`;
      const agent = await start(f, ['--keep-old']);
      try {
        const done = await driveRenewal(new AgentClient(agent.url), {
          tokenId: f.tokenId,
          orderId,
          pin: PIN,
          issue: issuer(f, orderId),
        });
        assert.deepEqual(
          done.history.map((h) => h.step),
          ['started', ...RENEWAL_STEPS],
        );
        await assertFinal(f, agent, orderId, true);
      } finally {
        await agent.stop();
      }
    });

    it('refuses a certificate that is not for the new key, before writing anything', async () => {
      const f = await fixture();
      const orderId = `order-${kind}-mismatch`;
      const agent = await start(f);
      try {
        const c = new AgentClient(agent.url);
        const req = await c.createRequest({ op: 'renew', tokenId: f.tokenId, orderId });
        assert.equal(req.status, 201, JSON.stringify(req.body));
        assert.equal((await c.approve(req.approveUrl, PIN)).status, 200);
        const before = (await c.call('GET', `/v1/tokens/${f.tokenId}/objects`)).body.objects;
        // the old certificate (another key) and a certificate for a stranger's key
        const stranger = (await opensslCsrDer()).csr;
        for (const wrong of [f.oldCertificate, await issueFor(ca, stranger)]) {
          const r = await c.call('POST', `/v1/renewals/${orderId}/certificate`, {
            token: req.sessionToken,
            body: { certificate: wrong.toString('base64') },
          });
          assert.equal(r.status, 422, JSON.stringify(r.body));
          assert.equal(r.body.error, 'certificate_key_mismatch');
          assert.match(String(r.body.message), /nothing was written/);
        }
        assert.equal((await c.renewal(orderId))?.step, 'csr-built', 'the journal did not move');
        assert.deepEqual((await c.call('GET', `/v1/tokens/${f.tokenId}/objects`)).body.objects, before, 'no object was written');
        // another origin cannot drive this renewal, even with an allowed origin and the right order
        const other = await c.call('POST', `/v1/renewals/${orderId}/confirm`, {
          token: req.sessionToken,
          origin: 'https://other.example',
        });
        assert.equal(other.status, 403);
      } finally {
        await agent.stop();
      }
    });
  });
}

async function opensslCsrDer(): Promise<{ csr: Buffer }> {
  const { privateKey, publicKey } = generateKeyPair('ec-p256');
  const csr = await buildCsr({
    subject: HOLDER_SUBJECT,
    spki: spkiOf(publicKey),
    signatureAlgId: signatureAlgorithmFor('ec-p256').algId,
    sign: (d) => cryptoSign('sha256', d, privateKey),
  });
  return { csr };
}
