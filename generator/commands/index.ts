import type { Command } from '../cli/command.ts';

/**
 * Every subcommand of the `karma-hpa` CLI, in the order `--help` lists them.
 * Each lives in its own module under generator/commands/.
 */
export const commands: Command[] = [];
