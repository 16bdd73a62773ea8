/** Mean with a 95 % confidence interval (Student t, two-sided), as the evaluation tables report it. */

// 97.5 % quantiles of Student's t for 1..30 degrees of freedom; 1.96 beyond.
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

export interface MeanCi {
  mean: number;
  /** Half-width of the interval; 0 with a single value, NaN with none. */
  halfWidth: number;
  n: number;
}

export function meanCi95(values: readonly number[]): MeanCi {
  const xs = values.filter((v) => Number.isFinite(v));
  const n = xs.length;
  if (n === 0) return { mean: Number.NaN, halfWidth: Number.NaN, n: 0 };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, halfWidth: 0, n };
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  const t = n - 1 <= 30 ? T975[n - 2]! : 1.96;
  return { mean, halfWidth: (t * sd) / Math.sqrt(n), n };
}
