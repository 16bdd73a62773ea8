/**
 * Linear scales and "nice" axis ticks (steps of 1, 2, 2.5 or 5 × 10^k), so axes read like a person drew them.
 */

export interface Ticks {
  /** Axis bounds, extended outwards to whole steps. */
  lo: number;
  hi: number;
  step: number;
  values: number[];
}

const NICE_STEPS = [1, 2, 2.5, 5, 10];

/** Nice tick step for a range split into about `target` intervals. */
export function niceStep(range: number, target: number): number {
  if (!(range > 0) || !Number.isFinite(range)) return 1;
  const raw = range / Math.max(1, target);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / magnitude;
  const nice = NICE_STEPS.find((s) => fraction <= s + 1e-9) ?? 10;
  return nice * magnitude;
}

/**
 * Ticks covering [min, max] with about `target` intervals. A flat or empty range is widened so the
 * axis still shows a scale (a constant series sits mid-plot, not on the frame).
 */
export function niceTicks(min: number, max: number, target = 5): Ticks {
  let a = Number.isFinite(min) ? min : 0;
  let b = Number.isFinite(max) ? max : 1;
  if (a > b) [a, b] = [b, a];
  if (a === b) {
    const pad = a === 0 ? 1 : Math.abs(a) * 0.1;
    a -= pad;
    b += pad;
  }
  const step = niceStep(b - a, target);
  const lo = Math.floor(a / step + 1e-9) * step;
  const hi = Math.ceil(b / step - 1e-9) * step;
  const count = Math.round((hi - lo) / step);
  const values: number[] = [];
  for (let i = 0; i <= count; i++) values.push(cleanFloat(lo + i * step, step));
  return { lo: cleanFloat(lo, step), hi: cleanFloat(hi, step), step, values };
}

/** Remove accumulated floating error (0.30000000000000004 → 0.3) relative to the step's precision. */
function cleanFloat(v: number, step: number): number {
  const decimals = Math.max(0, Math.min(12, 2 - Math.floor(Math.log10(step))));
  const r = Number(v.toFixed(decimals));
  return Object.is(r, -0) ? 0 : r;
}

/** Map [d0, d1] linearly onto [r0, r1]. */
export function linearScale(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const span = d1 - d0;
  if (span === 0) return () => (r0 + r1) / 2;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

/** Min and max of the finite values in the given arrays; undefined when there are none. */
export function extent(arrays: Iterable<ArrayLike<number>>): [number, number] | undefined {
  let lo = Infinity;
  let hi = -Infinity;
  for (const arr of arrays) {
    for (let i = 0; i < arr.length; i++) {
      const v = arr[i]!;
      if (!Number.isFinite(v)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return lo <= hi ? [lo, hi] : undefined;
}
