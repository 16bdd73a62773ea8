import { describe, expect, it } from 'vitest';
import type { Io } from '../../../generator/cli/command.ts';
import { Progress } from '../../../generator/cli/progress.ts';

function io(isTty: boolean): Io & { written: string[] } {
  const written: string[] = [];
  let clock = 0;
  return { written, out: () => {}, err: (t) => void written.push(t), isTty, cwd: '/', env: {}, now: () => (clock += 1000) };
}

describe('Progress', () => {
  it('on a terminal, a line between updates clears the bar, stands on its own, and the bar is redrawn below it', () => {
    const tty = io(true);
    const p = new Progress(tty, 'train', 10);
    p.update(4, 'return -80');
    p.line('after iteration 4: validation failed 6.2 % at 1.08 × tuned HPA');
    const [bar, line, redrawn] = tty.written;
    const clear = '\r\x1b[2K';
    expect(bar!.startsWith(`${clear}train `)).toBe(true);
    expect(bar).toMatch(/ 4\/10 .*return -80$/);
    expect(line).toBe('\r\x1b[2Kafter iteration 4: validation failed 6.2 % at 1.08 × tuned HPA\n');
    expect(redrawn!.startsWith(`${clear}train `)).toBe(true);
    expect(redrawn).toMatch(/ 4\/10 .*return -80$/);
    expect(tty.written).toHaveLength(3);
    // Before the first update there is no bar to redraw.
    const fresh = io(true);
    new Progress(fresh, 'train', 10).line('first');
    expect(fresh.written).toEqual(['\r\x1b[2Kfirst\n']);
  });
  it('in a log, a line is a plain line', () => {
    const plain = io(false);
    const p = new Progress(plain, 'train', 10);
    p.line('before any update');
    p.update(10);
    expect(plain.written[0]).toBe('before any update\n');
    expect(plain.written[1]).toMatch(/^train: 10\/10 \(100%\)/);
  });
  it('a run that stops early ends on how far it got, without claiming the total', () => {
    for (const isTty of [true, false]) {
      const out = io(isTty);
      const p = new Progress(out, 'train', 300);
      p.update(110, 'return -68');
      p.finish('converged', 110);
      expect(out.written.at(-1)).toBe(`${isTty ? '\r\x1b[2K' : ''}train: stopped at 110/300 converged\n`);
      expect(out.written.join('')).not.toContain('300/300');
    }
    const complete = io(false);
    new Progress(complete, 'train', 3).finish();
    expect(complete.written.at(-1)).toMatch(/^train: 3\/3 \(100%\)/);
  });
});
