/**
 * CART classification tree (Breiman et al.): binary splits `x_f <= t`, Gini impurity, greedy best split
 * per node, limited depth and a minimum number of samples per leaf so the tree stays readable.
 * Thresholds are midpoints between consecutive distinct values of a feature.
 */

export interface CartOptions {
  maxDepth?: number;
  minSamplesLeaf?: number;
  /** A split must lower the weighted Gini impurity by at least this share of the node's samples. */
  minImpurityDecrease?: number;
}

export type CartNode =
  | { kind: 'leaf'; prediction: number; counts: number[]; samples: number }
  | { kind: 'split'; feature: number; threshold: number; left: CartNode; right: CartNode; samples: number; counts: number[] };

export interface CartTree {
  root: CartNode;
  classes: number;
  features: number;
  /** Total impurity decrease per feature, normalised to sum 1 (all 0 for a single leaf). */
  importance: number[];
  depth: number;
  leaves: number;
}

/** Fit a tree to rows of `x` (n × d, row-major) with class labels `y` in 0..classes−1. */
export function fitCart(x: ArrayLike<number>, d: number, y: ArrayLike<number>, classes: number, options: CartOptions = {}): CartTree {
  const n = y.length;
  const maxDepth = options.maxDepth ?? 4;
  const minLeaf = Math.max(1, options.minSamplesLeaf ?? 5);
  const minDecrease = options.minImpurityDecrease ?? 0;
  const importance = new Float64Array(d);
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  let leaves = 0;

  const countsOf = (rows: Int32Array): number[] => {
    const c = new Array<number>(classes).fill(0);
    for (let i = 0; i < rows.length; i++) c[y[rows[i]!]!]!++;
    return c;
  };
  const argmax = (c: number[]): number => {
    let best = 0;
    for (let k = 1; k < c.length; k++) if (c[k]! > c[best]!) best = k;
    return best;
  };

  const build = (rows: Int32Array, depth: number): CartNode => {
    const counts = countsOf(rows);
    const m = rows.length;
    const parentGini = gini(counts, m);
    const leaf = (): CartNode => {
      leaves++;
      return { kind: 'leaf', prediction: argmax(counts), counts, samples: m };
    };
    if (depth >= maxDepth || m < 2 * minLeaf || parentGini === 0) return leaf();
    let bestFeature = -1;
    let bestThreshold = 0;
    let bestScore = parentGini * m; // weighted impurity of the children, to minimise
    const order = new Int32Array(m);
    const values = new Float64Array(m);
    const left = new Array<number>(classes);
    for (let f = 0; f < d; f++) {
      for (let i = 0; i < m; i++) order[i] = rows[i]!;
      order.sort((a, b) => x[a * d + f]! - x[b * d + f]! || a - b);
      for (let i = 0; i < m; i++) values[i] = x[order[i]! * d + f]!;
      if (values[0] === values[m - 1]) continue;
      left.fill(0);
      let leftGiniSum = 0; // Σ left_k², kept incrementally
      let rightGiniSum = counts.reduce((a, c) => a + c * c, 0);
      const right = [...counts];
      for (let i = 0; i < m - 1; i++) {
        const cls = y[order[i]!]!;
        leftGiniSum += 2 * left[cls]! + 1;
        left[cls]!++;
        rightGiniSum -= 2 * right[cls]! - 1;
        right[cls]!--;
        const nl = i + 1;
        const nr = m - nl;
        if (values[i] === values[i + 1] || nl < minLeaf || nr < minLeaf) continue;
        // n·Gini = n − Σ c²/n for each side.
        const score = nl - leftGiniSum / nl + (nr - rightGiniSum / nr);
        if (score < bestScore - 1e-12) {
          bestScore = score;
          bestFeature = f;
          bestThreshold = (values[i]! + values[i + 1]!) / 2;
        }
      }
    }
    const decrease = parentGini * m - bestScore;
    if (bestFeature < 0 || decrease < minDecrease * m) return leaf();
    importance[bestFeature]! += decrease;
    let nl = 0;
    for (let i = 0; i < m; i++) if (x[rows[i]! * d + bestFeature]! <= bestThreshold) nl++;
    const lRows = new Int32Array(nl);
    const rRows = new Int32Array(m - nl);
    let li = 0;
    let ri = 0;
    for (let i = 0; i < m; i++) {
      const r = rows[i]!;
      if (x[r * d + bestFeature]! <= bestThreshold) lRows[li++] = r;
      else rRows[ri++] = r;
    }
    const leftNode = build(lRows, depth + 1);
    const rightNode = build(rRows, depth + 1);
    // A split whose two leaves decide the same is no decision: fold it back into one leaf.
    if (leftNode.kind === 'leaf' && rightNode.kind === 'leaf' && leftNode.prediction === rightNode.prediction) {
      importance[bestFeature]! -= decrease;
      leaves -= 2;
      return leaf();
    }
    return { kind: 'split', feature: bestFeature, threshold: bestThreshold, samples: m, counts, left: leftNode, right: rightNode };
  };

  const root = n === 0 ? ({ kind: 'leaf', prediction: 0, counts: new Array<number>(classes).fill(0), samples: 0 } as CartNode) : build(idx, 0);
  if (n === 0) leaves = 1;
  const total = importance.reduce((a, b) => a + b, 0);
  const depthOf = (node: CartNode): number => (node.kind === 'leaf' ? 0 : 1 + Math.max(depthOf(node.left), depthOf(node.right)));
  return { root, classes, features: d, importance: Array.from(importance, (v) => (total > 0 ? v / total : 0)), depth: depthOf(root), leaves };
}

function gini(counts: readonly number[], n: number): number {
  if (n === 0) return 0;
  let s = 0;
  for (const c of counts) s += (c / n) * (c / n);
  return 1 - s;
}

export function predictCart(tree: CartTree, row: ArrayLike<number>, offset = 0): number {
  let node = tree.root;
  while (node.kind === 'split') node = row[offset + node.feature]! <= node.threshold ? node.left : node.right;
  return node.prediction;
}

/** Root-to-leaf paths: the conditions along the way and the leaf. */
export function cartPaths(tree: CartTree): { conditions: { feature: number; op: '<=' | '>'; threshold: number }[]; leaf: Extract<CartNode, { kind: 'leaf' }> }[] {
  const out: ReturnType<typeof cartPaths> = [];
  const walk = (node: CartNode, path: { feature: number; op: '<=' | '>'; threshold: number }[]): void => {
    if (node.kind === 'leaf') {
      out.push({ conditions: path, leaf: node });
      return;
    }
    walk(node.left, [...path, { feature: node.feature, op: '<=', threshold: node.threshold }]);
    walk(node.right, [...path, { feature: node.feature, op: '>', threshold: node.threshold }]);
  };
  walk(tree.root, []);
  return out;
}
