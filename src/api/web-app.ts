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

export async function registerWebApp(app: FastifyInstance, rt: Runtime): Promise<void> {
  const dir = webDir(rt);
  if (!existsSync(path.join(dir, 'index.html'))) {
    app.log.warn({ dir }, 'web app not built (npm run build:web): the portal UI is not served');
    app.get('/', async (_req, reply) =>
      reply.type('text/plain; charset=utf-8').send('certdesk: the web app is not built; run `npm run build:web`.'),
    );
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
