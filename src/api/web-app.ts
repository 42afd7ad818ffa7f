// Serves the built holder portal (web/dist) at / and the security headers its pages need.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../runtime.js';

/** web/dist next to src/ and dist/ (both two levels below the repository root). */
export function webDir(rt: Runtime): string {
  return rt.config.webDir ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web/dist');
}

export function contentSecurityPolicy(rt: Runtime): string {
  const agent = new URL(rt.config.agentUrl);
  // the assistant answers on 127.0.0.1 and localhost alike (Chromium rejects [::1] as a CSP source)
  const agentOrigins = ['127.0.0.1', 'localhost'].map((h) => `${agent.protocol}//${h}:${agent.port}`);
  return [
    "default-src 'self'",
    `connect-src 'self' ${agentOrigins.join(' ')}`,
    "img-src 'self' data:",
    "style-src 'self' 'unsafe-inline'",
    "script-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
}

export const webAppBuilt = (rt: Runtime): boolean => existsSync(path.join(webDir(rt), 'index.html'));

/** What `certdesk serve` prints, and the portal pages answer, while web/dist is missing. */
export function webAppMissingMessage(rt: Runtime): string {
  return `the web app (portal and staff console) is not built: ${path.join(webDir(rt), 'index.html')} is missing. Run \`npm run build:web\` in ${path.resolve(webDir(rt), '../..')} (npm install does it), then restart; the API, OCSP and CRLs are served meanwhile.`;
}

export async function registerWebApp(app: FastifyInstance, rt: Runtime): Promise<void> {
  const dir = webDir(rt);
  if (!webAppBuilt(rt)) {
    const text = `certdesk: ${webAppMissingMessage(rt)}\n`;
    for (const page of ['/', '/staff.html'])
      app.get(page, async (_req, reply) => reply.code(503).type('text/plain; charset=utf-8').send(text));
    return;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    index: ['index.html'],
    wildcard: false,
    cacheControl: true,
    maxAge: 0,
  });
}
