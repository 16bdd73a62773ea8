/**
 * Hierarchical agglomerative clustering with average linkage (UPGMA) on a precomputed distance
 * matrix, and cutting the tree into k clusters. Ties break on the lowest cluster ids, so the result
 * depends only on the matrix.
 */
import { distanceAt, type DistanceMatrix } from './dtw.ts';

/** One merge: clusters `a` and `b` (ids: leaves 0..n−1, merge i creates id n+i) at `height`. */
export interface Merge {
  a: number;
  b: number;
  height: number;
  size: number;
}

export interface Dendrogram {
  leaves: number;
  merges: Merge[];
}

/** Average-linkage agglomeration; O(n³) worst case, fine for the few hundred trajectories of a run. */
export function averageLinkage(d: DistanceMatrix): Dendrogram {
  const n = d.size;
  const merges: Merge[] = [];
  if (n <= 1) return { leaves: n, merges };
  // Working distances between active clusters, full square for simple updates.
  const dist = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) dist[i * n + j] = distanceAt(d, i, j);
  const active = new Array<boolean>(n).fill(true);
  const id = Array.from({ length: n }, (_, i) => i);
  const size = new Array<number>(n).fill(1);
  for (let step = 0; step < n - 1; step++) {
    let bi = -1;
    let bj = -1;
    let best = Infinity;
    for (let i = 0; i < n; i++) {
      if (!active[i]) continue;
      for (let j = i + 1; j < n; j++) {
        if (!active[j]) continue;
        const v = dist[i * n + j]!;
        if (v < best || (bi < 0)) {
          best = v;
          bi = i;
          bj = j;
        }
      }
    }
    const merged = size[bi]! + size[bj]!;
    const [a, b] = id[bi]! < id[bj]! ? [id[bi]!, id[bj]!] : [id[bj]!, id[bi]!];
    merges.push({ a, b, height: best, size: merged });
    for (let k = 0; k < n; k++) {
      if (!active[k] || k === bi || k === bj) continue;
      const v = (size[bi]! * dist[bi * n + k]! + size[bj]! * dist[bj * n + k]!) / merged;
      dist[bi * n + k] = v;
      dist[k * n + bi] = v;
    }
    active[bj] = false;
    size[bi] = merged;
    id[bi] = n + step;
  }
  return { leaves: n, merges };
}

/** Cluster label (0..k−1) per leaf after undoing the last k−1 merges; labels ordered by smallest leaf. */
export function cutTree(tree: Dendrogram, k: number): number[] {
  const n = tree.leaves;
  const keep = Math.max(0, n - Math.max(1, Math.min(k, n)));
  const parent = Array.from({ length: n + tree.merges.length }, (_, i) => i);
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]!]!;
      x = parent[x]!;
    }
    return x;
  };
  for (let i = 0; i < keep; i++) {
    const m = tree.merges[i]!;
    parent[find(m.a)] = n + i;
    parent[find(m.b)] = n + i;
  }
  const labelOf = new Map<number, number>();
  return Array.from({ length: n }, (_, leaf) => {
    const root = find(leaf);
    if (!labelOf.has(root)) labelOf.set(root, labelOf.size);
    return labelOf.get(root)!;
  });
}

/** Leaves in drawing order (a before b at every merge), so that no dendrogram branches cross. */
export function leafOrder(tree: Dendrogram): number[] {
  const n = tree.leaves;
  if (n === 0) return [];
  if (tree.merges.length === 0) return Array.from({ length: n }, (_, i) => i);
  const out: number[] = [];
  const stack = [n + tree.merges.length - 1];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node < n) out.push(node);
    else {
      const m = tree.merges[node - n]!;
      stack.push(m.b, m.a);
    }
  }
  return out;
}

/**
 * Purity of a clustering against reference labels: Σ over clusters of the size of its largest
 * reference class, divided by the number of items. 1 = every cluster holds one class only.
 */
export function purity(clusters: readonly number[], reference: readonly string[]): number {
  if (clusters.length === 0) return 1;
  const counts = new Map<number, Map<string, number>>();
  clusters.forEach((c, i) => {
    const m = counts.get(c) ?? new Map<string, number>();
    m.set(reference[i]!, (m.get(reference[i]!) ?? 0) + 1);
    counts.set(c, m);
  });
  let sum = 0;
  for (const m of counts.values()) sum += Math.max(...m.values());
  return sum / clusters.length;
}
