// `certdesk demo` (what `npm run demo` runs): the server with the demo CA, a demo soft token holding
// two holders' certificates that expire in about 30 days (so renewal is open at once) — an ECDSA
// 单位身份证书 and an SM2 dual pair (签名证书 + 加密证书, its key from the KMC) — and the key assistant
// serving that token: everything a newcomer needs to log in and renew. The PIN is generated at
// first start, kept in DATA_DIR/demo/pin.txt (mode 0600) and printed; nothing secret is in the repo.
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { startAgentServer } from '../agent/server/start.js';
import { defaultAgentOptions } from '../agent/agent.js';
import { provisionSm2DualPair, provisionSoftToken, SoftToken } from '../agent/tokens/soft-token.js';
import { defaultHierarchyFor, initHierarchy } from '../ca/hierarchy.js';
import { loadConfig } from '../config/config.js';
import { keyTypeOfSpki } from '../pki/algorithms.js';
import { parseCertificate } from '../pki/certificate.js';
import { certificateUsage } from '../pki/key-usage.js';
import type { NameAttribute } from '../pki/name.js';
import { issueFirstDualPair } from '../ra/first-dual-pair.js';
import type { Runtime } from '../runtime.js';
import type { KeyRef } from '../signer/signer.js';
import { action, UsageError } from './errors.js';
import { startServer } from './serve-command.js';
import { ensurePortsFree } from './ports.js';
import { closeOnSignals } from '../shared/shutdown.js';

export const DEMO_HOLDER = { name: '企业测试', uniqueId: '001120438184130111' };
/** The SM2 holder (a valid 统一社会信用代码, so both certificates carry the GM/T 0015 identity extension). */
export const DEMO_SM2_HOLDER = { name: '国密演示单位', uniqueId: '91310000MA1K4DEM08' };
const SM2_KEY_LABEL = 'certdesk-sm2';

const orgSubject = (name: string): NameAttribute[] => [
  { type: 'C', value: 'CN' },
  { type: 'O', value: name },
  { type: 'CN', value: name },
];

/**
 * Creates the demo soft token (once) and returns its file and PIN. A token from before the SM2
 * holder existed gets it added (`sm2Added`), so an old demo DATA_DIR keeps working and shows both.
 */
export async function ensureDemoToken(rt: Runtime): Promise<{ file: string; pin: string; created: boolean; sm2Added: boolean }> {
  const dir = path.join(rt.config.dataDir, 'demo');
  const file = path.join(dir, 'soft-token.json');
  const pinFile = path.join(dir, 'pin.txt');
  if (existsSync(file) && existsSync(pinFile)) {
    const pin = readFileSync(pinFile, 'utf8').trim();
    return { file, pin, created: false, sm2Added: await ensureDemoSm2Holder(rt, file, pin) };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pin = String(randomInt(0, 1_000_000)).padStart(6, '0');
  await provisionSoftToken(file, {
    label: 'certdesk 演示 UKey',
    pin,
    subject: orgSubject(DEMO_HOLDER.name),
    issue: async (csr) =>
      (await rt.ca.issue({ csr, profileId: 'org-identity', days: 30, uniqueId: DEMO_HOLDER.uniqueId, actor: 'system:demo' })).der,
  });
  writeFileSync(pinFile, pin + '\n', { mode: 0o600 });
  await ensureDemoSm2Holder(rt, file, pin);
  return { file, pin, created: true, sm2Added: true };
}

/** An SM2 signing certificate on the token (current or not: a renewed pair is still the SM2 holder). */
function hasSm2Holder(file: string): boolean {
  const certs = new SoftToken(file).certificates();
  return certs.some((c) => {
    const parsed = parseCertificate(c.der);
    return keyTypeOfSpki(parsed.spki).keyType === 'sm2' && certificateUsage(parsed) === 'signing';
  });
}

/**
 * The demo's SM2 holder: a 单位身份证书（SM2 双证书） pair, about 30 days left. The signing key is made
 * on the token; the RA's path makes the rest — the CA certifies the CSR, the KMC makes and escrows
 * the encryption key, the CA certifies that, and the envelope is opened inside the token as the
 * assistant's install does. A demo database from before SM2 gets the SM2 demo hierarchy first.
 * Returns whether it added the holder.
 */
export async function ensureDemoSm2Holder(rt: Runtime, file: string, pin: string): Promise<boolean> {
  if (hasSm2Holder(file)) return false;
  if (!rt.ca.families().includes('sm2')) {
    // software keys under the passphrase the runtime opened its keys with (SM2 has no PKCS#11 mechanism)
    const like = JSON.parse(rt.ca.root.record.key_ref) as KeyRef;
    if (like.kind !== 'software')
      throw new UsageError('the demo adds an SM2 hierarchy with software keys only; its CA keys are on PKCS#11');
    await initHierarchy(rt.storage, (purpose) => rt.newKeyLike(like, 'sm2', purpose), {
      ...defaultHierarchyFor('sm2'),
      keyType: 'sm2',
      pkiUrl: rt.config.pkiUrl,
      actor: 'system:demo',
    });
    await rt.ca.reloadCas();
    for (const c of rt.ca.crlIssuers()) if (c.record.key_type === 'sm2') await rt.ca.generateCrl(c.record.id, 'system:demo');
  }
  await provisionSm2DualPair(file, {
    pin,
    subject: orgSubject(DEMO_SM2_HOLDER.name),
    keyLabel: SM2_KEY_LABEL,
    issue: async (csr) => {
      const pair = await issueFirstDualPair(rt, {
        csr,
        profileId: 'org-identity-sm2',
        days: 30,
        uniqueId: DEMO_SM2_HOLDER.uniqueId,
        actor: 'system:demo',
      });
      return { certificate: pair.signing.der, encryption: { certificate: pair.encryption.der, envelope: pair.envelope } };
    },
  });
  return true;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run the demo: server + demo CA + a demo soft token + the key assistant; prints the URL and the demo PIN')
    .option('--agent-port <n>', 'port of the key assistant', '51234')
    .action(
      action(async (o: { agentPort: string }) => {
        if (!/^\d+$/.test(o.agentPort) || Number(o.agentPort) < 1 || Number(o.agentPort) > 65535) {
          throw new UsageError(`--agent-port must be a port number (1–65535), got ${JSON.stringify(o.agentPort)}`);
        }
        // The portal tells browsers where the assistant listens: keep AGENT_URL and the port in step.
        const config = loadConfig({ ...process.env, AGENT_URL: `http://127.0.0.1:${o.agentPort}` });
        // before anything is created (demo CA, staff admin, demo key)
        await ensurePortsFree([
          { port: config.port, host: config.host, what: 'the server', change: `set PORT, e.g. PORT=8081 npm run demo` },
          {
            port: Number(o.agentPort),
            host: '127.0.0.1',
            what: 'the key assistant',
            change: `pass --agent-port, e.g. npm run demo -- --agent-port ${Number(o.agentPort) === 65535 ? 51235 : Number(o.agentPort) + 1}`,
          },
        ]);
        const server = await startServer(config);
        const token = await ensureDemoToken(server.rt);
        const agent = await startAgentServer({
          ...defaultAgentOptions(),
          softTokens: [token.file],
          // the token's own journal directory, as a plain `certdesk agent --soft-token` uses
          legacyJournalDirs: [path.join(config.dataDir, 'demo', 'agent-journal')],
          uniqueIdOid: config.uniqueIdOid,
          port: Number(o.agentPort),
          allowOrigins: [
            ...new Set([...config.portalOrigins, `http://127.0.0.1:${config.port}`, `http://localhost:${config.port}`]),
          ],
          logger: false,
        });
        closeOnSignals(async () => {
          await agent.close();
          await server.close();
        });
        process.stdout.write(
          [
            '',
            `  certdesk demo is running`,
            `  portal (证书自助服务):   ${config.publicUrl}/`,
            `  key assistant (协卡助手): ${agent.url}/   (UKey 管理)`,
            `  demo key: "certdesk 演示 UKey" with two holders' certificates, each expiring in about 30 days:`,
            `    ${DEMO_HOLDER.name} (唯一识别号 ${DEMO_HOLDER.uniqueId}): 单位身份证书, ECDSA P-256`,
            `    ${DEMO_SM2_HOLDER.name} (唯一识别号 ${DEMO_SM2_HOLDER.uniqueId}): 单位身份证书（SM2 双证书）, 签名证书 + 加密证书 (its key from the KMC)`,
            ...(token.sm2Added && !token.created ? [`  (the SM2 holder was added to the existing demo key)`] : []),
            `  demo PIN: ${token.pin}   (kept in ${path.join(config.dataDir, 'demo', 'pin.txt')})`,
            `  Open the portal in Chrome, choose the certificate, press 登录系统 and type the PIN in the assistant's window.`,
            `  staff console (后台):    ${config.publicUrl}/staff.html   (demo admin, password and TOTP secret: ${path.join(config.dataDir, 'demo-staff.txt')})`,
            '',
          ].join('\n') + '\n',
        );
      }),
    );
}
