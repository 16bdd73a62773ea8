/**
 * k-means with k-means++ seeding (Arthur & Vassilvitskii), seeded through Rng so the same points and
 * seed give the same clusters. Points are rows of a flat Float64Array (n × d).
 */
import { Rng } from '../../policies/random.ts';

export interface KMeansResult {
  k: number;
  dims: number;
  /** k × d, row-major. */
  centroids: Float64Array;
  assignment: Int32Array;
  inertia: number;
  iterations: number;
}

export function kmeans(points: Float64Array, dims: number, k: number, seed: number, maxIterations = 50): KMeansResult {
  const n = dims > 0 ? points.length / dims : 0;
  if (!Number.isInteger(n)) throw new RangeError(`kmeans: ${points.length} values are not rows of ${dims}`);
  const kk = Math.max(1, Math.min(k, n));
  const rng = new Rng(seed);
  const centroids = new Float64Array(kk * dims);
  const assignment = new Int32Array(n);
  if (n === 0) return { k: 0, dims, centroids: new Float64Array(0), assignment, inertia: 0, iterations: 0 };
  // Seeding: first centre uniform, then each next with probability ∝ squared distance to the nearest centre.
  const nearest = new Float64Array(n).fill(Infinity);
  let chosen = rng.int(n);
  let found = 1;
  centroids.set(points.subarray(chosen * dims, chosen * dims + dims), 0);
  for (let c = 1; c < kk; c++) {
    let total = 0;
    for (let i = 0; i < n; i++) {
      const d = sqDist(points, i * dims, centroids, (c - 1) * dims, dims);
      if (d < nearest[i]!) nearest[i] = d;
      total += nearest[i]!;
    }
    if (total === 0) break; // fewer distinct points than k
    let r = rng.next() * total;
    chosen = n - 1;
    for (let i = 0; i < n; i++) {
      r -= nearest[i]!;
      if (r < 0) {
        chosen = i;
        break;
      }
    }
    centroids.set(points.subarray(chosen * dims, chosen * dims + dims), c * dims);
    found++;
  }
  const kFinal = found;
  const cents = centroids.subarray(0, kFinal * dims);
  let iterations = 0;
  let inertia = 0;
  const sums = new Float64Array(kFinal * dims);
  const counts = new Int32Array(kFinal);
  for (; iterations < maxIterations; iterations++) {
    let changed = iterations === 0;
    inertia = 0;
    for (let i = 0; i < n; i++) {
      const [best, d] = closest(points, i * dims, cents, kFinal, dims);
      if (assignment[i] !== best) changed = true;
      assignment[i] = best;
      inertia += d;
    }
    if (!changed) break;
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const c = assignment[i]!;
      counts[c]!++;
      for (let j = 0; j < dims; j++) sums[c * dims + j]! += points[i * dims + j]!;
    }
    for (let c = 0; c < kFinal; c++) {
      // An emptied cluster keeps its centre rather than jumping somewhere arbitrary.
      if (counts[c] === 0) continue;
      for (let j = 0; j < dims; j++) cents[c * dims + j] = sums[c * dims + j]! / counts[c]!;
    }
  }
  return { k: kFinal, dims, centroids: Float64Array.from(cents), assignment, inertia, iterations };
}

/** Index of the nearest centroid to row `offset` of `points`, and its squared distance. */
export function closest(points: ArrayLike<number>, offset: number, centroids: Float64Array, k: number, dims: number): [number, number] {
  let best = 0;
  let bestD = Infinity;
  for (let c = 0; c < k; c++) {
    const d = sqDist(points, offset, centroids, c * dims, dims);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return [best, bestD];
}

function sqDist(a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number, dims: number): number {
  let s = 0;
  for (let j = 0; j < dims; j++) {
    const d = a[ao + j]! - b[bo + j]!;
    s += d * d;
  }
  return s;
}
