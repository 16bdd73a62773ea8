import type { Command } from '../cli/command.ts';
import { modelCommand } from './model.ts';
import { bundleCommand } from './bundle.ts';
import { publishCommand } from './publish.ts';
import { webhookCommand } from './webhook.ts';
import { hpaCommand } from './hpa.ts';
import { simulateCommand } from './simulate.ts';
import { trainCommand } from './train.ts';
import { evaluateCommand } from './evaluate.ts';
import { analyzeCommand } from './analyze.ts';
import { diffCommand } from './diff.ts';
import { sidecarCommand } from './sidecar.ts';
import { generateCommand } from './generate.ts';

/**
 * Every subcommand of the `karma-hpa` CLI, in the order `--help` lists them.
 * Each lives in its own module under generator/commands/.
 */
export const commands: Command[] = [
  generateCommand,
  modelCommand,
  bundleCommand,
  publishCommand,
  webhookCommand,
  hpaCommand,
  simulateCommand,
  trainCommand,
  evaluateCommand,
  analyzeCommand,
  diffCommand,
  sidecarCommand,
];
