/**
 * Dynamic time warping between two numeric sequences with a Sakoe–Chiba band: cell (i, j) is reachable
 * only when |i − j'| ≤ w, where j' is j rescaled to the first sequence's length, so the cost is
 * O(n·w) time and O(w) memory. Local cost |a_i − b_j|; steps (i−1, j), (i, j−1), (i−1, j−1).
 */

/** DTW distance (sum of local costs along the best warping path); Infinity when no path fits the band. */
export function dtwDistance(a: ArrayLike<number>, b: ArrayLike<number>, band: number): number {
  const n = a.length;
  const m = b.length;
  if (n === 0 && m === 0) return 0;
  if (n === 0 || m === 0) return Infinity;
  // The band must at least cover the length difference, or no path reaches (n−1, m−1).
  const w = Math.max(Math.floor(band), Math.abs(n - m));
  const width = 2 * w + 1;
  // Row i holds columns [centre(i) − w, centre(i) + w] clipped to [0, m); centre(i) = round(i·(m−1)/(n−1)).
  const ratio = n > 1 ? (m - 1) / (n - 1) : 0;
  const bv = Float64Array.from(b);
  let prev = new Float64Array(width);
  let curr = new Float64Array(width);
  let prevStart = 0;
  let prevLo = 0;
  let prevHi = -1;
  for (let i = 0; i < n; i++) {
    const start = Math.round(i * ratio) - w;
    const lo = start > 0 ? start : 0;
    const hi = start + width - 1 < m - 1 ? start + width - 1 : m - 1;
    const ai = a[i]!;
    let left = Infinity;
    for (let j = lo; j <= hi; j++) {
      const d = ai - bv[j]!;
      const cost = d < 0 ? -d : d;
      let best = left; // (i, j−1)
      if (j >= prevLo && j <= prevHi) {
        const up = prev[j - prevStart]!; // (i−1, j)
        if (up < best) best = up;
      }
      if (j - 1 >= prevLo && j - 1 <= prevHi) {
        const diag = prev[j - 1 - prevStart]!; // (i−1, j−1)
        if (diag < best) best = diag;
      }
      if (i === 0 && j === 0) best = 0;
      left = best + cost;
      curr[j - start] = left;
    }
    const swap = prev;
    prev = curr;
    curr = swap;
    prevStart = start;
    prevLo = lo;
    prevHi = hi;
  }
  return m - 1 >= prevLo && m - 1 <= prevHi ? prev[m - 1 - prevStart]! : Infinity;
}

/** Condensed symmetric distance matrix (row-major upper triangle without the diagonal). */
export interface DistanceMatrix {
  size: number;
  /** d(i, j) for i < j at index i·size − i(i+1)/2 + (j − i − 1). */
  values: Float64Array;
}

export function pairIndex(size: number, i: number, j: number): number {
  const [a, b] = i < j ? [i, j] : [j, i];
  return a * size - (a * (a + 1)) / 2 + (b - a - 1);
}

export function distanceAt(d: DistanceMatrix, i: number, j: number): number {
  return i === j ? 0 : d.values[pairIndex(d.size, i, j)]!;
}

/** All pairwise DTW distances between the sequences. */
export function dtwMatrix(sequences: readonly ArrayLike<number>[], band: number): DistanceMatrix {
  const size = sequences.length;
  const values = new Float64Array((size * (size - 1)) / 2);
  let k = 0;
  for (let i = 0; i < size; i++) for (let j = i + 1; j < size; j++) values[k++] = dtwDistance(sequences[i]!, sequences[j]!, band);
  return { size, values };
}
