import { describe, expect, it } from 'vitest';
import { applyDecision, combineDecisions } from '../../../policies/decision.ts';

const guards = { minReplicas: 1, maxReplicas: 10, maxStep: 3 };
const base = { minReplicas: 2, maxReplicas: 6 };

describe('applyDecision', () => {
  // [name, base, current, change, guards, expected]
  const table: [string, { minReplicas?: number; maxReplicas: number }, number, number, typeof guards, { minReplicas: number; maxReplicas: number }][] = [
    ['0 restores the base bounds', base, 4, 0, guards, { minReplicas: 2, maxReplicas: 6 }],
    ['+2 pre-scales by raising min', base, 3, 2, guards, { minReplicas: 5, maxReplicas: 6 }],
    ['+3 above base max lifts max with min', base, 5, 3, guards, { minReplicas: 8, maxReplicas: 8 }],
    ['+5 is limited to maxStep', base, 3, 5, guards, { minReplicas: 6, maxReplicas: 6 }],
    ['+3 is clamped to the guard ceiling', base, 9, 3, guards, { minReplicas: 10, maxReplicas: 10 }],
    ['−2 contains by lowering max', base, 5, -2, guards, { minReplicas: 2, maxReplicas: 3 }],
    ['−3 below base min pulls min down', base, 3, -3, guards, { minReplicas: 1, maxReplicas: 1 }],
    ['−3 never goes below the guard floor', base, 3, -3, { ...guards, minReplicas: 2 }, { minReplicas: 2, maxReplicas: 2 }],
    ['−9 with floor 0 still keeps one replica', base, 2, -9, { ...guards, minReplicas: 0 }, { minReplicas: 1, maxReplicas: 1 }],
    ['missing base min defaults to 1', { maxReplicas: 5 }, 2, 0, guards, { minReplicas: 1, maxReplicas: 5 }],
    ['base above guard ceiling is clamped', { minReplicas: 2, maxReplicas: 20 }, 2, 0, guards, { minReplicas: 2, maxReplicas: 10 }],
    ['maxStep 1 limits −3 to −1', base, 5, -3, { ...guards, maxStep: 1 }, { minReplicas: 2, maxReplicas: 4 }],
  ];
  for (const [name, b, current, change, g, expected] of table) {
    it(name, () => {
      const r = applyDecision(b, current, change, g);
      expect(r).toEqual(expected);
      expect(r.minReplicas).toBeLessThanOrEqual(r.maxReplicas);
      expect(r.minReplicas).toBeGreaterThanOrEqual(Math.max(1, g.minReplicas));
      expect(r.maxReplicas).toBeLessThanOrEqual(g.maxReplicas);
    });
  }

  it('keeps its invariants for every small input', () => {
    for (let cur = 1; cur <= 12; cur++) for (let ch = -6; ch <= 6; ch++) for (let floor = 1; floor <= 3; floor++) {
      const g = { minReplicas: floor, maxReplicas: 8, maxStep: 2 };
      const r = applyDecision({ minReplicas: 1, maxReplicas: 5 }, cur, ch, g);
      expect(r.minReplicas).toBeGreaterThanOrEqual(floor);
      expect(r.maxReplicas).toBeLessThanOrEqual(8);
      expect(r.minReplicas).toBeLessThanOrEqual(r.maxReplicas);
    }
  });
});

describe('combineDecisions', () => {
  it('takes the rounded mean of the agents\' changes, clamped to maxStep', () => {
    expect(combineDecisions([1, 1], 3)).toBe(1);
    expect(combineDecisions([3, 2], 3)).toBe(3); // 2.5 rounds up
    expect(combineDecisions([3, -3], 3)).toBe(0);
    expect(combineDecisions([-3, -3, 1], 3)).toBe(-2); // −5/3
    expect(combineDecisions([3, 3], 2)).toBe(2);
    expect(combineDecisions([2], 3)).toBe(2);
    expect(combineDecisions([], 3)).toBe(0);
  });
  it('rounds halfway means up by default and away from zero when asked', () => {
    // One agent cuts, the other holds: by default the hold wins, a rise would not need agreement.
    expect(combineDecisions([-1, 0], 3)).toBe(0);
    expect(combineDecisions([1, 0], 3)).toBe(1);
    expect(combineDecisions([-1, 0], 3, 'awayFromZero')).toBe(-1);
    expect(combineDecisions([1, 0], 3, 'awayFromZero')).toBe(1);
    expect(combineDecisions([-3, -2], 3, 'awayFromZero')).toBe(-3);
    expect(combineDecisions([-3, -2], 3)).toBe(-2);
    // Not a tie: both rules agree; a zero mean is a hold (never −0).
    expect(combineDecisions([-1, -1, 0], 3, 'awayFromZero')).toBe(-1);
    expect(Object.is(combineDecisions([-1, 1], 3, 'awayFromZero'), 0)).toBe(true);
    expect(Object.is(combineDecisions([-1, 0, 0, 0, 0], 3), 0)).toBe(true);
  });
});
