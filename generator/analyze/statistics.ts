import { meanConfidence95 } from '../twin/metrics.ts';

/** Mean with a 95 % confidence interval (Student t, two-sided), as the evaluation tables report it. */

export interface MeanCi {
  mean: number;
  /** Half-width of the interval; 0 with a single value, NaN with none. */
  halfWidth: number;
  n: number;
}

export function meanCi95(values: readonly number[]): MeanCi {
  const c = meanConfidence95(values.filter((v) => Number.isFinite(v)));
  // Reports need a number for one seed; the interval is then shown as zero-width and the seed count says why.
  return { mean: c.mean, halfWidth: c.n === 1 ? 0 : c.halfWidth, n: c.n };
}
