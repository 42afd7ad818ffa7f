// `certdesk token …` and `certdesk agent` argument checks, run as the (built) CLI.
import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SoftToken } from '../src/agent/tokens/soft-token.js';
import { generateKeyPair, signatureAlgorithmFor, spkiOf } from '../src/pki/algorithms.js';
import { buildCsr } from '../src/pki/csr.js';
import { toPem } from '../src/pki/pem.js';
import { HOLDER_SUBJECT, issueFor, softHsmTokenWithCertificate } from './helpers/agent.js';
import { createTestCa, type TestCa } from './helpers/ca.js';
import { cli as runCli, type CliResult } from './helpers/cli.js';
import { requireTool } from './helpers/requirements.js';
import { createSoftHsm, type SoftHsm } from './helpers/softhsm.js';

const cli = (args: string[], env: NodeJS.ProcessEnv = {}): CliResult => runCli(args, { ...process.env, ...env });

describe('certdesk token / agent CLI', () => {
  let ca: TestCa;
  let dir: string;
  let hsm: SoftHsm | undefined;
  const env = { TOKEN_PIN: '246810', TOKEN_SO_PIN: '13572468', NEW_PIN: '654321' };

  before(async () => {
    ca = await createTestCa();
    dir = mkdtempSync(path.join(tmpdir(), 'certdesk-agent-cli-'));
  });
  after(async () => {
    await hsm?.cleanup();
    await ca?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('init-soft, import-soft, then token list shows what the UKey 管理 page shows', async () => {
    const file = path.join(dir, 'demo.json');
    const init = cli(
      ['token', 'init-soft', '--out', file, '--label', '企业测试', '--pin-env', 'TOKEN_PIN', '--so-pin-env', 'TOKEN_SO_PIN'],
      env,
    );
    assert.equal(init.status, 0, init.stderr);
    assert.match(init.stdout, /created soft token "企业测试" serial [0-9a-f]{16}/);
    assert.equal(cli(['token', 'init-soft', '--out', file, '--pin-env', 'TOKEN_PIN'], env).status, 1, 'does not overwrite');

    const { privateKey, publicKey } = generateKeyPair('ec-p256');
    const csr = await buildCsr({
      subject: HOLDER_SUBJECT,
      spki: spkiOf(publicKey),
      signatureAlgId: signatureAlgorithmFor('ec-p256').algId,
      sign: (d) => sign('sha256', d, privateKey),
    });
    const cert = await issueFor(ca, csr, { days: 30 });
    writeFileSync(path.join(dir, 'key.pem'), privateKey.export({ format: 'pem', type: 'pkcs8' }));
    writeFileSync(path.join(dir, 'cert.pem'), toPem('CERTIFICATE', cert));
    const imp = cli(
      [
        'token',
        'import-soft',
        '--file',
        file,
        '--key',
        path.join(dir, 'key.pem'),
        '--cert',
        path.join(dir, 'cert.pem'),
        '--label',
        'identity',
        '--pin-env',
        'TOKEN_PIN',
      ],
      env,
    );
    assert.equal(imp.status, 0, imp.stderr);

    const list = cli(['token', 'list', '--soft-token', file]);
    assert.equal(list.status, 0, list.stderr);
    for (const want of [
      'UKey「企业测试」',
      '名称 Name',
      '企业测试',
      '证书种类 Type',
      '单位身份证书',
      '唯一识别号 Unique ID',
      '001120438184130111',
      '颁发者 Issuer',
      '序列号 Serial',
      '有效期 Valid',
      '剩余天数 Days left',
      '可更新 open',
      'PIN 剩余次数 tries left: 6',
    ]) {
      assert.ok(list.stdout.includes(want), `token list shows ${want}:\n${list.stdout}`);
    }
    const json = JSON.parse(cli(['token', 'list', '--soft-token', file, '--json']).stdout) as {
      tokens: { certificates: { serial: string }[] }[];
    };
    assert.equal(json.tokens[0]!.certificates.length, 1);

    // lock it, then unlock with the SO PIN
    for (let i = 0; i < 6; i++) await assert.rejects(new SoftToken(file).login('000000'));
    assert.match(cli(['token', 'list', '--soft-token', file]).stdout, /0 \(locked\)|tries left: 0/);
    const unlock = cli(['token', 'unlock-soft', '--file', file, '--so-pin-env', 'TOKEN_SO_PIN', '--pin-env', 'NEW_PIN'], env);
    assert.equal(unlock.status, 0, unlock.stderr);
    await (await new SoftToken(file).login(env.NEW_PIN)).close();
  });

  it('token list reads PKCS#11 tokens without a PIN', { skip: requireTool('softhsm2') }, async () => {
    hsm = createSoftHsm({ tokens: ['placeholder'] });
    await softHsmTokenWithCertificate(ca, hsm, { tokenLabel: 'hw-ukey' });
    const list = cli(['token', 'list', '--pkcs11-module', hsm.module], hsm.env);
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /UKey「hw-ukey」 PKCS#11/);
    assert.match(list.stdout, /单位身份证书/);
    assert.match(list.stdout, /PIN 剩余次数 tries left: unknown/);
  });

  it('agent refuses bad arguments with a clear message', () => {
    const bad = cli(['agent', '--soft-token', 'x.json', '--allow-origin', 'https://portal.example/']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--allow-origin must be an origin/);
    const none = cli(['agent', '--allow-origin', 'https://portal.example']);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /--pkcs11-module .* or --soft-token/);
    const help = cli(['agent', '--help']);
    assert.doesNotMatch(help.stdout, /poll-ms|CRASH/);
    assert.match(help.stdout, /--keep-old/);
  });
});
