// `certdesk agent`: runs the key assistant (协卡助手) on the holder's computer. The options and the
// start-up are the assistant's own (src/agent/cli/), shared with the packaged `certdesk-agent`.
import type { Command } from 'commander';
import { addRunOptions, runAgent, type RunOptions } from '../agent/cli/run.js';
import { action } from './errors.js';

export function registerAgentCommands(program: Command): void {
  addRunOptions(
    program
      .command('agent')
      .description(
        'run the key assistant (协卡助手): a local API on 127.0.0.1 for the CA portal, and the UKey 管理 page at http://127.0.0.1:PORT/',
      ),
  ).action(action((o: RunOptions) => runAgent(o)));
}
