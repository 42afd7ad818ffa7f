// The key assistant as holders install it (issue 14): the single executable built by
// `npm run package:agent` runs alone on a machine without Node, carries the PKCS#11 addon, starts
// only with a configuration its CA signed, and the Debian package installs and removes cleanly.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AGENT_VERSION } from '../src/agent/version.js';
import {
  AgentClient,
  PORTAL,
  REPO,
  softHsmTokenWithCertificate,
  softTokenWithCertificate,
  startAgentProcess,
} from './helpers/agent.js';
import { packagedAgent, type AgentPackage } from './helpers/agent-package.js';
import { createTestCa, openssl, type TestCa } from './helpers/ca.js';
import { cli } from './helpers/cli.js';
import { requireTool } from './helpers/requirements.js';
import { createSoftHsm, type SoftHsm } from './helpers/softhsm.js';

/** Only what a holder's machine has: no node on PATH, no NODE_* variables, nothing of this repo. */
const bareEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ PATH: '/usr/bin:/bin', ...extra });

describe('the packaged key assistant (npm run package:agent)', { skip: requireTool('softhsm2', 'dpkg') }, () => {
  let pkg: AgentPackage;
  let ca: TestCa;
  let hsm: SoftHsm;
  let dir: string;
  let softToken: string;

  before(async () => {
    pkg = packagedAgent();
    ca = await createTestCa();
    hsm = createSoftHsm({ tokens: ['spare'] });
    await softHsmTokenWithCertificate(ca, hsm, { tokenLabel: 'UKey-HSM' });
    dir = mkdtempSync(path.join(tmpdir(), 'certdesk-agentpkg-'));
    softToken = path.join(dir, 'keys', 'soft-token.json');
    execFileSync('mkdir', ['-p', path.dirname(softToken)]);
    await softTokenWithCertificate(ca, softToken, { pin: '246810', tokenLabel: 'UKey-Soft' });
  });
  after(async () => {
    await hsm?.cleanup();
    await ca?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has the version of package.json', () => {
    assert.equal(AGENT_VERSION, JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).version);
    assert.equal(pkg.version, AGENT_VERSION);
  });

  it('runs alone in an empty directory without Node and lists a SoftHSM2 token and a soft token', () => {
    const alone = mkdtempSync(path.join(dir, 'alone-'));
    const exe = path.join(alone, 'certdesk-agent');
    copyFileSync(pkg.binary, exe);
    execFileSync('chmod', ['755', exe]);
    const version = spawnSync(exe, ['--version'], { cwd: alone, env: bareEnv(), encoding: 'utf8' });
    assert.equal(version.stdout.trim(), AGENT_VERSION, version.stderr);
    const list = [exe, 'list', '--json', '--pkcs11-module', hsm.module, '--soft-token', softToken];
    const env = bareEnv({ SOFTHSM2_CONF: hsm.conf });
    // This machine has Node; as root it is hidden from the run (a private mount namespace with
    // /dev/null over the node executable), so the binary shows it needs none.
    let r = spawnSync(
      'unshare',
      [
        '-m',
        'sh',
        '-c',
        `mount --bind /dev/null ${process.execPath} && ! ${process.execPath} --version 2>/dev/null && exec "$@"`,
        'sh',
        ...list,
      ],
      { cwd: alone, env, encoding: 'utf8' },
    );
    if (r.status !== 0 && /unshare|mount/.test(r.stderr)) {
      process.stderr.write(`note: could not hide ${process.execPath} (${r.stderr.trim()}); ran with the bare environment only\n`);
      r = spawnSync(list[0]!, list.slice(1), { cwd: alone, env, encoding: 'utf8' });
    }
    assert.equal(r.status, 0, r.stderr);
    const tokens = (JSON.parse(r.stdout) as { tokens: { label: string; kind: string; certificates: { name: string }[] }[] })
      .tokens;
    const hsmToken = tokens.find((t) => t.label === 'UKey-HSM');
    const soft = tokens.find((t) => t.label === 'UKey-Soft');
    assert.equal(hsmToken?.kind, 'pkcs11', 'the SoftHSM2 token, through the embedded pkcs11js addon');
    assert.equal(hsmToken.certificates.length, 1);
    assert.equal(soft?.kind, 'soft');
    assert.match(soft.certificates[0]!.name, /企业测试/);
    // the addon came out of the executable into a private directory named after its hash
    const uid = process.getuid!();
    const extracted = path.join(tmpdir(), `certdesk-agent-${uid}`);
    assert.equal(statSync(extracted).mode & 0o077, 0, 'only this user can write where native code is loaded from');
  });

  it('carries no CA, RA, SA, API or portal code', () => {
    const meta = JSON.parse(readFileSync(path.join(REPO, 'dist-agent/build/meta.json'), 'utf8')) as {
      inputs: Record<string, unknown>;
    };
    const ours = Object.keys(meta.inputs).filter((f) => f.startsWith('src/'));
    assert.ok(ours.includes('src/agent/cli/main.ts'));
    assert.deepEqual(
      ours.filter((f) => !/^src\/(agent|pki|pkcs11|shared)\//.test(f)),
      [],
    );
    const databases = Object.keys(meta.inputs).filter((f) => /node_modules\/(better-sqlite3|pg|kysely|pdfkit)\//.test(f));
    assert.deepEqual(databases, [], 'no database or PDF code either');
  });

  describe('with the CA’s signed configuration beside it', () => {
    let install: string;
    let exe: string;
    before(() => {
      install = mkdtempSync(path.join(dir, 'install-'));
      exe = path.join(install, 'certdesk-agent');
      copyFileSync(pkg.binary, exe);
      execFileSync('chmod', ['755', exe]);
      const r = cli(
        [
          'agent-config',
          'sign',
          '--out',
          path.join(install, 'certdesk-agent.json'),
          '--allow-origin',
          PORTAL,
          '--pkcs11-module',
          hsm.module,
        ],
        ca.env,
      );
      assert.equal(r.status, 0, r.stderr);
    });

    it('is a detached signature OpenSSL verifies against the CA root', () => {
      const { root } = ca.files();
      const r = openssl([
        'cms',
        '-verify',
        '-binary',
        '-inform',
        'DER',
        '-purpose',
        'any',
        '-out',
        '/dev/null',
        '-in',
        path.join(install, 'certdesk-agent.json.p7s'),
        '-content',
        path.join(install, 'certdesk-agent.json'),
        '-CAfile',
        root,
      ]);
      assert.equal(r.status, 0, r.out);
    });

    it('serves the origins and modules the CA configured, and says its version at GET /v1', async () => {
      const agent = await startAgentProcess([], {
        executable: exe,
        origins: [],
        cwd: install,
        env: bareEnv({ SOFTHSM2_CONF: hsm.conf, LOG_LEVEL: 'warn' }),
      });
      try {
        const v1 = await new AgentClient(agent.url).call('GET', '/v1');
        assert.deepEqual(v1.body, { name: 'certdesk-agent', apiVersion: 1, version: AGENT_VERSION });
        const tokens = await new AgentClient(agent.url, PORTAL).call('GET', '/v1/tokens');
        assert.equal(tokens.status, 200);
        assert.ok(
          (tokens.body as { tokens: { label: string }[] }).tokens.some((t) => t.label === 'UKey-HSM'),
          'the module from the configuration',
        );
        const other = await new AgentClient(agent.url, 'https://evil.example').call('GET', '/v1/tokens');
        assert.equal(other.status, 403);
        const page = await fetch(agent.url + '/');
        assert.match(await page.text(), /UKey/, 'its own page, from the executable');
      } finally {
        await agent.stop();
      }
    });

    const refuses = (why: RegExp, prepare: (file: string) => void) => async () => {
      const other = mkdtempSync(path.join(dir, 'bad-'));
      for (const f of ['certdesk-agent', 'certdesk-agent.json', 'certdesk-agent.json.p7s'])
        copyFileSync(path.join(install, f), path.join(other, f));
      execFileSync('chmod', ['755', path.join(other, 'certdesk-agent')]);
      prepare(path.join(other, 'certdesk-agent.json'));
      const r = spawnSync(path.join(other, 'certdesk-agent'), ['--port', '0'], {
        env: bareEnv(),
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(r.status, 1, `exits 1, got ${r.status}: ${r.stdout}`);
      assert.match(r.stderr, /refusing to start/);
      assert.match(r.stderr, why);
      assert.doesNotMatch(r.stdout, /listening/);
    };

    it(
      'refuses to start when an origin in the file was changed',
      refuses(/changed after the CA signed it/, (f) =>
        writeFileSync(f, readFileSync(f, 'utf8').replace(PORTAL, 'https://evil.example')),
      ),
    );
    it(
      'refuses to start without the signature',
      refuses(/has no signature/, (f) => rmSync(`${f}.p7s`)),
    );
    it('refuses a configuration signed by another CA', async () => {
      const stranger = await createTestCa();
      try {
        await refuses(/not issued by a trusted CA root/, (f) => {
          const own = JSON.parse(readFileSync(f, 'utf8')) as { caRoots: string[] };
          const r = cli(['agent-config', 'sign', '--out', f, '--allow-origin', 'https://evil.example'], stranger.env);
          assert.equal(r.status, 0, r.stderr);
          // the stranger's signature, with the genuine CA's root in the file
          const forged = JSON.parse(readFileSync(f, 'utf8')) as { caRoots: string[] };
          forged.caRoots = own.caRoots;
          writeFileSync(f, JSON.stringify(forged, null, 2) + '\n');
        })();
      } finally {
        await stranger.cleanup();
      }
    });
  });
});

// Installs into this machine's /opt and /usr (root only; CI runs as root) and removes it again.
const notRoot = process.getuid?.() === 0 ? false : 'installing a Debian package needs root';

describe('the Debian package (dist-agent/certdesk-agent_<version>_amd64.deb)', { skip: requireTool('dpkg') }, () => {
  let pkg: AgentPackage;
  before(() => {
    pkg = packagedAgent();
  });

  it('holds the binary, a systemd user unit, an XDG autostart entry and the UKey 管理 desktop entry', () => {
    const info = execFileSync('dpkg-deb', ['--field', pkg.deb, 'Package', 'Version', 'Architecture'], { encoding: 'utf8' });
    assert.match(info, /Package: certdesk-agent/);
    assert.match(info, new RegExp(`Version: ${AGENT_VERSION.replaceAll('.', '\\.')}`));
    assert.match(info, /Architecture: amd64/);
    const files = execFileSync('dpkg-deb', ['--contents', pkg.deb], { encoding: 'utf8' });
    for (const f of [
      './opt/certdesk-agent/certdesk-agent',
      './usr/bin/certdesk-agent -> ../../opt/certdesk-agent/certdesk-agent',
      './usr/lib/systemd/user/certdesk-agent.service',
      './etc/xdg/autostart/certdesk-agent.desktop',
      './usr/share/applications/certdesk-agent-ukey.desktop',
    ])
      assert.ok(files.includes(f), `${f} in the package`);
  });

  it('installs with apt, enables the user service for every login, runs, and removes cleanly', { skip: notRoot }, () => {
    const apt = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', pkg.deb], {
      encoding: 'utf8',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    try {
      assert.equal(apt.status, 0, apt.stderr || apt.stdout);
      assert.equal(
        spawnSync('/usr/bin/certdesk-agent', ['--version'], { encoding: 'utf8', env: bareEnv() }).stdout.trim(),
        AGENT_VERSION,
      );
      assert.equal(
        readlinkSync('/etc/systemd/user/default.target.wants/certdesk-agent.service'),
        '/usr/lib/systemd/user/certdesk-agent.service',
        'postinst enabled the user unit for all users (systemctl --global enable)',
      );
      const verify = spawnSync('systemd-analyze', ['verify', '/usr/lib/systemd/user/certdesk-agent.service'], {
        encoding: 'utf8',
      });
      assert.equal(verify.status, 0, `systemd-analyze verify: ${verify.stderr}`);
      const desktop = readFileSync('/usr/share/applications/certdesk-agent-ukey.desktop', 'utf8');
      assert.match(desktop, /^Name=UKey 管理$/m);
      assert.match(desktop, /^Exec=xdg-open http:\/\/127\.0\.0\.1:51234\/$/m);
      assert.match(
        readFileSync('/etc/xdg/autostart/certdesk-agent.desktop', 'utf8'),
        /^Exec=.*\/opt\/certdesk-agent\/certdesk-agent run/m,
      );
      // systemctl --user needs a running systemd user manager (and systemd as PID 1): said when missing.
      const status = spawnSync('systemctl', ['--user', 'status', 'certdesk-agent'], { encoding: 'utf8' });
      const pid1 = readFileSync('/proc/1/comm', 'utf8').trim();
      if (pid1 === 'systemd' && status.status !== 1) assert.match(status.stdout, /certdesk-agent\.service/);
      else process.stderr.write(`note: systemctl --user status not run here (PID 1 is ${pid1}): ${status.stderr.trim()}\n`);
    } finally {
      const purge = spawnSync('apt-get', ['purge', '-y', 'certdesk-agent'], {
        encoding: 'utf8',
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
      assert.equal(purge.status, 0, purge.stderr);
    }
    for (const f of [
      '/opt/certdesk-agent',
      '/usr/bin/certdesk-agent',
      '/usr/lib/systemd/user/certdesk-agent.service',
      '/etc/xdg/autostart/certdesk-agent.desktop',
      '/etc/systemd/user/default.target.wants/certdesk-agent.service',
    ])
      assert.ok(!existsSync(f), `${f} removed`);
    assert.notEqual(spawnSync('dpkg', ['-s', 'certdesk-agent']).status, 0, 'not installed any more');
  });
});
