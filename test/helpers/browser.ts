// Chromium for the end-to-end tests: Debian's /usr/bin/chromium driven by playwright-core (no
// browser download), headless, a fresh profile per launch, `portal.test` resolving to 127.0.0.1 so
// the portal has a real (non-loopback) name and origin. Also: a tiny static server for web/dist,
// building the web app once, screenshots on failure, console capture.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';

import { ROOT } from './cli.js';
export { ROOT };
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const WEB_DIST = path.join(ROOT, 'web/dist');
export const SCREENSHOT_DIR = path.join(ROOT, '.tmp/e2e-screenshots');
/** The portal's host name in the tests (mapped to 127.0.0.1 inside Chromium only). */
export const PORTAL_HOST = 'portal.test';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
  `--host-resolver-rules=MAP ${PORTAL_HOST} 127.0.0.1`,
];

export interface BrowserSession {
  context: BrowserContext;
  page: Page;
  /** console messages and page errors seen so far, on every page of the context */
  logs: string[];
  /** page errors (uncaught exceptions) only */
  errors: string[];
  userDataDir: string;
  close(): Promise<void>;
}

/** Launches Chromium with a fresh user-data dir (a persistent context, so it is a real profile). */
export async function launchBrowser(
  o: { extraArgs?: string[]; locale?: string; viewport?: { width: number; height: number } } = {},
): Promise<BrowserSession> {
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'certdesk-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, ...(o.extraArgs ?? [])],
    locale: o.locale ?? 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    viewport: o.viewport ?? { width: 1280, height: 900 },
    timeout: 60_000,
  });
  const logs: string[] = [];
  const errors: string[] = [];
  const watch = (p: Page): void => {
    p.on('console', (m: ConsoleMessage) => logs.push(`[${m.type()}] ${p.url()} ${m.text()}`));
    p.on('pageerror', (e: Error) => {
      errors.push(`${p.url()} ${e.message}`);
      logs.push(`[pageerror] ${p.url()} ${e.message}`);
    });
  };
  for (const p of context.pages()) watch(p);
  context.on('page', watch);
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(20_000);
  return {
    context,
    page,
    logs,
    errors,
    userDataDir,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot under .tmp/e2e-screenshots/ and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name.replace(/[^\w.-]+/g, '_')}.png`);
  await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
  return file;
}

/**
 * Runs a test body; on failure takes a screenshot of every open page, prints the browser's console,
 * and rethrows.
 */
export async function withScreenshots(b: BrowserSession, name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    const files: string[] = [];
    let i = 0;
    for (const p of b.context.pages()) files.push(await screenshot(p, `FAIL-${name}-${i++}`));
    process.stderr.write(
      `\n--- ${name} failed; screenshots: ${files.join(', ')}\n--- browser console (last 40):\n${b.logs.slice(-40).join('\n')}\n`,
    );
    throw e;
  }
}

/** Waits for the popup a click opens (the key assistant's window). */
export async function popupFrom(page: Page, click: () => Promise<void>): Promise<Page> {
  const [popup] = await Promise.all([page.waitForEvent('popup', { timeout: 20_000 }), click()]);
  await popup.waitForLoadState('domcontentloaded');
  return popup;
}

/** Types the PIN into the key assistant's approval window and confirms (as the holder does). */
export async function approveInAssistant(popup: Page, pin: string): Promise<void> {
  await popup.waitForURL(/\/approve\?/, { timeout: 20_000 });
  const input = popup.locator('#pin');
  await input.waitFor({ state: 'visible', timeout: 20_000 });
  await input.fill(pin);
  await popup.locator('#approve').click();
}

// ---------------------------------------------------------------------------------------------
// The web app

let built = false;

/** Newest modification time of what the web build reads (sources, pages, config, lockfile). */
function webFingerprint(): string {
  let newest = 0;
  const walk = (p: string): void => {
    if (!existsSync(p)) return;
    const st = statSync(p);
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(path.join(p, e));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const p of ['web/src', 'web/public', 'web/index.html', 'web/staff.html', 'web/vite.config.ts', 'package-lock.json'])
    walk(path.join(ROOT, p));
  return String(newest);
}

const sleepSync = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/**
 * `npm run build:web` unless web/dist is already built from the current sources. Test files run in
 * parallel processes: a lock directory makes one of them build while the others wait, so nobody
 * serves a web/dist that another process is emptying.
 */
export function buildWeb(): void {
  if (built) return;
  const index = path.join(WEB_DIST, 'index.html');
  const stamp = path.join(ROOT, '.tmp/web-build-stamp');
  const fresh = (): boolean => existsSync(index) && existsSync(stamp) && readFileSync(stamp, 'utf8') === webFingerprint();
  if (process.env.CERTDESK_WEB_PREBUILT === '1' && existsSync(index)) {
    built = true;
    return;
  }
  if (!fresh()) {
    const lock = path.join(ROOT, '.tmp/web-build.lock');
    mkdirSync(path.dirname(lock), { recursive: true });
    const deadline = Date.now() + 300_000;
    for (;;) {
      try {
        mkdirSync(lock);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        // a lock older than 5 minutes is left over from a killed run
        if (Date.now() - statSync(lock).mtimeMs > 300_000) rmSync(lock, { recursive: true, force: true });
        else if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
        else sleepSync(250);
      }
    }
    try {
      if (!fresh()) {
        const fp = webFingerprint();
        execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: ROOT, stdio: 'pipe', timeout: 300_000 });
        writeFileSync(stamp, fp);
      }
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
  if (!existsSync(index)) throw new Error('npm run build:web produced no web/dist/index.html');
  built = true;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

export type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => boolean | Promise<boolean>;

export interface StaticServer {
  server: Server;
  port: number;
  /** http://portal.test:PORT */
  origin: string;
  close(): Promise<void>;
}

/** Serves `dir` (web/dist) at `/`; `handler` answers other paths first (an API stub) by returning true. */
export async function serveStatic(dir: string, handler?: Handler): Promise<StaticServer> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        try {
          if (handler && (await handler(req, res, Buffer.concat(chunks)))) return;
          const url = new URL(req.url ?? '/', 'http://x');
          let rel = decodeURIComponent(url.pathname);
          if (rel === '/') rel = '/index.html';
          const file = path.join(dir, path.normalize(rel).replace(/^(\.\.[/\\])+/, ''));
          if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) {
            res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: 'not_found', message: rel }));
            return;
          }
          res.writeHead(200, {
            'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
            'Cache-Control': 'no-store',
          });
          res.end(readFileSync(file));
        } catch (e) {
          if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ error: 'internal', message: (e as Error).message }));
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    origin: `http://${PORTAL_HOST}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Sends JSON. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): true {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
  res.end(body === undefined ? '' : JSON.stringify(body));
  return true;
}
