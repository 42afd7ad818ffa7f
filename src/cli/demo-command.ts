// `certdesk demo` (what `npm run demo` runs): the server with the demo CA, a demo soft token holding
// a certificate that expires in about 30 days (so renewal is open at once), and the key assistant
// serving that token — everything a newcomer needs to log in and renew. The PIN is generated at
// first start, kept in DATA_DIR/demo/pin.txt (mode 0600) and printed; nothing secret is in the repo.
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { startAgentServer } from '../agent/server/start.js';
import { defaultAgentOptions } from '../agent/agent.js';
import { provisionSoftToken } from '../agent/tokens/soft-token.js';
import { loadConfig } from '../config/config.js';
import type { Runtime } from '../runtime.js';
import { action, UsageError } from './errors.js';
import { startServer } from './serve-command.js';
import { ensurePortsFree } from './ports.js';
import { closeOnSignals } from '../shared/shutdown.js';

export const DEMO_HOLDER = { name: '企业测试', uniqueId: '001120438184130111' };

/** Creates the demo soft token (once) and returns its file and PIN. */
export async function ensureDemoToken(rt: Runtime): Promise<{ file: string; pin: string; created: boolean }> {
  const dir = path.join(rt.config.dataDir, 'demo');
  const file = path.join(dir, 'soft-token.json');
  const pinFile = path.join(dir, 'pin.txt');
  if (existsSync(file) && existsSync(pinFile)) return { file, pin: readFileSync(pinFile, 'utf8').trim(), created: false };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pin = String(randomInt(0, 1_000_000)).padStart(6, '0');
  await provisionSoftToken(file, {
    label: 'certdesk 演示 UKey',
    pin,
    subject: [
      { type: 'C', value: 'CN' },
      { type: 'O', value: DEMO_HOLDER.name },
      { type: 'CN', value: DEMO_HOLDER.name },
    ],
    issue: async (csr) =>
      (await rt.ca.issue({ csr, profileId: 'org-identity', days: 30, uniqueId: DEMO_HOLDER.uniqueId, actor: 'system:demo' })).der,
  });
  writeFileSync(pinFile, pin + '\n', { mode: 0o600 });
  return { file, pin, created: true };
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
            `  demo key: "certdesk 演示 UKey" with a certificate for ${DEMO_HOLDER.name} (唯一识别号 ${DEMO_HOLDER.uniqueId}), expiring in about 30 days`,
            `  demo PIN: ${token.pin}   (kept in ${path.join(config.dataDir, 'demo', 'pin.txt')})`,
            `  Open the portal in Chrome, choose the certificate, press 登录系统 and type the PIN in the assistant's window.`,
            `  staff console (后台):    ${config.publicUrl}/staff.html   (demo admin, password and TOTP secret: ${path.join(config.dataDir, 'demo-staff.txt')})`,
            '',
          ].join('\n') + '\n',
        );
      }),
    );
}
