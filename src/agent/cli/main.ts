// The packaged key assistant's command, `certdesk-agent` (npm run package:agent): runs the assistant
// with the CA's configuration beside the executable, or lists the keys. It carries only src/agent/
// and what that imports from src/pki/, src/pkcs11/ and src/shared/ (test/agent-imports.test.ts).
import { Command, CommanderError } from 'commander';
import { UsageError } from '../../shared/usage-error.js';
import { AgentConfigError, configBesideExecutable } from '../config/ca-config.js';
import { AGENT_VERSION } from '../version.js';
import { addListOptions, listTokens } from './list.js';
import { addRunOptions, runAgent, type RunOptions } from './run.js';

function fail(e: unknown): never {
  const message = (e as Error)?.message ?? String(e);
  process.stderr.write(`certdesk-agent: ${e instanceof AgentConfigError ? `refusing to start: ${message}` : message}\n`);
  if (process.env.CERTDESK_DEBUG) process.stderr.write(`${(e as Error)?.stack ?? ''}\n`);
  process.exit(e instanceof UsageError ? 2 : 1);
}

const program = new Command()
  .name('certdesk-agent')
  .description(
    '协卡助手 — the key assistant: connects the CA portal in the browser to your USB key. UKey 管理: http://127.0.0.1:51234/',
  )
  .version(AGENT_VERSION)
  .showHelpAfterError()
  .exitOverride();

addRunOptions(program.command('run', { isDefault: true }).description('run the assistant (the default)')).action(
  (o: RunOptions) => runAgent(o, { configFile: configBesideExecutable() }),
);
addListOptions(program.command('list').description('list keys and their certificates (no PIN needed)')).action(listTokens);

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof CommanderError) process.exit(e.exitCode);
  fail(e);
});
