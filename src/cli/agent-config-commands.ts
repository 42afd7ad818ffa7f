// `certdesk agent-config …`: the CA's configuration of the packaged key assistant (portal origins,
// CA roots, vendor PKCS#11 modules), signed with the issuing CA's key. Installed beside the binary
// (certdesk-agent.json + .p7s) — by the CA's package build (`npm run package:agent -- --config …`)
// or by an administrator — so a holder never types it.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { collect, uniqueIdOidOption } from '../agent/cli/options.js';
import {
  AGENT_CONFIG_FILE,
  AGENT_CONFIG_FORMAT,
  agentCaConfigSchema,
  loadAgentCaConfig,
  signatureFileOf,
  type AgentCaConfig,
} from '../agent/config/ca-config.js';
import { signDetached } from '../ca/detached-signing.js';
import { loadConfig } from '../config/config.js';
import { isWebOrigin } from '../pki/login-challenge.js';
import { toPem } from '../pki/pem.js';
import { openRuntime } from '../runtime.js';
import { action, UsageError } from './errors.js';

export function registerAgentConfigCommands(program: Command): void {
  const cmd = program
    .command('agent-config')
    .description("the key assistant's configuration by the CA (certdesk-agent.json), signed with the issuing CA's key");

  cmd
    .command('sign')
    .description('write certdesk-agent.json and its detached signature certdesk-agent.json.p7s')
    .option('--out <file>', 'the configuration file to write (the signature goes to FILE.p7s)', AGENT_CONFIG_FILE)
    .option('--allow-origin <origin>', 'portal origin the assistant serves (repeatable; default: PORTAL_ORIGINS)', collect, [])
    .option('--portal-url <url>', 'the holder portal (default: PUBLIC_URL)')
    .option(
      '--pkcs11-module <path>',
      "a key vendor's PKCS#11 module the assistant loads when installed (repeatable)",
      collect,
      [],
    )
    .option('--unique-id-oid <oid>', "the CA's 唯一识别号 extension (default: UNIQUE_ID_OID)", uniqueIdOidOption)
    .action(
      action(
        async (o: { out: string; allowOrigin: string[]; portalUrl?: string; pkcs11Module: string[]; uniqueIdOid?: string }) => {
          for (const origin of o.allowOrigin)
            if (!isWebOrigin(origin))
              throw new UsageError(`--allow-origin must be an origin like https://portal.example, got ${JSON.stringify(origin)}`);
          for (const m of o.pkcs11Module)
            if (!path.isAbsolute(m)) throw new UsageError(`--pkcs11-module must be an absolute path, got ${JSON.stringify(m)}`);
          const config = loadConfig();
          const rt = await openRuntime(config);
          try {
            const roots = [...rt.ca.cas.values()].filter((c) => c.record.kind === 'root' && c.record.active);
            const draft: AgentCaConfig = {
              format: AGENT_CONFIG_FORMAT,
              ca: config.productName,
              portalUrl: o.portalUrl ?? config.publicUrl,
              allowOrigins: o.allowOrigin.length > 0 ? o.allowOrigin : config.portalOrigins,
              caRoots: roots.map((r) => toPem('CERTIFICATE', r.cert.der)),
              pkcs11Modules: o.pkcs11Module,
              ...((o.uniqueIdOid ?? config.uniqueIdOid) ? { uniqueIdOid: o.uniqueIdOid ?? config.uniqueIdOid } : {}),
              signedAt: new Date().toISOString(),
            };
            const checked = agentCaConfigSchema.safeParse(draft);
            if (!checked.success) {
              const issue = checked.error.issues[0]!;
              throw new UsageError(`the configuration would be invalid: ${issue.path.join('.')} ${issue.message}`);
            }
            const body = Buffer.from(JSON.stringify(checked.data, null, 2) + '\n', 'utf8');
            const p7s = await signDetached(rt.ca.issuing, body);
            await writeFile(o.out, body);
            await writeFile(signatureFileOf(o.out), p7s);
            process.stdout.write(
              `wrote ${o.out} and ${signatureFileOf(o.out)} (signed by ${rt.ca.issuing.record.id}; origins ${checked.data.allowOrigins.join(', ')})\n`,
            );
          } finally {
            await rt.close();
          }
        },
      ),
    );

  cmd
    .command('verify <file>')
    .description('check a configuration and its signature as the assistant does at start')
    .action(
      action(async (file: string) => {
        await readFile(file).catch((e: NodeJS.ErrnoException) => {
          throw new UsageError(`cannot read ${file}: ${e.code ?? e.message}`);
        });
        const c = loadAgentCaConfig(file);
        process.stdout.write(`good signature: ${c.ca}, origins ${c.allowOrigins.join(', ')}, signed ${c.signedAt}\n`);
      }),
    );
}
