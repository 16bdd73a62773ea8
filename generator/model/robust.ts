/**
 * Robust least squares: Huber-weighted iteratively reweighted least squares on small designs
 * (a handful of regressors), so that fault spikes in the training data do not drag the fit.
 */

export interface RobustFit {
  coefficients: number[];
  /** Robust scale of the residuals (1.4826 × median absolute residual). */
  scale: number;
  /** Share of variance explained on the rows used, 1 − Σr²/Σ(y−ȳ)² (ordinary, for reporting). */
  r2: number;
  iterations: number;
}

/** Solve the symmetric positive system A x = b (n small) by Gaussian elimination with partial pivoting and a ridge. */
export function solveLinear(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[pivot]![c]!)) pivot = r;
    [m[c], m[pivot]] = [m[pivot]!, m[c]!];
    const p = m[c]![c]!;
    if (Math.abs(p) < 1e-300) continue;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r]![c]! / p;
      if (f === 0) continue;
      for (let k = c; k <= n; k++) m[r]![k] = m[r]![k]! - f * m[c]![k]!;
    }
  }
  return m.map((row, i) => (Math.abs(row[i]!) < 1e-300 ? 0 : row[n]! / row[i]!));
}

export function medianOf(values: ArrayLike<number>): number {
  return quantile(values, 0.5);
}

/** Linear-interpolated quantile of finite values (NaN when none). */
export function quantile(values: ArrayLike<number>, q: number): number {
  const s = Array.from(values).filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const pos = (s.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export function iqr(values: ArrayLike<number>): number {
  return quantile(values, 0.75) - quantile(values, 0.25);
}

/**
 * Huber regression y ≈ X·β. Rows of X are the regressors (include a 1 for an intercept).
 * `k` is the Huber threshold in robust standard deviations (1.345 gives 95 % efficiency on normal noise).
 */
export function huberRegression(x: number[][], y: number[], opts: { k?: number; maxIterations?: number; ridge?: number } = {}): RobustFit {
  const k = opts.k ?? 1.345;
  const p = x[0]?.length ?? 0;
  const n = y.length;
  const ridge = opts.ridge ?? 1e-9;
  let beta = new Array<number>(p).fill(0);
  let weights = new Array<number>(n).fill(1);
  let scale = 0;
  let it = 0;
  for (; it < (opts.maxIterations ?? 50); it++) {
    const a = Array.from({ length: p }, () => new Array<number>(p).fill(0));
    const b = new Array<number>(p).fill(0);
    for (let i = 0; i < n; i++) {
      const w = weights[i]!;
      const xi = x[i]!;
      for (let r = 0; r < p; r++) {
        b[r] = b[r]! + w * xi[r]! * y[i]!;
        for (let c = 0; c < p; c++) a[r]![c] = a[r]![c]! + w * xi[r]! * xi[c]!;
      }
    }
    for (let r = 0; r < p; r++) a[r]![r] = a[r]![r]! * (1 + ridge) + ridge;
    const next = solveLinear(a, b);
    const residuals = y.map((yi, i) => yi - dot(x[i]!, next));
    scale = 1.4826 * medianOf(residuals.map(Math.abs));
    const change = next.reduce((m, v, i) => Math.max(m, Math.abs(v - beta[i]!)), 0);
    beta = next;
    if (!(scale > 0)) break;
    weights = residuals.map((r) => {
      const u = Math.abs(r) / scale;
      return u <= k ? 1 : k / u;
    });
    if (change < 1e-10 * (1 + Math.max(...beta.map(Math.abs)))) break;
  }
  const mean = y.reduce((s, v) => s + v, 0) / Math.max(1, n);
  let ssr = 0;
  let sst = 0;
  for (let i = 0; i < n; i++) {
    ssr += (y[i]! - dot(x[i]!, beta)) ** 2;
    sst += (y[i]! - mean) ** 2;
  }
  return { coefficients: beta, scale, r2: sst > 0 ? 1 - ssr / sst : 0, iterations: it + 1 };
}

/** Huber loss of residuals with threshold k·scale (for comparing model forms on the same data). */
export function huberLoss(residuals: number[], scale: number, k = 1.345): number {
  const t = k * (scale > 0 ? scale : 1e-12);
  let s = 0;
  for (const r of residuals) {
    const a = Math.abs(r);
    s += a <= t ? 0.5 * a * a : t * (a - 0.5 * t);
  }
  return s / Math.max(1, residuals.length);
}

function dot(a: number[], b: number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
