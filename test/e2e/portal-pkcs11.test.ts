// The holder portal end to end with the key assistant on SoftHSM2 tokens through PKCS#11 (the other
// portal-*.test.ts files use soft tokens): 登录系统, 更新证书 paid at the sandbox gateway, and 更新证书
// paid by 银行转帐 confirmed with `certdesk orders confirm-payment`, each through to 更新成功. Each
// time the token then holds exactly the new certificate and its private key (the old pair retired),
// as pkcs11-tool lists it; the certificate read off the token with pkcs11-tool verifies with
// `openssl verify -x509_strict` against the test CA, and the pair signs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseCertificate } from '../../src/pki/certificate.js';
import { AgentClient, parsePkcs11ToolObjects } from '../helpers/agent.js';
import { withScreenshots, type BrowserSession } from '../helpers/browser.js';
import { requireTool } from '../helpers/requirements.js';
import { openssl } from '../helpers/ca.js';
import {
  loginWith,
  normSerial,
  openBrowser,
  payByBankTransfer,
  payOnline,
  PIN,
  runUpdate,
  startPortalEnv,
  workingPairsOf,
  type PortalEnv,
} from './portal-env.js';

const ONLINE = 'UKey-P11-ONLINE';
const BANK = 'UKey-P11-BANK';

const skip = requireTool('chromium', 'softhsm2');

describe('portal renewal with the key assistant on SoftHSM2 (PKCS#11)', { skip }, () => {
  let env: PortalEnv;
  let b: BrowserSession;

  before(async () => {
    env = await startPortalEnv({
      tokenKind: 'pkcs11',
      keys: [
        { label: ONLINE, days: 30 },
        { label: BANK, days: 30 },
      ],
    });
    b = await openBrowser();
  });

  test('the assistant lists the SoftHSM tokens under the ids the environment reports', async () => {
    const ids = (await new AgentClient(env.agent.url, env.origin).tokens()).map((t) => t.id);
    for (const label of [ONLINE, BANK]) assert.ok(ids.includes(env.keys.get(label)!.tokenId), `${label} in ${ids.join(', ')}`);
  });

  after(async () => {
    await b?.close();
    await env?.close();
  });

  /** The server's view of the order: completed, paid once. */
  async function assertOrderCompleted(orderId: string): Promise<void> {
    const order = await b.page.evaluate(
      (id) =>
        fetch(`/api/portal/orders/${id}`).then(
          (r) => r.json() as Promise<{ order: { state: string; events: { type: string }[] } }>,
        ),
      orderId,
    );
    assert.equal(order.order.state, 'completed');
    assert.equal(order.order.events.filter((e) => e.type === 'paid').length, 1);
  }

  /** The token holds exactly the new certificate and its key pair; OpenSSL verifies the certificate. */
  async function assertRenewedOnToken(label: string, newSerial: string): Promise<void> {
    const key = env.keys.get(label)!;
    const hsm = env.hsm!;
    const oldSerial = normSerial(parseCertificate(key.certificate).serialHex);
    assert.notEqual(newSerial, oldSerial, 'a new certificate');

    // through the PKCS#11 layer: one certificate whose private key is there and signs
    const { pairs, objects } = await workingPairsOf(env, label);
    assert.equal(pairs.length, 1, 'exactly one working pair on the token');
    const pair = pairs[0]!;
    assert.equal(normSerial(pair.serial), newSerial);
    assert.equal(pair.label, 'identity');

    // pkcs11-tool's view: the new certificate, its private and public key, nothing else
    const tool = parsePkcs11ToolObjects(hsm.pkcs11Tool(['--list-objects', '--login', '--pin', PIN, '--token-label', label]));
    assert.deepEqual(
      tool.map((o) => `${o.class}:${o.label}:${o.id}`).sort(),
      ['certificate', 'private-key', 'public-key'].map((c) => `${c}:identity:${pair.id.toLowerCase()}`),
      'pkcs11-tool lists exactly the new certificate and its key pair',
    );
    assert.deepEqual(
      tool.map((o) => `${o.class}:${o.label}:${o.id}`).sort(),
      objects.map((o) => `${o.class}:${o.label}:${o.id.toLowerCase()}`).sort(),
      'pkcs11-tool agrees with the PKCS#11 layer',
    );

    // the certificate as pkcs11-tool reads it off the token, verified by OpenSSL against the test CA
    const der = path.join(env.dir, `${label}-${newSerial}.der`);
    const pem = path.join(env.dir, `${label}-${newSerial}.pem`);
    hsm.pkcs11Tool([
      '--read-object',
      '--type',
      'cert',
      '--id',
      pair.id,
      '--login',
      '--pin',
      PIN,
      '--token-label',
      label,
      '--output-file',
      der,
    ]);
    assert.ok(readFileSync(der).equals(pair.certificate), 'pkcs11-tool reads the same certificate');
    const conv = openssl(['x509', '-inform', 'DER', '-in', der, '-out', pem]);
    assert.equal(conv.status, 0, conv.out);
    const { root, chain } = env.ca.files();
    const v = openssl(['verify', '-x509_strict', '-CAfile', root, '-untrusted', chain, pem]);
    assert.equal(v.status, 0, v.out);
    assert.match(v.out, /: OK/);
  }

  test('登录系统 with a SoftHSM token, pay at the sandbox gateway, 更新成功; the token holds the new pair', async () => {
    await withScreenshots(b, 'pkcs11-online', async () => {
      const { page } = b;
      await loginWith(page, env, ONLINE);
      assert.equal(await page.getByTestId('holder-name').textContent(), '企业测试');
      await page.getByTestId('confirm-card').getByText('请确认您证书的信息').waitFor();
      await page.getByTestId('confirm-cert').click();
      const orderId = await payOnline(page);
      const newSerial = await runUpdate(page, orderId, { shots: 'e2e-pkcs11' });
      await assertOrderCompleted(orderId);
      await assertRenewedOnToken(ONLINE, newSerial);
    });
  });

  test('银行转帐 confirmed by the CLI on another SoftHSM token, 更新成功; the token holds the new pair', async () => {
    await withScreenshots(b, 'pkcs11-offline', async () => {
      const { page } = b;
      await page.getByTestId('logout').click();
      await page.getByText('您已退出系统').waitFor();
      await loginWith(page, env, BANK);
      await page.getByTestId('confirm-cert').click();
      const { orderId } = await payByBankTransfer(page, env, { bankReference: 'ICBC-E2E-P11-0001' });
      const newSerial = await runUpdate(page, orderId);
      await assertOrderCompleted(orderId);
      await assertRenewedOnToken(BANK, newSerial);
      // the first token is untouched by the second renewal
      const { pairs } = await workingPairsOf(env, ONLINE);
      assert.equal(pairs.length, 1);
      assert.deepEqual(b.errors, []);
    });
  });
});
