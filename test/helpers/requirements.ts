// What a test needs from the machine. On a developer's machine a missing tool is a visible skip that
// names it; with CI=true it is a failure, so no check silently drops out of the CI run.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CHROMIUM } from './browser.js';
import { SOFTHSM_MODULE } from './softhsm.js';
import { HAPROXY } from './load-balancer.js';
import { postgresBin } from './pg-cluster.js';
import { NGINX } from './tls-proxy.js';

/** True when `cmd` can be started (whatever it answers to `--version`). */
const onPath = (cmd: string): boolean => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error === undefined;

const TOOLS = {
  softhsm2: {
    found: () => existsSync(SOFTHSM_MODULE) && onPath('softhsm2-util') && onPath('pkcs11-tool'),
    what: `SoftHSM2 and OpenSC (${SOFTHSM_MODULE}, softhsm2-util, pkcs11-tool; Debian softhsm2 opensc)`,
  },
  chromium: { found: () => existsSync(CHROMIUM), what: `Chromium at ${CHROMIUM} (Debian chromium, or set CHROMIUM_PATH)` },
  poppler: { found: () => onPath('pdftotext') && onPath('pdffonts'), what: 'pdftotext and pdffonts (Debian poppler-utils)' },
  go: { found: () => onPath('go'), what: 'the Go toolchain (Debian golang-go)' },
  gnutls: { found: () => onPath('certtool'), what: 'GnuTLS certtool (Debian gnutls-bin)' },
  nss: { found: () => onPath('certutil') && onPath('vfychain'), what: 'NSS certutil and vfychain (Debian libnss3-tools)' },
  nginx: { found: () => existsSync(NGINX), what: `nginx at ${NGINX} (Debian nginx, or set NGINX_PATH)` },
  dpkg: { found: () => onPath('dpkg-deb'), what: 'dpkg-deb (Debian dpkg), to build the Debian package' },
  haproxy: { found: () => existsSync(HAPROXY), what: `HAProxy at ${HAPROXY} (Debian haproxy, or set HAPROXY_PATH)` },
  'postgres-server': {
    found: () => postgresBin() !== undefined,
    what: 'PostgreSQL server programs (initdb, pg_ctl, pg_basebackup under /usr/lib/postgresql; Debian postgresql)',
  },
  postgres: {
    found: () => Boolean(process.env.TEST_DATABASE_URL),
    what: 'a PostgreSQL server in TEST_DATABASE_URL (scripts/test-env.sh starts one)',
  },
} satisfies Record<string, { found: () => boolean; what: string }>;

export type Tool = keyof typeof TOOLS;

const seen = new Map<Tool, boolean>();
const isCi = (): boolean => /^(1|true)$/i.test(process.env.CI ?? '');

/**
 * `false` when every tool is here, for `{ skip: requireTool(…) }` or `if (reason) t.skip(reason)`;
 * otherwise the reason to skip with — and with CI=true it throws instead, failing the test file.
 */
export function requireTool(...tools: Tool[]): string | false {
  for (const tool of tools) {
    if (!seen.has(tool)) seen.set(tool, TOOLS[tool].found());
    if (seen.get(tool)) continue;
    const reason = `needs ${TOOLS[tool].what}`;
    if (isCi()) throw new Error(`CI=true and this test ${reason}`);
    return reason;
  }
  return false;
}
