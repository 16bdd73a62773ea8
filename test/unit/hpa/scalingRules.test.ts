import { describe, expect, it } from 'vitest';
import {
  normalizeLegacy,
  normalizeWithBehavior,
  recordScaleEvent,
  resolveBehavior,
  scaleDownLimit,
  scaleUpLimit,
} from '../../../generator/twin/hpa/scalingRules.ts';
import type { HpaBehavior, TimestampedRecommendation, TimestampedScaleEvent } from '../../../generator/twin/hpa/index.ts';
import { NOW, S } from './samples.ts';

const old: TimestampedRecommendation[] = [{ timestampMs: NOW - 3_000 * S, replicas: 1 }];

describe('legacy normalization (no behavior)', () => {
  it.each([
    { rule: 'scale-up cap is 2 × current', current: 3, proposed: 20, min: 1, max: 50, desired: 6, reason: 'ScaleUpLimit', limited: true },
    { rule: 'scale-up cap is at least 4', current: 1, proposed: 20, min: 1, max: 50, desired: 4, reason: 'ScaleUpLimit', limited: true },
    { rule: 'maxReplicas below the cap limits with TooManyReplicas', current: 3, proposed: 10, min: 1, max: 5, desired: 5, reason: 'TooManyReplicas', limited: true },
    { rule: 'below minReplicas limits with TooFewReplicas', current: 3, proposed: 1, min: 2, max: 10, desired: 2, reason: 'TooFewReplicas', limited: true },
    { rule: 'within range is not limited', current: 3, proposed: 5, min: 1, max: 10, desired: 5, reason: 'DesiredWithinRange', limited: false },
    { rule: 'exactly at the cap is not limited', current: 3, proposed: 6, min: 1, max: 10, desired: 6, reason: 'DesiredWithinRange', limited: false },
  ])('$rule', (row) => {
    const n = normalizeLegacy(row.current, row.proposed, row.min, row.max, old, NOW, 300);
    expect(n.desiredReplicas).toBe(row.desired);
    expect(n.limitedReason).toBe(row.reason);
    expect(n.limited).toBe(row.limited);
  });

  it.each([
    { rule: 'holds at the highest recommendation of the last 5 minutes', history: [{ timestampMs: NOW - 100 * S, replicas: 5 }], desired: 5, able: 'ScaleDownStabilized' },
    { rule: 'a recommendation exactly 300 s old still counts', history: [{ timestampMs: NOW - 300 * S, replicas: 5 }], desired: 5, able: 'ScaleDownStabilized' },
    { rule: 'a recommendation 301 s old no longer counts', history: [{ timestampMs: NOW - 301 * S, replicas: 5 }], desired: 2, able: 'ReadyForNewScale' },
    { rule: 'lower recent recommendations do not hold', history: [{ timestampMs: NOW - 100 * S, replicas: 1 }], desired: 2, able: 'ReadyForNewScale' },
    { rule: 'max over several recent recommendations', history: [{ timestampMs: NOW - 200 * S, replicas: 4 }, { timestampMs: NOW - 100 * S, replicas: 3 }], desired: 4, able: 'ScaleDownStabilized' },
  ])('$rule', (row) => {
    const n = normalizeLegacy(5, 2, 1, 10, row.history, NOW, 300);
    expect(n.desiredReplicas).toBe(row.desired);
    expect(n.ableToScaleReason).toBe(row.able);
  });

  it('uses the configured downscale window', () => {
    const h = [{ timestampMs: NOW - 100 * S, replicas: 5 }];
    expect(normalizeLegacy(5, 2, 1, 10, h, NOW, 60).desiredReplicas).toBe(2);
  });

  it('records the unstabilized proposal, overwriting the last stale entry instead of growing', () => {
    const h = [
      { timestampMs: NOW - 900 * S, replicas: 9 },
      { timestampMs: NOW - 600 * S, replicas: 8 },
      { timestampMs: NOW - 10 * S, replicas: 3 },
    ];
    const n = normalizeLegacy(3, 2, 1, 10, h, NOW, 300);
    expect(n.recommendations).toEqual([
      { timestampMs: NOW - 900 * S, replicas: 9 },
      { timestampMs: NOW, replicas: 2 },
      { timestampMs: NOW - 10 * S, replicas: 3 },
    ]);
    expect(h[1]).toEqual({ timestampMs: NOW - 600 * S, replicas: 8 });
    const fresh = normalizeLegacy(3, 2, 1, 10, [{ timestampMs: NOW - 10 * S, replicas: 3 }], NOW, 300);
    expect(fresh.recommendations).toHaveLength(2);
  });
});

describe('behavior defaults', () => {
  it('fills every field as the API server and controller do', () => {
    const b = resolveBehavior({}, 300);
    expect(b.scaleUp).toEqual({
      stabilizationWindowSeconds: 0,
      selectPolicy: 'Max',
      policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }, { type: 'Percent', value: 100, periodSeconds: 15 }],
      longestPeriodSeconds: 15,
    });
    expect(b.scaleDown).toEqual({ stabilizationWindowSeconds: 300, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }], longestPeriodSeconds: 15 });
  });

  it('defaults field by field and takes the downscale window from the controller config', () => {
    const b = resolveBehavior({ scaleUp: { selectPolicy: 'Min' }, scaleDown: { policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } }, 120);
    expect(b.scaleUp.selectPolicy).toBe('Min');
    expect(b.scaleUp.policies).toHaveLength(2);
    expect(b.scaleDown.stabilizationWindowSeconds).toBe(120);
    expect(b.scaleDown.longestPeriodSeconds).toBe(60);
  });
});

const up = (over: HpaBehavior['scaleUp']) => resolveBehavior({ scaleUp: over }, 300).scaleUp;
const down = (over: HpaBehavior['scaleDown']) => resolveBehavior({ scaleDown: over }, 300).scaleDown;

describe('scale-rate policies', () => {
  it.each([
    { rule: 'default Max picks the larger of Pods +4 and Percent +100 %', current: 2, rules: up({}), events: [], limit: 6 },
    { rule: 'default Max with many replicas: Percent wins', current: 10, rules: up({}), events: [], limit: 20 },
    { rule: 'selectPolicy Min picks the smaller', current: 2, rules: up({ selectPolicy: 'Min' }), events: [], limit: 4 },
    { rule: 'selectPolicy Disabled allows no scale-up', current: 2, rules: up({ selectPolicy: 'Disabled' }), events: [], limit: 2 },
    { rule: 'Percent rounds up (3 × 1.1 → 4)', current: 3, rules: up({ policies: [{ type: 'Percent', value: 10, periodSeconds: 15 }] }), events: [], limit: 4 },
    {
      rule: 'scale-ups within the period lower the period start',
      current: 5, rules: up({ policies: [{ type: 'Pods', value: 4, periodSeconds: 60 }] }),
      events: [{ timestampMs: NOW - 30 * S, replicaChange: 3 }], limit: 6,
    },
    {
      rule: 'scale-downs within the period raise the period start',
      current: 4, rules: up({ policies: [{ type: 'Pods', value: 4, periodSeconds: 60 }] }),
      events: [{ timestampMs: NOW - 10 * S, replicaChange: -2 }], limit: 10,
    },
    {
      rule: 'an event exactly one period old is outside the period',
      current: 5, rules: up({ policies: [{ type: 'Pods', value: 4, periodSeconds: 60 }] }),
      events: [{ timestampMs: NOW - 60 * S, replicaChange: 3 }], limit: 9,
    },
    {
      rule: 'each policy looks at its own period',
      current: 8, rules: up({ selectPolicy: 'Min', policies: [{ type: 'Pods', value: 4, periodSeconds: 60 }, { type: 'Percent', value: 100, periodSeconds: 15 }] }),
      events: [{ timestampMs: NOW - 30 * S, replicaChange: 4 }], limit: 8,
    },
  ] as { rule: string; current: number; rules: ReturnType<typeof up>; events: TimestampedScaleEvent[]; limit: number }[])('scale-up: $rule', (row) => {
    expect(scaleUpLimit(row.current, row.events, row.rules, NOW)).toBe(row.limit);
  });

  it.each([
    { rule: 'default Percent 100 allows down to 0', current: 8, rules: down({}), events: [], limit: 0 },
    { rule: 'Percent truncates (5 × 0.5 → 2)', current: 5, rules: down({ policies: [{ type: 'Percent', value: 50, periodSeconds: 15 }] }), events: [], limit: 2 },
    { rule: 'Pods policy', current: 10, rules: down({ policies: [{ type: 'Pods', value: 2, periodSeconds: 15 }] }), events: [], limit: 8 },
    { rule: 'Max picks the larger change (lowest count)', current: 10, rules: down({ policies: [{ type: 'Pods', value: 1, periodSeconds: 15 }, { type: 'Percent', value: 50, periodSeconds: 15 }] }), events: [], limit: 5 },
    { rule: 'Min picks the smaller change (highest count)', current: 10, rules: down({ selectPolicy: 'Min', policies: [{ type: 'Pods', value: 1, periodSeconds: 15 }, { type: 'Percent', value: 50, periodSeconds: 15 }] }), events: [], limit: 9 },
    { rule: 'Disabled allows no scale-down', current: 10, rules: down({ selectPolicy: 'Disabled' }), events: [], limit: 10 },
    {
      rule: 'scale-downs within the period count against the budget',
      current: 8, rules: down({ policies: [{ type: 'Pods', value: 3, periodSeconds: 60 }] }),
      events: [{ timestampMs: NOW - 20 * S, replicaChange: -2 }], limit: 7,
    },
  ] as { rule: string; current: number; rules: ReturnType<typeof down>; events: TimestampedScaleEvent[]; limit: number }[])('scale-down: $rule', (row) => {
    expect(scaleDownLimit(row.current, row.events, row.rules, NOW)).toBe(row.limit);
  });
});

describe('behavior normalization', () => {
  const norm = (current: number, proposed: number, behavior: HpaBehavior, history: TimestampedRecommendation[], events: TimestampedScaleEvent[] = [], min = 1, max = 100) =>
    normalizeWithBehavior(current, proposed, min, max, resolveBehavior(behavior, 300), history, events, NOW);

  it.each([
    { rule: 'scale-up window holds at the lowest recent recommendation', behavior: { scaleUp: { stabilizationWindowSeconds: 60 } }, history: [{ timestampMs: NOW - 30 * S, replicas: 3 }], current: 3, proposed: 6, desired: 3, able: 'ScaleUpStabilized' },
    { rule: 'scale-up window: a recommendation exactly a window old does not count', behavior: { scaleUp: { stabilizationWindowSeconds: 60 } }, history: [{ timestampMs: NOW - 60 * S, replicas: 3 }], current: 3, proposed: 6, desired: 6, able: 'ReadyForNewScale' },
    { rule: 'scale-up window: climbs to the lowest recent recommendation above current', behavior: { scaleUp: { stabilizationWindowSeconds: 60 } }, history: [{ timestampMs: NOW - 30 * S, replicas: 5 }], current: 3, proposed: 7, desired: 5, able: 'ScaleUpStabilized' },
    { rule: 'scale-down window holds at the highest recent recommendation', behavior: {}, history: [{ timestampMs: NOW - 100 * S, replicas: 6 }], current: 6, proposed: 2, desired: 6, able: 'ScaleDownStabilized' },
    { rule: 'scale-down window: a recommendation exactly a window old does not count', behavior: {}, history: [{ timestampMs: NOW - 300 * S, replicas: 6 }], current: 6, proposed: 2, desired: 2, able: 'ReadyForNewScale' },
    { rule: 'custom scale-down window', behavior: { scaleDown: { stabilizationWindowSeconds: 60 } }, history: [{ timestampMs: NOW - 100 * S, replicas: 6 }], current: 6, proposed: 2, desired: 2, able: 'ReadyForNewScale' },
    { rule: 'scale-down window 0 follows the proposal at once', behavior: { scaleDown: { stabilizationWindowSeconds: 0 } }, history: [{ timestampMs: NOW - 15 * S, replicas: 6 }], current: 6, proposed: 2, desired: 2, able: 'ReadyForNewScale' },
  ])('$rule', (row) => {
    const n = norm(row.current, row.proposed, row.behavior, row.history);
    expect(n.desiredReplicas).toBe(row.desired);
    expect(n.ableToScaleReason).toBe(row.able);
  });

  it.each([
    { rule: 'rate limit caps a scale-up (ScaleUpLimit)', behavior: {}, current: 2, proposed: 20, max: 100, desired: 6, reason: 'ScaleUpLimit', limited: true },
    { rule: 'maxReplicas below the rate limit (TooManyReplicas)', behavior: {}, current: 2, proposed: 20, max: 5, desired: 5, reason: 'TooManyReplicas', limited: true },
    { rule: 'rate limit caps a scale-down (ScaleDownLimit)', behavior: { scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } }, current: 6, proposed: 2, max: 100, desired: 5, reason: 'ScaleDownLimit', limited: true },
    { rule: 'minReplicas above the rate limit (TooFewReplicas)', behavior: { scaleDown: { stabilizationWindowSeconds: 0 } }, current: 6, proposed: 0, max: 100, min: 2, desired: 2, reason: 'TooFewReplicas', limited: true },
    { rule: 'Disabled scale-up holds and reports ScaleUpLimit', behavior: { scaleUp: { selectPolicy: 'Disabled' } }, current: 2, proposed: 5, max: 100, desired: 2, reason: 'ScaleUpLimit', limited: true },
    { rule: 'within range', behavior: {}, current: 2, proposed: 5, max: 100, desired: 5, reason: 'DesiredWithinRange', limited: false },
  ] as { rule: string; behavior: HpaBehavior; current: number; proposed: number; max: number; min?: number; desired: number; reason: string; limited: boolean }[])('$rule', (row) => {
    const n = norm(row.current, row.proposed, row.behavior, old, [], row.min ?? 1, row.max);
    expect(n.desiredReplicas).toBe(row.desired);
    expect(n.limitedReason).toBe(row.reason);
    expect(n.limited).toBe(row.limited);
  });

  it('a used-up scale-up budget holds at current, never turning into a scale-down', () => {
    const events = [{ timestampMs: NOW - 30 * S, replicaChange: 4 }];
    const n = norm(5, 9, { scaleUp: { policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } }, old, events);
    expect(n.desiredReplicas).toBe(5);
    expect(n.limitedReason).toBe('ScaleUpLimit');
  });

  it('a used-up scale-down budget holds at current, never turning into a scale-up', () => {
    const events = [{ timestampMs: NOW - 30 * S, replicaChange: -3 }];
    const n = norm(3, 1, { scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } }, old, events);
    expect(n.desiredReplicas).toBe(3);
    expect(n.limitedReason).toBe('ScaleDownLimit');
  });

  it('overwrites only a recommendation older than both windows', () => {
    const h = [
      { timestampMs: NOW - 200 * S, replicas: 4 }, // older than the up window (60 s), inside the down window
      { timestampMs: NOW - 400 * S, replicas: 7 }, // older than both
    ];
    const n = norm(4, 4, { scaleUp: { stabilizationWindowSeconds: 60 } }, h);
    expect(n.recommendations).toEqual([h[0], { timestampMs: NOW, replicas: 4 }]);
  });
});

describe('scale events', () => {
  const b = resolveBehavior({ scaleUp: { policies: [{ type: 'Pods', value: 4, periodSeconds: 60 }] } }, 300);

  it('appends a signed change', () => {
    expect(recordScaleEvent([], b, 3, 5, NOW)).toEqual([{ timestampMs: NOW, replicaChange: 2 }]);
    expect(recordScaleEvent([], b, 5, 3, NOW)).toEqual([{ timestampMs: NOW, replicaChange: -2 }]);
  });

  it('overwrites the last same-direction event older than that direction\'s longest period', () => {
    const events = [
      { timestampMs: NOW - 100 * S, replicaChange: 1 }, // up, older than 60 s
      { timestampMs: NOW - 90 * S, replicaChange: -1 }, // down, older than 15 s, other direction
      { timestampMs: NOW - 30 * S, replicaChange: 2 }, // up, inside the period
    ];
    const next = recordScaleEvent(events, b, 5, 8, NOW);
    expect(next).toEqual([{ timestampMs: NOW, replicaChange: 3 }, events[1], events[2]]);
    expect(events[0]).toEqual({ timestampMs: NOW - 100 * S, replicaChange: 1 });
    const downNext = recordScaleEvent(events, b, 8, 6, NOW);
    expect(downNext).toEqual([events[0], { timestampMs: NOW, replicaChange: -2 }, events[2]]);
  });
});
