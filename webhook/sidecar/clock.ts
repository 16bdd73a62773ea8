/**
 * Time for the sidecar's loop, injected so the control logic never reads the wall clock itself:
 * production uses the system timers, tests drive a ManualScheduler and advance time without sleeping.
 */
export interface Scheduler {
  /** Epoch milliseconds. */
  now(): number;
  setTimeout(fn: () => unknown, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Resolve after `ms` of this scheduler's time. */
  sleep(ms: number): Promise<void>;
}

export const systemScheduler: Scheduler = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(() => void fn(), Math.max(0, ms)),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};

interface Timer { id: number; due: number; seq: number; fn: () => unknown; sleep?: boolean }

/**
 * A scheduler whose time moves only when `advance` is called. Timers fire in due order; asynchronous
 * work a timer starts (HTTP calls, retries that sleep) is awaited, and timers it registers meanwhile
 * fire too if they fall inside the advanced span.
 */
export class ManualScheduler implements Scheduler {
  private nowMs: number;
  private timers: Timer[] = [];
  private seq = 0;
  private readonly inflight = new Set<Promise<unknown>>();
  private wake: (() => void) | undefined;

  constructor(startMs: number) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  setTimeout(fn: () => unknown, ms: number): unknown {
    const timer: Timer = { id: ++this.seq, due: this.nowMs + Math.max(0, ms), seq: this.seq, fn };
    this.timers.push(timer);
    this.wake?.();
    return timer.id;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const id = this.setTimeout(resolve, ms);
      const timer = this.timers.find((t) => t.id === id);
      if (timer) timer.sleep = true;
    });
  }

  pendingTimers(): number {
    return this.timers.length;
  }

  /**
   * Move time forward by `ms`, running every timer that falls due and the work it starts. The next
   * timer fires only once the running work has finished or is itself asleep on this clock, so a
   * tick's HTTP calls complete at the instant the tick started.
   */
  async advance(ms: number): Promise<void> {
    const target = this.nowMs + ms;
    for (;;) {
      const sleeping = this.timers.filter((t) => t.sleep).length;
      if (this.inflight.size > sleeping) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
        continue;
      }
      const due = this.timers.filter((t) => t.due <= target).sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.nowMs = Math.max(this.nowMs, due.due);
      const work = Promise.resolve().then(due.fn).catch(() => undefined);
      this.inflight.add(work);
      void work.finally(() => {
        this.inflight.delete(work);
        this.wake?.();
      });
    }
    this.nowMs = Math.max(this.nowMs, target);
  }
}
