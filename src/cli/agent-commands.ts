// `certdesk agent`: runs the key assistant (协卡助手) on the holder's computer.
import { homedir } from 'node:os';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { isWebOrigin } from '../pki/login-challenge.js';
import { action, UsageError } from './errors.js';
import { uniqueIdOidOption } from './util.js';
import { closeOnSignals } from './shutdown.js';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

function portOption(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new UsageError(`--port must be 0–65535, got ${JSON.stringify(v)}`);
  return Number(v);
}

function msOption(flag: string): (v: string) => number {
  return (v) => {
    if (!/^\d+$/.test(v) || Number(v) < 0 || Number(v) > 600_000) throw new UsageError(`${flag} must be 0–600000 milliseconds`);
    return Number(v);
  };
}

/** Where journals were kept before they moved next to each key (still searched). */
const LEGACY_JOURNAL_DIR = path.join(homedir(), '.certdesk-agent');

export function registerAgentCommands(program: Command): void {
  program
    .command('agent')
    .description(
      'run the key assistant (协卡助手): a local API on 127.0.0.1 for the CA portal, and the UKey 管理 page at http://127.0.0.1:PORT/',
    )
    .option('--port <n>', 'listen port on 127.0.0.1 and [::1] (0 picks a free one)', portOption, 51234)
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
    )
    .action(
      action(async (o: Record<string, unknown>) => {
        const allowOrigins = o.allowOrigin as string[];
        for (const origin of allowOrigins) {
          if (!isWebOrigin(origin)) {
            throw new UsageError(
              `--allow-origin must be an origin like https://portal.example or http://127.0.0.1:8080 (no path, no trailing slash), got ${JSON.stringify(origin)}`,
            );
          }
        }
        const modules = o.pkcs11Module as string[];
        const softTokens = (o.softToken as string[]).map((f) => path.resolve(f));
        if (modules.length === 0 && softTokens.length === 0) {
          throw new UsageError('give at least one --pkcs11-module (a hardware key vendor module) or --soft-token file');
        }
        const uniqueIdOid = o.uniqueIdOid as string | undefined;
        const crashAfter = process.env.CERTDESK_AGENT_CRASH_AFTER || undefined;

        const { default: pino } = await import('pino');
        const { startAgentServer } = await import('../agent/server/start.js');
        const { isRenewalStep } = await import('../agent/install/journal.js');
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
          port: o.port as number,
          allowOrigins,
          pkcs11Modules: modules,
          softTokens,
          journalDir: o.journalDir === undefined ? undefined : path.resolve(String(o.journalDir)),
          legacyJournalDirs: [LEGACY_JOURNAL_DIR],
          keepOld: Boolean(o.keepOld),
          uniqueIdOid,
          pollMs: o.pollMs as number,
          pinIntervalMs: o.pinIntervalMs as number,
          crashAfter,
          logger,
          log: (level, msg, extra) => logger[level](extra ?? {}, msg),
        });
        if (allowOrigins.length === 0)
          logger.warn('no --allow-origin given: no web site can use the assistant, only its own pages');
        logger.info({ addresses: running.addresses, allowOrigins, modules, softTokens }, 'key assistant started');
        process.stdout.write(`certdesk agent listening on ${running.url} (UKey 管理: ${running.url}/)\n`);
        closeOnSignals(() => running.close());
      }),
    );
}
