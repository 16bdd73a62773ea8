import { describe, expect, it } from 'vitest';
import { ManualScheduler } from '../../../webhook/sidecar/clock.ts';

describe('ManualScheduler', () => {
  it('fires timers in due order and only when time reaches them', async () => {
    const s = new ManualScheduler(1000);
    const fired: string[] = [];
    s.setTimeout(() => fired.push(`b@${s.now()}`), 200);
    s.setTimeout(() => fired.push(`a@${s.now()}`), 100);
    s.setTimeout(() => fired.push(`c@${s.now()}`), 500);
    await s.advance(300);
    expect(fired).toEqual(['a@1100', 'b@1200']);
    expect(s.now()).toBe(1300);
    await s.advance(200);
    expect(fired).toEqual(['a@1100', 'b@1200', 'c@1500']);
  });

  it('lets running work sleep on the same clock within the advanced span', async () => {
    const s = new ManualScheduler(0);
    const trace: number[] = [];
    s.setTimeout(async () => {
      trace.push(s.now());
      await s.sleep(50);
      trace.push(s.now());
      await s.sleep(5_000);
      trace.push(s.now());
    }, 10);
    await s.advance(1_000);
    expect(trace).toEqual([10, 60]);
    await s.advance(5_000);
    expect(trace).toEqual([10, 60, 5060]);
  });

  it('cancels cleared timers', async () => {
    const s = new ManualScheduler(0);
    let fired = false;
    const t = s.setTimeout(() => { fired = true; }, 10);
    s.clearTimeout(t);
    await s.advance(100);
    expect(fired).toBe(false);
    expect(s.pendingTimers()).toBe(0);
  });
});
