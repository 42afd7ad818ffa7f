// A certificate holder for tests: an in-process key pair, a certificate from the test CA for it,
// and the signatures the key assistant would make (login challenge, renewal CSR and proof).
import { ApiClient } from './http-client.js';
import { freePort } from './processes.js';
export { freePort };
import { randomBytes, sign, type KeyObject } from 'node:crypto';
import { sandboxKeys } from '../../src/payments/sandbox/keys.js';
import { signParams } from '../../src/payments/sandbox/signing.js';
import { SANDBOX_MERCHANT_ID } from '../../src/runtime.js';
import { recordPayment } from '../../src/ra/payment-ledger.js';
import { generateKeyPair, signatureAlgorithmFor, spkiOf } from '../../src/pki/algorithms.js';
import { buildCsr } from '../../src/pki/csr.js';
import type { NameAttribute } from '../../src/pki/name.js';
import { renewalProofMessage } from '../../src/pki/renewal-proof.js';
import { sm2SignSync } from '../../src/pki/sm2.js';
import { Sm2PrivateKey } from '../../src/pki/sm2-key.js';
import type { FastifyInstance } from 'fastify';
import { buildServer, type ServerOptions } from '../../src/api/server.js';
import { createTestCa, type TestCa } from './ca.js';

export interface TestHolder {
  key: KeyObject;
  /** the SM2 key (keyType 'sm2'), which signs with the default ID as a UKey does */
  sm2Key?: Sm2PrivateKey;
  certDer: Buffer;
  serial: string;
  subject: NameAttribute[];
  signLogin(challenge: string): Buffer;
  /** new key (of `keyType`: default the current one's), CSR signed by it, proof signed by the current key */
  renewalRequest(orderId: string, keyType?: 'ec-p256' | 'sm2'): Promise<NewKeyRequest & { proof: Buffer }>;
  /** renewalRequest's first half, which the assistant does on the holder's token before it asks the CA */
  newKeyRequest(keyType?: 'ec-p256' | 'sm2'): Promise<NewKeyRequest>;
  /** renewalRequest's second half: the current key's proof over the order and CSR */
  renewalProof(orderId: string, csr: Buffer): Buffer;
}

export interface NewKeyRequest {
  newKey: KeyObject;
  newSm2Key?: Sm2PrivateKey;
  csr: Buffer;
}

const ecSign = (key: KeyObject, data: Buffer): Buffer => sign('sha256', data, { key, dsaEncoding: 'der' });

/** A holder key pair and how it signs: ECDSA P-256, or SM2-with-SM3 with the default ID. */
function holderKey(keyType: 'ec-p256' | 'sm2') {
  if (keyType === 'sm2') {
    const sm2 = Sm2PrivateKey.generate();
    return { key: sm2.nativeKey(), sm2, spki: sm2.publicKey.toSpki(), sign: (d: Buffer) => sm2SignSync(sm2, d) };
  }
  const k = generateKeyPair('ec-p256');
  return { key: k.privateKey, sm2: undefined, spki: spkiOf(k.publicKey), sign: (d: Buffer) => ecSign(k.privateKey, d) };
}

export async function createHolder(
  ca: TestCa,
  opts: {
    name?: string;
    uniqueId?: string;
    days?: number;
    profile?: string;
    keyType?: 'ec-p256' | 'sm2';
    /** issues the holder's CSR some other way (e.g. an old-style certificate); default: the CA's issue() */
    issue?: (csr: Buffer) => Promise<{ der: Buffer; serial: string }>;
  } = {},
): Promise<TestHolder> {
  const name = opts.name ?? '企业测试';
  const keyType = opts.keyType ?? 'ec-p256';
  const own = holderKey(keyType);
  const subject: NameAttribute[] = [
    { type: 'C', value: 'CN' },
    { type: 'O', value: name },
    { type: 'CN', value: name },
  ];
  const csr = await buildCsr({ subject, spki: own.spki, signatureAlgId: signatureAlgorithmFor(keyType).algId, sign: own.sign });
  const issued = opts.issue
    ? await opts.issue(csr)
    : await ca.rt.ca
        .issue({
          csr,
          profileId: opts.profile ?? 'org-identity',
          days: opts.days ?? 30,
          uniqueId: opts.uniqueId ?? `UID${Math.floor(Math.random() * 1e12)}`,
          actor: 'test',
        })
        .then((r) => ({ der: r.der, serial: r.record.serial }));
  const newKeyRequest = async (newKeyType: 'ec-p256' | 'sm2' = keyType): Promise<NewKeyRequest> => {
    const k = holderKey(newKeyType);
    const csr = await buildCsr({ subject, spki: k.spki, signatureAlgId: signatureAlgorithmFor(newKeyType).algId, sign: k.sign });
    return { newKey: k.key, ...(k.sm2 ? { newSm2Key: k.sm2 } : {}), csr };
  };
  const renewalProof = (orderId: string, csr: Buffer): Buffer => own.sign(renewalProofMessage(orderId, csr));
  return {
    key: own.key,
    ...(own.sm2 ? { sm2Key: own.sm2 } : {}),
    certDer: issued.der,
    serial: issued.serial,
    subject,
    signLogin: (challenge) => own.sign(Buffer.from(challenge, 'utf8')),
    async renewalRequest(orderId, newKeyType = keyType) {
      const request = await newKeyRequest(newKeyType);
      return { ...request, proof: renewalProof(orderId, request.csr) };
    },
    newKeyRequest,
    renewalProof,
  };
}

/** A valid order page (请填写您的订单信息) for an offline or online renewal; tests spread and change it. */
export const ORDER_FORM = {
  termYears: 1,
  recipient: 'CA客服部',
  phone: '021-962600',
  address: '上海市虹口区四川北路1601室',
  postcode: '200080',
  paymentMethod: 'online',
};

/** The portal API client, as the holder's page calls it. */
export class PortalClient extends ApiClient {
  async login(holder: TestHolder): Promise<{ status: number; body: Record<string, unknown> }> {
    const ch = await this.call<{ challenge: string }>('POST', '/api/portal/login/challenge');
    const r = await this.call('POST', '/api/portal/login', {
      challenge: ch.body.challenge,
      signature: holder.signLogin(ch.body.challenge).toString('base64'),
      certificate: holder.certDer.toString('base64'),
    });
    if (r.status === 200) this.csrf = String(r.body.csrfToken);
    return r;
  }
}

/** Sends a payment notification signed with the sandbox platform key, as the gateway would. */
export async function sendSandboxNotification(
  ca: TestCa,
  base: string,
  order: { id: string; amountFen: number },
  overrides: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}${SANDBOX_NOTIFY_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: sandboxNotificationBody(ca, order, overrides),
  });
  return { status: res.status, text: await res.text() };
}

export const SANDBOX_NOTIFY_PATH = '/api/payments/notify/sandbox';

/** The form body of a sandbox payment notification for `order`, signed with the platform key. */
export function sandboxNotificationBody(
  ca: TestCa,
  order: { id: string; amountFen: number },
  overrides: Record<string, string> = {},
): string {
  const form: Record<string, string> = {
    notify_id: randomBytes(6).toString('hex'),
    merchant_id: SANDBOX_MERCHANT_ID,
    out_trade_no: order.id,
    trade_status: 'TRADE_SUCCESS',
    trade_no: `SBX${randomBytes(6).toString('hex').toUpperCase()}`,
    total_amount_fen: String(order.amountFen),
    gmt_payment: String(Date.now()),
    ...overrides,
  };
  form.sign = signParams(form, sandboxKeys(ca.dir).platformPrivate);
  return new URLSearchParams(form).toString();
}

export interface ServedCa {
  ca: TestCa;
  app: FastifyInstance;
  /** http://127.0.0.1:PORT */
  base: string;
  /** the portal origin browsers use (PUBLIC_URL's) */
  origin: string;
  close(): Promise<void>;
}

/** A test CA and the full HTTP server in this process, listening on a free loopback port. */
export async function serveTestCa(opts: Parameters<typeof createTestCa>[0] = {}, server: ServerOptions = {}): Promise<ServedCa> {
  const port = await freePort();
  const ca = await createTestCa({ ...opts, port });
  const { app } = await buildServer(ca.rt, { logger: false, ...server });
  await app.listen({ port, host: '127.0.0.1' });
  return {
    ca,
    app,
    base: `http://127.0.0.1:${port}`,
    origin: new URL(ca.config.publicUrl).origin,
    async close() {
      await app.close();
      await ca.cleanup();
    },
  };
}

/** Logs the holder in and orders a renewal paid by bank transfer, recorded as the statement import would. */
export async function paidBankOrder(
  served: ServedCa,
  holder: TestHolder,
): Promise<{ client: PortalClient; orderId: string; amountFen: number }> {
  const client = new PortalClient(served.base, served.origin);
  const login = await client.login(holder);
  if (login.status !== 200) throw new Error(`login: ${login.status} ${JSON.stringify(login.body)}`);
  const created = await client.call<{ order: { id: string; amountFen: number } }>('POST', '/api/portal/orders', {
    ...ORDER_FORM,
    paymentMethod: 'bank',
  });
  if (created.status !== 201) throw new Error(`order: ${created.status} ${JSON.stringify(created.body)}`);
  const { id, amountFen } = created.body.order;
  const paid = await recordPayment(served.ca.rt.storage, {
    orderId: id,
    channel: 'bank',
    tradeNo: `B${id}`,
    amountFen,
    paidAt: Date.now(),
    raw: {},
    actor: 'test',
  });
  if (paid !== 'recorded') throw new Error(`payment of ${id}: ${paid}`);
  return { client, orderId: id, amountFen };
}

/** The path and query of the signed "返回商户" link on the sandbox gateway's payment-successful page. */
export function sandboxReturnPath(paidPage: string): string {
  const href = /id="return" href="([^"]+)"/.exec(paidPage)?.[1];
  if (!href) throw new Error('no return link on the sandbox page');
  const u = new URL(href.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))));
  return `${u.pathname}${u.search}`;
}
