// Running the assistant from a command line: the options and start-up shared by `certdesk agent`
// (a clone of the repository) and the packaged `certdesk-agent` binary.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { isWebOrigin } from '../../pki/login-challenge.js';
import { closeOnSignals } from '../../shared/shutdown.js';
import { UsageError } from '../../shared/usage-error.js';
import { loadAgentCaConfig, type AgentCaConfig } from '../config/ca-config.js';
import { AGENT_VERSION } from '../version.js';
import { collect, msOption, portOption, uniqueIdOidOption } from './options.js';

/** Where journals were kept before they moved next to each key (still searched). */
const LEGACY_JOURNAL_DIR = path.join(homedir(), '.certdesk-agent');

export interface RunOptions {
  port: number;
  allowOrigin: string[];
  pkcs11Module: string[];
  softToken: string[];
  config?: string;
  journalDir?: string;
  keepOld?: boolean;
  uniqueIdOid?: string;
  pollMs: number;
  pinIntervalMs: number;
}

export function addRunOptions(cmd: Command): Command {
  return cmd
    .option('--port <n>', 'listen port on 127.0.0.1 and [::1] (0 picks a free one)', portOption, 51234)
    .option(
      '--config <file>',
      "the CA's signed configuration (certdesk-agent.json with certdesk-agent.json.p7s beside it; made by `certdesk agent-config sign`); the packaged assistant reads the one beside its executable",
    )
    .option(
      '--allow-origin <origin>',
      'web origin allowed to use the assistant, e.g. https://portal.example (repeatable; exact match)',
      collect,
      [],
    )
    .option(
      '--pkcs11-module <path>',
      'PKCS#11 module of a key vendor, e.g. /usr/lib/softhsm/libsofthsm2.so (repeatable)',
      collect,
      [],
    )
    .option('--soft-token <file>', 'soft token file made with `certdesk token init-soft` (repeatable)', collect, [])
    .option(
      '--journal-dir <dir>',
      "keep every key's renewal journals here (default: next to each --soft-token file, e.g. soft-token.journal/; for PKCS#11 keys $XDG_STATE_HOME/certdesk-agent/<key id>, else ~/.local/state/certdesk-agent/<key id>)",
    )
    .option('--keep-old', 'after a renewal keep the old key pair (labelled retired:<order>) instead of deleting it')
    .addOption(
      new Option(
        '--unique-id-oid <oid>',
        "the CA's own 唯一识别号 extension (its UNIQUE_ID_OID), read before the subject serialNumber",
      ).argParser(uniqueIdOidOption),
    )
    .addOption(
      new Option('--poll-ms <n>', 'key insertion/removal poll interval')
        .argParser(msOption('--poll-ms'))
        .default(1000)
        .hideHelp(),
    )
    .addOption(
      new Option('--pin-interval-ms <n>', 'minimum time between PIN attempts')
        .argParser(msOption('--pin-interval-ms'))
        .default(1000)
        .hideHelp(),
    );
}

/**
 * Starts the assistant and keeps it running until SIGTERM/SIGINT. `configFile` is the CA's
 * configuration to read when --config is not given (the packaged binary's, beside it): used when
 * present, and like --config it must carry a good signature or the assistant refuses to start.
 */
export async function runAgent(o: RunOptions, defaults: { configFile?: string } = {}): Promise<void> {
  for (const origin of o.allowOrigin) {
    if (!isWebOrigin(origin)) {
      throw new UsageError(
        `--allow-origin must be an origin like https://portal.example or http://127.0.0.1:8080 (no path, no trailing slash), got ${JSON.stringify(origin)}`,
      );
    }
  }
  const configFile =
    o.config !== undefined
      ? path.resolve(o.config)
      : defaults.configFile !== undefined && existsSync(defaults.configFile)
        ? defaults.configFile
        : undefined;
  const config: AgentCaConfig | undefined = configFile === undefined ? undefined : loadAgentCaConfig(configFile);
  const allowOrigins = [...new Set([...(config?.allowOrigins ?? []), ...o.allowOrigin])];
  // The CA lists every vendor's module it supports; only those installed on this machine are loaded.
  const modules = [...o.pkcs11Module, ...(config?.pkcs11Modules ?? []).filter((m) => existsSync(m))];
  const softTokens = o.softToken.map((f) => path.resolve(f));
  if (config === undefined && modules.length === 0 && softTokens.length === 0) {
    throw new UsageError(
      'give at least one --pkcs11-module (a hardware key vendor module) or --soft-token file, or the CA configuration (--config)',
    );
  }
  const uniqueIdOid = o.uniqueIdOid ?? config?.uniqueIdOid;
  const crashAfter = process.env.CERTDESK_AGENT_CRASH_AFTER || undefined;

  const { default: pino } = await import('pino');
  const { startAgentServer } = await import('../server/start.js');
  const { isRenewalStep } = await import('../install/journal.js');
  if (crashAfter !== undefined && !isRenewalStep(crashAfter))
    throw new UsageError(`CERTDESK_AGENT_CRASH_AFTER: unknown step ${JSON.stringify(crashAfter)}`);
  const logger = pino(
    {
      level: process.env.LOG_LEVEL || 'info',
      base: { name: 'certdesk-agent' },
      // PINs never reach the log (they are not logged at all); these are belts and braces.
      redact: {
        paths: ['pin', 'oldPin', 'newPin', '*.pin', '*.oldPin', '*.newPin', 'req.headers.authorization'],
        censor: '[redacted]',
      },
    },
    pino.destination({ dest: 2, sync: true }),
  );
  const running = await startAgentServer({
    port: o.port,
    allowOrigins,
    pkcs11Modules: modules,
    softTokens,
    journalDir: o.journalDir === undefined ? undefined : path.resolve(o.journalDir),
    legacyJournalDirs: [LEGACY_JOURNAL_DIR],
    keepOld: Boolean(o.keepOld),
    uniqueIdOid,
    pollMs: o.pollMs,
    pinIntervalMs: o.pinIntervalMs,
    crashAfter,
    logger,
    log: (level, msg, extra) => logger[level](extra ?? {}, msg),
  });
  if (allowOrigins.length === 0) logger.warn('no --allow-origin given: no web site can use the assistant, only its own pages');
  logger.info(
    {
      version: AGENT_VERSION,
      addresses: running.addresses,
      allowOrigins,
      modules,
      softTokens,
      config: configFile,
      ca: config?.ca,
    },
    'key assistant started',
  );
  process.stdout.write(`certdesk agent listening on ${running.url} (UKey 管理: ${running.url}/)\n`);
  closeOnSignals(() => running.close());
}
