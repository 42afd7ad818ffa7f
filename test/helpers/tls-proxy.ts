// The portal as deployed: Debian's nginx ends TLS in front of `certdesk serve`, with the very server
// block shipped in docs/deploy/nginx-certdesk.conf (its name, ports and certificate paths replaced).
// The certificate for the portal's name comes from openssl; Chromium trusts it by its SPKI pin
// (--ignore-certificate-errors-spki-list), so every other certificate check — and Local Network
// Access — stays as in a user's browser.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from './browser.js';
import { openssl } from './ca.js';

export const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx';

export interface TlsProxy {
  /** https://HOST:PORT */
  origin: string;
  port: number;
  /** base64 SHA-256 of the certificate's SubjectPublicKeyInfo (what Chromium's pin flag takes) */
  spkiPin: string;
  close(): Promise<void>;
}

const waitForPort = async (port: number, proc: ChildProcess, log: () => string): Promise<void> => {
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null) throw new Error(`nginx exited with ${proc.exitCode}: ${log()}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nginx did not listen on ${port}: ${log()}`);
};

/** nginx on 127.0.0.1:port terminating TLS for `host`, passing everything to 127.0.0.1:upstreamPort. */
export async function startTlsProxy(o: { host: string; port: number; upstreamPort: number }): Promise<TlsProxy> {
  const dir = mkdtempSync(path.join(tmpdir(), 'certdesk-nginx-'));
  const crt = path.join(dir, 'portal.crt');
  const key = path.join(dir, 'portal.key');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const subject = ['-subj', `/CN=${o.host}`, '-addext', `subjectAltName=DNS:${o.host}`];
  const gen = openssl([
    'req',
    '-x509',
    '-key',
    key,
    ...subject,
    '-addext',
    'extendedKeyUsage=serverAuth',
    '-days',
    '2',
    '-out',
    crt,
  ]);
  if (gen.status !== 0) throw new Error(`openssl req failed: ${gen.out}`);
  const spki = new X509Certificate(readFileSync(crt)).publicKey.export({ type: 'spki', format: 'der' });
  const spkiPin = createHash('sha256').update(spki).digest('base64');

  const shipped = readFileSync(path.join(ROOT, 'docs/deploy/nginx-certdesk.conf'), 'utf8');
  const site = shipped
    .replaceAll('listen 443 ssl;', `listen 127.0.0.1:${o.port} ssl;`)
    .replaceAll('/etc/ssl/certdesk/portal.example.cn.crt', crt)
    .replaceAll('/etc/ssl/certdesk/portal.example.cn.key', key)
    .replaceAll('portal.example.cn', o.host)
    .replaceAll('127.0.0.1:8080', `127.0.0.1:${o.upstreamPort}`);
  const directives = site.replace(/#.*$/gm, '');
  // \b: a picked loopback port may contain 8080 (127.0.0.1:18080) or begin with 443
  if (/\b8080\b|example\.cn|listen 443\b/.test(directives))
    throw new Error(`docs/deploy/nginx-certdesk.conf changed shape:\n${directives}`);
  writeFileSync(path.join(dir, 'site.conf'), site);
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(dir, d));
  // nginx started as root hands its workers to `nobody`, who could not read this private dir
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `${user}worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  include ${dir}/site.conf;
}
`,
  );
  const proc = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', 'stderr', '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  try {
    await waitForPort(o.port, proc, () => stderr);
  } catch (e) {
    proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    origin: `https://${o.host}:${o.port}`,
    port: o.port,
    spkiPin,
    async close() {
      if (proc.exitCode === null) proc.kill('SIGTERM'); // fast shutdown: open keep-alive connections do not hold it
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
