// The newcomer's path, through the built CLI (`node bin/certdesk.js`, and `npx certdesk`): the demo
// and the README's restart command share the renewal journal; a taken port stops the demo before it
// creates anything; stopping `npx certdesk agent` leaves nothing listening; request logs stay out of
// the way at the default level; `serve` without a built web app says what to run.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AgentClient, REPO } from './helpers/agent.js';
import {
  BUILT_CLI,
  descendants,
  eventually,
  freePort,
  listening,
  processRefs,
  run,
  stillRunning,
  type Running,
} from './helpers/processes.js';

/** The environment of a newcomer's shell: no certdesk variables of the test runner's, a home of its own. */
function shellEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(DATA_DIR|DATABASE_URL|PORT|HOST|PUBLIC_URL|AGENT_URL|LOG_LEVEL|WEB_DIR|XDG_STATE_HOME|npm_.*)$/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, HOME: home, ...extra };
}

function occupy(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

/** A process's command line, for a failure message. */
const command = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 200);
  } catch {
    return '(gone)';
  }
};

describe('the newcomer’s path (built CLI)', () => {
  let dir: string;
  const running: Running[] = [];
  const start = (...a: Parameters<typeof run>): Running => {
    const r = run(...a);
    running.push(r);
    return r;
  };

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'certdesk-newcomer-'));
    assert.ok(existsSync(path.join(REPO, 'dist/cli/main.js')), 'the CLI is built (npm run build)');
  });
  after(async () => {
    for (const r of running) await r.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a renewal interrupted in the demo is there after a restart with the README command', async () => {
    const cwd = path.join(dir, 'clone');
    mkdirSync(cwd);
    const home = path.join(dir, 'home1');
    const port = await freePort();
    const agentPort = await freePort();
    const env = shellEnv(home, { PORT: String(port) });
    const demo = start(process.execPath, [BUILT_CLI, 'demo', '--agent-port', String(agentPort)], { cwd, env });
    const pin = (await demo.waitFor(/demo PIN: (\d{6})/, 'the demo banner'))[1]!;
    await demo.waitFor(/staff console \(后台\)/, 'the end of the banner');

    const portal = `http://localhost:${port}`;
    const c = new AgentClient(`http://127.0.0.1:${agentPort}`, portal);
    const [token] = await c.tokens();
    // the demo key holds two holders: the ECDSA one, and the SM2 dual pair (签名证书 + 加密证书)
    const listed = (await c.call('GET', `/v1/tokens/${encodeURIComponent(token!.id)}/certificates`)).body as {
      certificates: {
        id: string;
        keyType: string | null;
        usage: string;
        name: string;
        daysLeft: number;
        pairedWith: string | null;
      }[];
    };
    const sm2 = listed.certificates.filter((x) => x.keyType === 'sm2');
    assert.deepEqual(sm2.map((x) => x.usage).sort(), ['encryption', 'signing'], JSON.stringify(listed));
    assert.ok(sm2.every((x) => x.name === '国密演示单位' && x.daysLeft >= 28 && x.daysLeft <= 30));
    assert.equal(sm2.find((x) => x.usage === 'signing')!.pairedWith, sm2.find((x) => x.usage === 'encryption')!.id);
    const ecdsa = listed.certificates.find((x) => x.keyType === 'ec-p256')!;
    const orderId = 'R20270101-INTRPT';
    const req = await c.createRequest({ op: 'renew', tokenId: token!.id, orderId, certificateId: ecdsa.id });
    assert.equal(req.status, 201, JSON.stringify(req.body));
    const approved = await c.approve(req.approveUrl, pin);
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    assert.equal((await c.request(req.requestId, req.sessionToken)).body.status, 'done');
    // the new key and CSR are made; the portal would now have the CA issue — and the demo stops here
    assert.equal((await c.renewal(orderId))?.step, 'csr-built');
    await demo.stop();

    // README: npx certdesk agent --port 51234 --allow-origin http://localhost:8080 --soft-token data/demo/soft-token.json
    const agent = start(
      process.execPath,
      [BUILT_CLI, 'agent', '--port', String(agentPort), '--allow-origin', portal, '--soft-token', 'data/demo/soft-token.json'],
      { cwd, env },
    );
    await agent.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+/, 'the assistant');
    const view = await c.renewal(orderId);
    assert.equal(view?.step, 'csr-built', 'the restarted assistant sees the interrupted renewal');
    assert.equal(view?.status, 'in_progress');
    assert.ok(existsSync(path.join(cwd, 'data/demo/soft-token.journal/renewals', `${orderId}.json`)), 'next to the token');
    await agent.stop();
  });

  it('npm run demo on a taken port names the port and what to change, and creates nothing', async () => {
    const home = path.join(dir, 'home2');
    for (const which of ['server', 'assistant'] as const) {
      const cwd = path.join(dir, `taken-${which}`);
      mkdirSync(cwd);
      const port = await freePort();
      const agentPort = await freePort();
      const blocker = await occupy(which === 'server' ? port : agentPort);
      try {
        const demo = run(process.execPath, [BUILT_CLI, 'demo', '--agent-port', String(agentPort)], {
          cwd,
          env: shellEnv(home, { PORT: String(port) }),
        });
        const { code } = await demo.exited;
        const out = demo.out();
        assert.notEqual(code, 0, out);
        if (which === 'server') assert.match(out, new RegExp(`port ${port} .*in use.*PORT=`));
        else assert.match(out, new RegExp(`port ${agentPort} .*in use.*--agent-port`));
        assert.doesNotMatch(out, /password|EADDRINUSE/);
        assert.deepEqual(existsSync(path.join(cwd, 'data')) ? readdirSync(path.join(cwd, 'data')) : [], [], 'nothing created');
      } finally {
        blocker.close();
      }
    }
    const port = await freePort();
    const blocker = await occupy(port);
    try {
      const serve = run(process.execPath, [BUILT_CLI, 'serve', '--port', String(port)], {
        cwd: dir,
        env: shellEnv(home, { DATA_DIR: path.join(dir, 'serve-taken') }),
      });
      assert.equal((await serve.exited).code, 2);
      assert.match(serve.out(), new RegExp(`port ${port} .*in use.*PORT`));
      assert.equal(existsSync(path.join(dir, 'serve-taken')), false, 'nothing created');
    } finally {
      blocker.close();
    }
  });

  it('SIGTERM to the agent (node bin/certdesk.js, and npx certdesk) frees the port and leaves no process behind', async () => {
    const home = path.join(dir, 'home3');
    const tokenFile = path.join(dir, 'sig-token.json');
    const init = run(process.execPath, [BUILT_CLI, 'token', 'init-soft', '--out', tokenFile, '--pin-env', 'P'], {
      env: shellEnv(home, { P: '135790' }),
    });
    assert.equal((await init.exited).code, 0, init.out());
    const args = ['agent', '--port', '0', '--soft-token', tokenFile];
    const launchers: [string, string, string[], NodeJS.ProcessEnv][] = [
      ['node bin/certdesk.js', process.execPath, [BUILT_CLI, ...args], shellEnv(home)],
      // npx installs the project into its cache (a link): a cache of its own, offline, no scripts
      [
        'npx certdesk',
        'npx',
        ['certdesk', ...args],
        shellEnv(home, {
          npm_config_cache: path.join(dir, 'npm-cache'),
          npm_config_offline: 'true',
          npm_config_ignore_scripts: 'true',
          npm_config_update_notifier: 'false',
        }),
      ],
    ];
    for (const [name, cmd, argv, env] of launchers) {
      const p = start(cmd, argv, { env });
      const port = Number((await p.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)/, name))[1]);
      const tree = processRefs(descendants(p.proc.pid!));
      const left = () => tree.filter(stillRunning);
      assert.ok(await listening(port), `${name}: listening`);
      p.proc.kill('SIGTERM');
      await p.exited;
      try {
        assert.ok(
          await eventually(async () => !(await listening(port)) && left().length === 0),
          `${name}: port ${port} ${(await listening(port)) ? 'still listening' : 'freed'}; left: ${left()
            .map((t) => `${t.pid} ${command(t.pid)}`)
            .join(', ')}`,
        );
      } finally {
        for (const t of left()) process.kill(t.pid, 'SIGKILL'); // a failed check leaves no orphan
      }
    }
  });

  it('request logs only with LOG_LEVEL=debug; serve without a built web app says what to run', async () => {
    const home = path.join(dir, 'home4');
    const dataDir = path.join(dir, 'logs-data');
    const webDir = path.join(dir, 'no-web');
    mkdirSync(webDir);
    for (const level of ['default', 'debug'] as const) {
      const port = await freePort();
      const serve = start(process.execPath, [BUILT_CLI, 'serve', '--port', String(port)], {
        cwd: dir,
        env: shellEnv(home, { DATA_DIR: dataDir, WEB_DIR: webDir, ...(level === 'debug' ? { LOG_LEVEL: 'debug' } : {}) }),
      });
      await serve.waitFor(/certdesk is serving/, 'serve');
      for (const p of ['/healthz', '/openapi.json', '/no-such-page']) await (await fetch(`http://127.0.0.1:${port}${p}`)).text();
      const home_ = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(home_.status, 503);
      assert.match(await home_.text(), /npm run build:web/);
      await serve.stop();
      const out = serve.out();
      assert.match(out, /^certdesk: the web app \(portal and staff console\) is not built: .* Run `npm run build:web`/m);
      if (level === 'default') assert.doesNotMatch(out, /incoming request|request completed|not found/);
      else {
        assert.match(out, /"msg":"incoming request"/);
        assert.match(out, /"msg":"request completed"/);
      }
    }
    // the demo's banner is the last thing on its console after requests
    const cwd = path.join(dir, 'banner');
    mkdirSync(cwd);
    const port = await freePort();
    const demo = start(process.execPath, [BUILT_CLI, 'demo', '--agent-port', String(await freePort())], {
      cwd,
      env: shellEnv(home, { PORT: String(port) }),
    });
    await demo.waitFor(/staff console \(后台\)[^\n]*\n/, 'the banner');
    for (let i = 0; i < 3; i++) await (await fetch(`http://127.0.0.1:${port}/healthz`)).text();
    await demo.stop();
    assert.match(demo.out(), /staff console \(后台\)[^\n]*\n\s*$/, 'nothing after the banner');
    assert.match(
      demo.out(),
      /国密演示单位 \(唯一识别号 91310000MA1K4DEM08\): 单位身份证书（SM2 双证书）/,
      'the banner names the SM2 holder',
    );
    assert.ok(readFileSync(path.join(cwd, 'data/demo/pin.txt'), 'utf8').trim().length === 6);
  });
});
