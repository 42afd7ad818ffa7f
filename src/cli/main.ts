// The `certdesk` command.
import { Command, CommanderError } from 'commander';
import { registerAgentCommands } from './agent-commands.js';
import { registerAgentConfigCommands } from './agent-config-commands.js';
import { registerAuditCommands } from './audit-commands.js';
import { registerCaCommands } from './ca-commands.js';
import { registerOrderCommands } from './order-commands.js';
import { reportAndExit } from './errors.js';
import { registerServeCommand } from './serve-command.js';
import { registerStaffCommands } from './staff-commands.js';
import { registerDemoCommand } from './demo-command.js';
import { registerKmcCommands } from './kmc-commands.js';
import { registerTokenCommands } from './token-commands.js';
import { registerNotifyCommands } from './notify-commands.js';
import { registerSealCommands } from './seal-commands.js';

const program = new Command();
program
  .name('certdesk')
  .description(
    'certdesk — certificate self-service for a certificate authority.\nConfiguration comes from the environment: PORT, DATA_DIR, DATABASE_URL, PUBLIC_URL … (see README).',
  )
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

registerServeCommand(program);
registerDemoCommand(program);
registerCaCommands(program);
registerAuditCommands(program);
registerOrderCommands(program);
registerStaffCommands(program);
registerKmcCommands(program);
registerSealCommands(program);
registerNotifyCommands(program);
registerAgentCommands(program);
registerAgentConfigCommands(program);
registerTokenCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode);
  reportAndExit(e);
}
