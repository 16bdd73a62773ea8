import type { Command } from '../cli/command.ts';
import { bundleCommand } from './bundle.ts';
import { webhookCommand } from './webhook.ts';
import { hpaCommand } from './hpa.ts';
import { simulateCommand } from './simulate.ts';

/**
 * Every subcommand of the `karma-hpa` CLI, in the order `--help` lists them.
 * Each lives in its own module under generator/commands/.
 */
export const commands: Command[] = [
  bundleCommand,
  webhookCommand,
  hpaCommand,
  simulateCommand,
];
