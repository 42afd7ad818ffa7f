// The 下载中心 (GET /api/portal/downloads, GET /downloads/:name[.p7s]): the key assistant's packages
// for each platform with version, size, SHA-256 and the CA's detached signature, PKCS#11 driver hints.
// The packages are what `npm run package:agent` leaves in dist-agent/ (AGENT_DOWNLOADS_DIR), listed in
// its manifest.json; installers built on Windows/macOS machines are added there the same way.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { signDetached } from '../../ca/detached-signing.js';
import type { Runtime } from '../../runtime.js';
import { KEY_DRIVER_HINTS } from './key-drivers.js';
import { HttpError } from './session.js';
import type { AgentDownloadView, DownloadsView } from './shapes.js';

const manifestSchema = z.object({
  files: z.array(
    z.object({
      name: z.string().regex(/^[A-Za-z0-9._-]+$/),
      platform: z.enum(['linux-x64', 'windows-x64', 'macos']),
      kind: z.enum(['binary', 'deb', 'msi', 'pkg']),
      version: z.string(),
    }),
  ),
});

/** dist-agent/ of the repository (two levels above dist/api/portal or src/api/portal), or AGENT_DOWNLOADS_DIR. */
export function downloadsDir(rt: Runtime): string {
  return rt.config.agentDownloadsDir ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dist-agent');
}

interface Hashed {
  mtimeMs: number;
  size: number;
  sha256: string;
  signature?: Buffer;
}

export function registerDownloadRoutes(app: FastifyInstance, rt: Runtime): void {
  // A package is hashed (and signed) once per version of the file on disk.
  const cache = new Map<string, Hashed>();

  const listed = async (): Promise<z.infer<typeof manifestSchema>['files']> => {
    let text: string;
    try {
      text = await readFile(path.join(downloadsDir(rt), 'manifest.json'), 'utf8');
    } catch {
      return []; // nothing packaged yet
    }
    const r = manifestSchema.safeParse(JSON.parse(text));
    if (!r.success)
      throw new HttpError(500, 'bad_manifest', `${path.join(downloadsDir(rt), 'manifest.json')} is not a download manifest`);
    return r.data.files;
  };

  const hashed = async (name: string): Promise<Hashed | undefined> => {
    const file = path.join(downloadsDir(rt), name);
    const st = await stat(file).catch(() => undefined);
    if (!st?.isFile()) return undefined;
    const known = cache.get(name);
    if (known && known.mtimeMs === st.mtimeMs && known.size === st.size) return known;
    const h = createHash('sha256');
    for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
    const entry: Hashed = { mtimeMs: st.mtimeMs, size: st.size, sha256: h.digest('hex') };
    cache.set(name, entry);
    return entry;
  };

  app.get(
    '/api/portal/downloads',
    { schema: { tags: ['portal'], summary: '下载中心: the key assistant and drivers' } },
    async () => {
      const files: AgentDownloadView[] = [];
      for (const f of await listed()) {
        const h = await hashed(f.name);
        if (!h) continue;
        files.push({
          ...f,
          size: h.size,
          sha256: h.sha256,
          url: `/downloads/${f.name}`,
          signatureUrl: `/downloads/${f.name}.p7s`,
        });
      }
      const versions = files.map((f) => f.version).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
      const view: DownloadsView = {
        agent: { latestVersion: versions.at(-1) ?? null, minimumVersion: rt.config.agentMinVersion, files },
        caRootUrl: `/pki/ca/${rt.ca.root.record.id}.pem`,
        drivers: KEY_DRIVER_HINTS,
      };
      return view;
    },
  );

  app.get<{ Params: { name: string } }>('/downloads/:name', { schema: { hide: true } }, async (req, reply) => {
    const wanted = req.params.name;
    const signature = wanted.endsWith('.p7s');
    const name = signature ? wanted.slice(0, -4) : wanted;
    if (!(await listed()).some((f) => f.name === name)) throw new HttpError(404, 'not_found', `no download named ${name}`);
    const h = await hashed(name);
    if (!h) throw new HttpError(404, 'not_found', `${name} is listed but not on the server`);
    if (signature) {
      const file = path.join(downloadsDir(rt), name);
      if (!h.signature) {
        const body = await readFile(file);
        // the file may have been replaced since it was hashed: sign what was read, hash it again
        const sha256 = createHash('sha256').update(body).digest('hex');
        if (sha256 !== h.sha256) throw new HttpError(409, 'changed', `${name} changed while being signed; ask again`);
        h.signature = await signDetached(rt.ca.issuing, body);
      }
      return reply
        .type('application/pkcs7-signature')
        .header('Content-Disposition', `attachment; filename="${name}.p7s"`)
        .send(h.signature);
    }
    return reply
      .type('application/octet-stream')
      .header('Content-Length', String(h.size))
      .header('Content-Disposition', `attachment; filename="${name}"`)
      .header('X-Content-SHA256', h.sha256)
      .send(createReadStream(path.join(downloadsDir(rt), name)));
  });
}
