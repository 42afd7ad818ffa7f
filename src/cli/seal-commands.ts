// `certdesk seal …`: electronic seals (电子印章). Each subcommand lives in its own file.
import type { Command } from 'commander';
import { registerSealSignatureCommand } from './seal-signature-command.js';

export function registerSealCommands(program: Command): void {
  const seal = program.command('seal').description('electronic seals (GB/T 38540): verify seals and signatures made with them');
  registerSealSignatureCommand(seal);
}
