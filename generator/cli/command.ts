import { parseArgs, type ParseArgsConfig } from 'node:util';
import { KarmaError } from '../../policies/errors.ts';

/** The terminal a command talks to. Injected so tests can capture output and fix the clock. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** True when stderr is an interactive terminal (progress bars), false in CI and pipes. */
  isTty: boolean;
  cwd: string;
  env: Record<string, string | undefined>;
  now: () => number;
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & { description: string; valueName?: string };

export interface Command {
  name: string;
  summary: string;
  /** Usage line after `karma-hpa <name>`, e.g. `--topology NAME [--seed N]`. */
  usage: string;
  options: Record<string, OptionSpec>;
  /** Extra help text (examples, notes). */
  details?: string;
  allowPositionals?: boolean;
  run: (args: ParsedArgs, io: Io) => Promise<number>;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

export function helpText(cmd: Command): string {
  const lines = [`karma-hpa ${cmd.name} — ${cmd.summary}`, '', `usage: karma-hpa ${cmd.name} ${cmd.usage}`.trimEnd(), '', 'options:'];
  const entries = Object.entries({ ...cmd.options, help: { type: 'boolean', short: 'h', description: 'show this help' } as OptionSpec });
  const labels = entries.map(([name, o]) => `  ${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.valueName ?? name.toUpperCase()}` : ''}`);
  const width = Math.max(...labels.map((l) => l.length)) + 2;
  entries.forEach(([, o], i) => {
    const def = o.default !== undefined ? ` (default: ${String(o.default)})` : '';
    lines.push(`${labels[i]!.padEnd(width)}${o.description}${def}`);
  });
  if (cmd.details) lines.push('', cmd.details.trim());
  return `${lines.join('\n')}\n`;
}

export function parseCommandArgs(cmd: Command, argv: string[]): ParsedArgs | 'help' {
  const options: ParseArgsConfig['options'] = { help: { type: 'boolean', short: 'h' } };
  for (const [name, o] of Object.entries(cmd.options)) {
    const { description: _d, valueName: _v, ...rest } = o;
    options[name] = rest;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: cmd.allowPositionals ?? false, strict: true });
  } catch (e) {
    throw new KarmaError((e as Error).message, { where: `karma-hpa ${cmd.name}`, hint: `run 'karma-hpa ${cmd.name} --help' for the options` });
  }
  if (parsed.values.help) return 'help';
  return { values: parsed.values as ParsedArgs['values'], positionals: parsed.positionals };
}

/** Read a string option, throwing a clear error when a required one is missing. */
export function stringOpt(args: ParsedArgs, name: string, cmdName: string, required: true): string;
export function stringOpt(args: ParsedArgs, name: string, cmdName: string, required?: false): string | undefined;
export function stringOpt(args: ParsedArgs, name: string, cmdName: string, required = false): string | undefined {
  const v = args.values[name];
  if (v === undefined || v === '') {
    if (required) throw new KarmaError(`missing required option --${name}`, { where: `karma-hpa ${cmdName}`, hint: `run 'karma-hpa ${cmdName} --help'` });
    return undefined;
  }
  if (Array.isArray(v)) return String(v[v.length - 1]);
  return String(v);
}

/** Parse an integer option within bounds, naming the option in the error. */
export function intOpt(args: ParsedArgs, name: string, cmdName: string, fallback: number, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  const raw = stringOpt(args, name, cmdName);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new KarmaError(`--${name} must be an integer between ${min} and ${max}, got "${raw}"`, { where: `karma-hpa ${cmdName}` });
  }
  return n;
}

/** Parse a positive number option, naming the option in the error. */
export function floatOpt(args: ParsedArgs, name: string, cmdName: string, fallback: number): number {
  const raw = stringOpt(args, name, cmdName);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new KarmaError(`--${name} must be a positive number, got "${raw}"`, { where: `karma-hpa ${cmdName}` });
  return n;
}

/** Repeatable or comma-separated list option: `--seeds 1,2 --seeds 3` → ['1','2','3']. */
export function listOpt(args: ParsedArgs, name: string): string[] {
  const v = args.values[name];
  if (v === undefined) return [];
  const items = Array.isArray(v) ? v.map(String) : [String(v)];
  return items.flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s.length > 0);
}
