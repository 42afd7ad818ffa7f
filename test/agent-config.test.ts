// The CA's configuration of the key assistant (certdesk agent-config sign) and the checks the
// assistant makes before it starts; versions as the portal compares them.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AgentConfigError, loadAgentCaConfig, parseAgentCaConfig } from '../src/agent/config/ca-config.js';
import { signDetached } from '../src/ca/detached-signing.js';
import { fromPem } from '../src/pki/pem.js';
import { DetachedSignatureError, verifyDetachedSignature } from '../src/pki/detached-signature.js';
import { isOlderVersion } from '../src/shared/versions.js';
import { startAgentProcess } from './helpers/agent.js';
import { createTestCa, type TestCa } from './helpers/ca.js';
import { cli } from './helpers/cli.js';

describe('the assistant’s signed configuration', () => {
  let ca: TestCa;
  let dir: string;
  let file: string;
  before(async () => {
    ca = await createTestCa({ env: { PUBLIC_URL: 'https://portal.example' } });
    dir = mkdtempSync(path.join(tmpdir(), 'certdesk-agent-config-'));
    file = path.join(dir, 'certdesk-agent.json');
    const r = cli(['agent-config', 'sign', '--out', file, '--pkcs11-module', '/usr/lib/vendor/libukey.so'], ca.env);
    assert.equal(r.status, 0, r.stderr);
  });
  after(async () => {
    await ca?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('holds the portal origin, the CA root and the vendor modules, and checks out', () => {
    const c = loadAgentCaConfig(file);
    assert.deepEqual(c.allowOrigins, ['https://portal.example']);
    assert.deepEqual(c.pkcs11Modules, ['/usr/lib/vendor/libukey.so']);
    assert.equal(c.caRoots.length, 1);
    assert.ok(fromPem(c.caRoots[0]!, 'CERTIFICATE').equals(fromPem(ca.rootPem, 'CERTIFICATE')));
    const v = cli(['agent-config', 'verify', file], ca.env);
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /good signature/);
  });

  it('names the field that is wrong', () => {
    const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    assert.throws(
      () => parseAgentCaConfig(JSON.stringify({ ...json, allowOrigins: ['https://portal.example/path'] }), 'c.json'),
      (e: Error) => e instanceof AgentConfigError && /allowOrigins\.0 must be an origin/.test(e.message),
    );
    assert.throws(
      () => parseAgentCaConfig('{', 'c.json'),
      (e: Error) => e instanceof AgentConfigError && /c\.json is not valid JSON/.test(e.message),
    );
  });

  it('detached signatures: a changed byte, an untrusted root, an expired signer are refused', async () => {
    const body = Buffer.from('some download');
    const p7s = await signDetached(ca.rt.ca.issuing, body);
    const roots = [fromPem(ca.rootPem, 'CERTIFICATE')];
    assert.equal(verifyDetachedSignature(p7s, body, roots).signer.serialHex, ca.rt.ca.issuing.cert.serialHex);
    const refused = (f: () => unknown, why: RegExp): void =>
      assert.throws(f, (e: Error) => e instanceof DetachedSignatureError && why.test(e.message));
    refused(() => verifyDetachedSignature(p7s, Buffer.from('some downloaD'), roots), /changed after the CA signed it/);
    const stranger = await createTestCa();
    const strangerRoot = fromPem(stranger.rootPem, 'CERTIFICATE');
    await stranger.cleanup();
    refused(() => verifyDetachedSignature(p7s, body, [strangerRoot]), /not issued by a trusted CA root/);
    refused(() => verifyDetachedSignature(p7s, body, roots, new Date(Date.now() + 100 * 365 * 86_400_000)), /not valid now/);
    refused(() => verifyDetachedSignature(Buffer.from('junk'), body, roots), /not a readable CMS/);
  });

  it('`certdesk agent --config` refuses an edited file and starts with the signed one', async () => {
    const edited = path.join(dir, 'edited.json');
    writeFileSync(edited, readFileSync(file, 'utf8').replace('https://portal.example', 'https://evil.example'));
    writeFileSync(`${edited}.p7s`, readFileSync(`${file}.p7s`));
    const bad = cli(['agent', '--port', '0', '--config', edited], ca.env);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /not signed by its CA .*changed after the CA signed it/);
    const agent = await startAgentProcess(['--config', file], { origins: [] });
    try {
      const ok = await fetch(`${agent.url}/v1/tokens`, { headers: { Origin: 'https://portal.example' } });
      assert.equal(ok.status, 200, 'the configured origin');
    } finally {
      await agent.stop();
    }
  });
});

describe('versions', () => {
  it('compares MAJOR.MINOR.PATCH numerically; an unknown version counts as older', () => {
    assert.equal(isOlderVersion('0.1.0', '0.1.0'), false);
    assert.equal(isOlderVersion('0.9.0', '0.10.0'), true);
    assert.equal(isOlderVersion('1.0.0', '0.10.3'), false);
    assert.equal(isOlderVersion(undefined, '0.1.0'), true);
    assert.equal(isOlderVersion('dev', '0.1.0'), true);
  });
});
