import { describe, expect, it } from 'vitest';
import { parseQuantityMilli, quantityToMilli } from '../../../generator/twin/hpa/index.ts';

describe('Kubernetes quantities to milli-units', () => {
  it.each([
    ['500m', 500],
    ['1', 1000],
    ['1.5', 1500],
    ['0.1', 100],
    ['.5', 500],
    ['250Mi', 250 * 1024 * 1024 * 1000],
    ['1Ki', 1_024_000],
    ['2Gi', 2 * 1024 ** 3 * 1000],
    ['1k', 1_000_000],
    ['3M', 3_000_000_000],
    ['450000000n', 450],
    ['1n', 1], // a fraction of a milli-unit rounds up
    ['1500u', 2],
    ['2e3', 2_000_000],
    ['1E-3', 1],
    ['+7', 7000],
    [' 42 ', 42_000],
  ])('%s → %d', (text, milli) => {
    expect(parseQuantityMilli(text)).toEqual({ ok: true, milli });
  });

  it.each(['', 'abc', '12 cores', '1.2.3', '5mi', '1KiB', 'm', '--1', '1e'])('rejects %j', (text) => {
    const r = parseQuantityMilli(text);
    expect(r.ok).toBe(false);
  });

  it('takes JSON numbers as base units without float noise', () => {
    expect(quantityToMilli(0.1)).toEqual({ ok: true, milli: 100 });
    expect(quantityToMilli(0.3)).toEqual({ ok: true, milli: 300 });
    expect(quantityToMilli(2.5)).toEqual({ ok: true, milli: 2500 });
    expect(quantityToMilli(1e21).ok).toBe(false);
    expect(quantityToMilli(Number.NaN).ok).toBe(false);
  });
});
