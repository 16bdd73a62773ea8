import type { Io } from './command.ts';

/**
 * Progress for long work: a redrawn bar with ETA on an interactive terminal, and plain,
 * rate-limited lines elsewhere (CI logs). Time comes from the injected clock.
 */
export class Progress {
  private readonly io: Io;
  private readonly label: string;
  private readonly total: number;
  private readonly started: number;
  private lastDraw = -Infinity;
  private lastPlainPercent = -1;
  private done = 0;
  private lastNote = '';

  constructor(io: Io, label: string, total: number) {
    this.io = io;
    this.label = label;
    this.total = Math.max(1, total);
    this.started = io.now();
  }

  /** Advance to `done` units; `note` is a short status such as the current mean return. */
  update(done: number, note = ''): void {
    this.done = Math.min(done, this.total);
    this.lastNote = note;
    const now = this.io.now();
    const fraction = this.done / this.total;
    if (this.io.isTty) {
      if (now - this.lastDraw < 100 && this.done < this.total) return;
      this.lastDraw = now;
      const width = 24;
      const filled = Math.round(fraction * width);
      const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
      this.io.err(`\r\x1b[2K${this.label} ${bar} ${(fraction * 100).toFixed(0).padStart(3)}% ${this.done}/${this.total} ETA ${formatDuration(this.eta(now))}${note ? ` ${note}` : ''}`);
    } else {
      const percent = Math.floor(fraction * 10) * 10;
      if (percent === this.lastPlainPercent && this.done < this.total) return;
      this.lastPlainPercent = percent;
      this.io.err(`${this.label}: ${this.done}/${this.total} (${percent}%) eta ${formatDuration(this.eta(now))}${note ? ` ${note}` : ''}\n`);
    }
  }

  /** A line of its own (e.g. a validation) between updates; on a terminal the bar is cleared first and redrawn below it. */
  line(text: string): void {
    if (!this.io.isTty) {
      this.io.err(`${text}\n`);
      return;
    }
    this.io.err(`\r\x1b[2K${text}\n`);
    if (this.done > 0) {
      this.lastDraw = -Infinity;
      this.update(this.done, this.lastNote);
    }
  }

  /**
   * The end. `done` below the total is a run that stopped early (a training at convergence): the last
   * line says how far it got, with no ETA.
   */
  finish(note = '', done = this.total): void {
    if (done >= this.total) {
      this.update(this.total, note);
      if (this.io.isTty) this.io.err('\n');
      return;
    }
    this.done = Math.max(0, done);
    const text = `${this.label}: stopped at ${this.done}/${this.total}${note ? ` ${note}` : ''}`;
    this.io.err(this.io.isTty ? `\r\x1b[2K${text}\n` : `${text}\n`);
  }

  private eta(now: number): number {
    if (this.done <= 0) return NaN;
    const elapsed = now - this.started;
    return (elapsed / this.done) * (this.total - this.done);
  }
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '--:--';
  const s = Math.round(ms / 1000);
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  return h > 0 ? `${h}h${String(m % 60).padStart(2, '0')}m` : `${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}
