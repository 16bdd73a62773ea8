import type { Io } from '../../generator/cli/command.ts';

/** An Io that records what a command prints, with a fixed clock and no terminal. */
export function captureIo(opts: { cwd?: string; env?: Record<string, string | undefined>; now?: () => number } = {}): Io & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    isTty: false,
    cwd: opts.cwd ?? process.cwd(),
    env: opts.env ?? {},
    now: opts.now ?? (() => 0),
    stdout: () => out,
    stderr: () => err,
  };
}
