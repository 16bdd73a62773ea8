import pkg from '../../package.json' with { type: 'json' };
import { isKarmaError } from '../../policies/errors.ts';
import { helpText, parseCommandArgs, type Io } from './command.ts';
import { commands } from '../commands/index.ts';

/** The generator's version: package.json is its one source (it also goes into bundle provenance). */
export const VERSION: string = pkg.version;

function topHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    `karma-hpa ${VERSION} — resilient Kubernetes autoscaling designed by multi-agent RL in a digital twin`,
    '',
    'usage: karma-hpa <command> [options]      (karma-hpa <command> --help for its options)',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
  ].join('\n');
}

/** Run the CLI; returns the exit code. Errors meant for people print without a stack trace. */
export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(topHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    io.out(`${VERSION}\n`);
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    io.err(`karma-hpa: unknown command "${name}"\n  hint: one of ${commands.map((c) => c.name).join(', ')}; run 'karma-hpa --help'\n`);
    return 2;
  }
  try {
    const parsed = parseCommandArgs(cmd, rest);
    if (parsed === 'help') {
      io.out(helpText(cmd));
      return 0;
    }
    return await cmd.run(parsed, io);
  } catch (e) {
    if (isKarmaError(e)) {
      io.err(`karma-hpa ${cmd.name}: error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

export function processIo(): Io {
  return {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    isTty: Boolean(process.stderr.isTTY) && !process.env.CI,
    cwd: process.cwd(),
    env: process.env,
    now: () => Date.now(),
  };
}
