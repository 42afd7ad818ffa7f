// HAProxy in front of several `certdesk serve` instances, with the very configuration shipped in
// docs/deploy/haproxy-certdesk.cfg: its TLS frontend becomes plain HTTP on a loopback port, the PKI
// frontend another port, and the servers are the test's instances (checked every 300 ms here, so a
// killed one leaves the rotation quickly). Each response says which server answered (X-Served-By).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from './cli.js';
import { connect } from 'node:net';
import { freePort } from './processes.js';

const listening = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const c = connect({ port, host: '127.0.0.1' });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });

export const HAPROXY = process.env.HAPROXY_PATH ?? '/usr/sbin/haproxy';

export interface LoadBalancer {
  /** http://127.0.0.1:PORT (the portal frontend) */
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startLoadBalancer(o: { port: number; servers: { name: string; port: number }[] }): Promise<LoadBalancer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'certdesk-haproxy-'));
  const shipped = readFileSync(path.join(ROOT, 'docs/deploy/haproxy-certdesk.cfg'), 'utf8');
  const servers = o.servers.map((s) => `    server ${s.name} 127.0.0.1:${s.port}`).join('\n');
  const cfg = shipped
    .replace(/^ {4}bind :443 ssl .*$/m, `    bind 127.0.0.1:${o.port}`)
    .replace(/^ {4}bind :80$/m, `    bind 127.0.0.1:${await freePort()}`)
    .replace(/^ {4}http-request set-header X-Forwarded-Proto https$/m, '')
    .replace(/^ {4}default-server check inter 2s fall 2 rise 2$/m, '    default-server check inter 300ms fall 1 rise 1')
    .replace(/^ {4}server certdesk1 .*\n {4}server certdesk2 .*$/m, `${servers}\n    http-response set-header X-Served-By %s`);
  const directives = cfg.replace(/#.*$/gm, '');
  // \b: a loopback port the test picked may begin with 443 (127.0.0.1:44321) without being :443
  if (/10\.0\.0\.|:443\b|bind :80\b|ssl crt/.test(directives))
    throw new Error(`docs/deploy/haproxy-certdesk.cfg changed shape:\n${directives}`);
  const file = path.join(dir, 'haproxy.cfg');
  writeFileSync(file, cfg);
  const proc = spawn(HAPROXY, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  for (let i = 0; !(await listening(o.port)); i++) {
    if (proc.exitCode !== null || i > 200) {
      proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`haproxy did not start: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${o.port}`,
    port: o.port,
    async close() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
