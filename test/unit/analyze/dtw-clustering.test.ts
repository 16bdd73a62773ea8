import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { distanceAt, dtwDistance, dtwMatrix } from '../../../generator/analyze/dtw.ts';
import { averageLinkage, cutTree, leafOrder, purity } from '../../../generator/analyze/clustering.ts';
import { inferRoles } from '../../../generator/analyze/roles.ts';
import type { Episode } from '../../../generator/analyze/trajectory.ts';

/** Textbook DTW over the full matrix, restricted to the same band, as the reference. */
function referenceDtw(a: number[], b: number[], band: number): number {
  const n = a.length;
  const m = b.length;
  const w = Math.max(band, Math.abs(n - m));
  const ratio = n > 1 ? (m - 1) / (n - 1) : 0;
  const D = Array.from({ length: n }, () => new Array<number>(m).fill(Infinity));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      if (Math.abs(j - Math.round(i * ratio)) > w) continue;
      const cost = Math.abs(a[i]! - b[j]!);
      if (i === 0 && j === 0) D[i]![j] = cost;
      else D[i]![j] = cost + Math.min(i > 0 ? D[i - 1]![j]! : Infinity, j > 0 ? D[i]![j - 1]! : Infinity, i > 0 && j > 0 ? D[i - 1]![j - 1]! : Infinity);
    }
  }
  return D[n - 1]![m - 1]!;
}

describe('dtwDistance', () => {
  it('matches hand-computed distances', () => {
    // A spike one step apart: 2 without warping, 0 once the band allows a shift of one.
    expect(dtwDistance([0, 1, 0, 0], [0, 0, 1, 0], 0)).toBe(2);
    expect(dtwDistance([0, 1, 0, 0], [0, 0, 1, 0], 1)).toBe(0);
    // Repeating a value costs nothing: [1,2,3] warps onto [1,2,2,3].
    expect(dtwDistance([1, 2, 3], [1, 2, 2, 3], 1)).toBe(0);
    // Cost matrix |a_i − b_j| for a = [0,0,1], b = [1,0,0]: best path 1 → 0 → 0 → 1 = 2.
    expect(dtwDistance([0, 0, 1], [1, 0, 0], 2)).toBe(2);
    // +3 against −2 at the same step, everything else equal: |3 − (−2)| = 5.
    expect(dtwDistance([0, 3, 0], [0, -2, 0], 1)).toBe(5);
    expect(dtwDistance([], [], 3)).toBe(0);
    expect(dtwDistance([1], [], 3)).toBe(Infinity);
  });

  it('equals the L1 distance with a zero band on equal lengths', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 1, maxLength: 30 }).chain((a) => fc.tuple(fc.constant(a), fc.array(fc.integer({ min: -3, max: 3 }), { minLength: a.length, maxLength: a.length }))), ([a, b]) => {
      expect(dtwDistance(a, b, 0)).toBe(a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0));
    }));
  });

  it('agrees with the full-matrix reference, is symmetric on equal lengths, and never grows with the band', () => {
    const seq = fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 1, maxLength: 25 });
    fc.assert(fc.property(seq, seq, fc.integer({ min: 0, max: 6 }), (a, b, band) => {
      expect(dtwDistance(a, b, band)).toBeCloseTo(referenceDtw(a, b, band), 9);
      if (a.length === b.length) expect(dtwDistance(a, b, band)).toBe(dtwDistance(b, a, band));
      expect(dtwDistance(a, b, band + 1)).toBeLessThanOrEqual(dtwDistance(a, b, band));
      expect(dtwDistance(a, a, band)).toBe(0);
    }), { numRuns: 200 });
  });
});

describe('average linkage', () => {
  it('merges by mean pairwise distance (points 0, 1, 5, 6 on a line)', () => {
    const pts = [0, 1, 5, 6];
    const d = dtwMatrix(pts.map((p) => [p]), 0);
    expect(distanceAt(d, 0, 3)).toBe(6);
    const tree = averageLinkage(d);
    expect(tree.merges).toEqual([
      { a: 0, b: 1, height: 1, size: 2 },
      { a: 2, b: 3, height: 1, size: 2 },
      // mean of |0−5|, |0−6|, |1−5|, |1−6| = 20 / 4
      { a: 4, b: 5, height: 5, size: 4 },
    ]);
    expect(cutTree(tree, 2)).toEqual([0, 0, 1, 1]);
    expect(cutTree(tree, 4)).toEqual([0, 1, 2, 3]);
    expect(cutTree(tree, 1)).toEqual([0, 0, 0, 0]);
    expect(leafOrder(tree)).toEqual([0, 1, 2, 3]);
  });

  it('computes purity as Σ max-role counts / N', () => {
    expect(purity([0, 0, 1, 1], ['a', 'a', 'b', 'b'])).toBe(1);
    // cluster 0: a,a,b → 2; cluster 1: b,c → 1 ⇒ 3/5
    expect(purity([0, 0, 0, 1, 1], ['a', 'a', 'b', 'b', 'c'])).toBeCloseTo(3 / 5, 12);
  });
});

describe('inferRoles on planted behaviour', () => {
  /** Three roles with distinct action patterns (timing jitter and occasional noise inside each role). */
  function plantedEpisodes(): Episode[] {
    const steps = 60;
    const patterns: Record<string, (t: number, shift: number) => number> = {
      surge: (t, s) => (t >= 10 + s && t < 13 + s ? 3 : 0),
      contain: (t, s) => (t >= 30 + s && t < 40 + s ? -1 : 0),
      steady: (t, s) => ((t + s) % 6 === 0 ? 1 : 0),
    };
    const episodes: Episode[] = [];
    for (let seed = 0; seed < 6; seed++) {
      episodes.push({
        scenario: 'planted', method: 'mas', seed, decisionPeriodSeconds: 15,
        agents: Object.entries(patterns).map(([role, f]) => {
          const actions = Int8Array.from({ length: steps }, (_, t) => f(t, seed % 3));
          return { agent: `${role}-agent`, role, service: 'A', features: ['x'], actionSet: [-3, -2, -1, 0, 1, 2, 3], observations: new Float32Array(steps), actions, rewards: new Float32Array(steps) };
        }),
      });
    }
    return episodes;
  }

  it('recovers the planted roles exactly (purity 1) and says it is far above chance', () => {
    const r = inferRoles(plantedEpisodes(), { bandFraction: 0.1, seed: 3 });
    expect(r.units).toHaveLength(18);
    expect(r.k).toBe(3);
    expect(r.purity).toBe(1);
    expect(r.chancePurity).toBeLessThan(0.6);
    expect(r.structuralFit).toBe(1);
    expect(r.clusterSummaries.map((c) => c.dominantRole).sort()).toEqual(['contain', 'steady', 'surge']);
    const contain = r.clusterSummaries.find((c) => c.dominantRole === 'contain')!;
    expect(contain.downShare).toBeCloseTo(10 / 60, 12);
  });

  it('is deterministic and samples every agent when capped', () => {
    const a = inferRoles(plantedEpisodes(), { maxUnits: 9, seed: 1 });
    const b = inferRoles(plantedEpisodes(), { maxUnits: 9, seed: 1 });
    expect(a.units).toEqual(b.units);
    expect(a.skippedUnits).toBe(9);
    expect(new Set(a.units.map((u) => u.role)).size).toBe(3);
    expect(a.units.filter((u) => u.role === 'surge')).toHaveLength(3);
  });
});
