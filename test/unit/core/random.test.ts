import { describe, expect, it } from 'vitest';
import { Rng } from '../../../policies/random.ts';

describe('Rng', () => {
  it('repeats the same stream for the same seed and differs for another seed', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 20 }, () => a.nextUint32());
    const sb = Array.from({ length: 20 }, () => b.nextUint32());
    const sc = Array.from({ length: 20 }, () => c.nextUint32());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
  });

  it('draws uniform values in [0,1) with the right mean', () => {
    const r = new Rng(7);
    let sum = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const v = r.next();
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(1);
      sum += v;
    }
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.01);
  });

  it('draws normals with mean 0 and variance 1, and Poisson counts with the given mean', () => {
    const r = new Rng(3);
    const n = 20000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const v = r.normal();
      s += v;
      s2 += v * v;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.03);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.05);
    for (const lambda of [0.5, 4, 80]) {
      let total = 0;
      for (let i = 0; i < 5000; i++) total += r.poisson(lambda);
      expect(Math.abs(total / 5000 - lambda) / lambda).toBeLessThan(0.06);
    }
  });

  it('forks independent, reproducible child streams', () => {
    const a = new Rng(1).fork(5);
    const b = new Rng(1).fork(5);
    const c = new Rng(1).fork(6);
    expect(a.nextUint32()).toBe(b.nextUint32());
    expect(new Rng(1).fork(5).nextUint32()).not.toBe(c.nextUint32());
  });
});
