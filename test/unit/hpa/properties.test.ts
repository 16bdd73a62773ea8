import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HPA_SYNC_PERIOD_SECONDS, reconcileHpa } from '../../../generator/twin/hpa/index.ts';
import type { HpaBehavior, HpaReconcileInput, HpaSpec } from '../../../generator/twin/hpa/index.ts';
import { NOW, S, cpu, pods } from './samples.ts';

const policy = fc.record({ type: fc.constantFrom('Pods' as const, 'Percent' as const), value: fc.integer({ min: 1, max: 200 }), periodSeconds: fc.constantFrom(15, 30, 60) });
const rules = fc.record(
  { stabilizationWindowSeconds: fc.constantFrom(0, 30, 300), selectPolicy: fc.constantFrom('Max' as const, 'Min' as const, 'Disabled' as const), policies: fc.array(policy, { minLength: 1, maxLength: 3 }) },
  { requiredKeys: [] },
);
const behavior: fc.Arbitrary<HpaBehavior | undefined> = fc.option(fc.record({ scaleUp: rules, scaleDown: rules }, { requiredKeys: [] }), { nil: undefined });

const scenario = fc.record({
  min: fc.integer({ min: 1, max: 4 }),
  extra: fc.integer({ min: 0, max: 12 }),
  behavior,
  loads: fc.array(fc.integer({ min: 0, max: 6000 }), { minLength: 1, maxLength: 30 }),
  start: fc.integer({ min: 0, max: 16 }),
});

describe('reconcileHpa invariants over random timelines', () => {
  it('stays within [min, max], respects Disabled policies, is deterministic and leaves its input alone', () => {
    fc.assert(
      fc.property(scenario, ({ min, extra, behavior: b, loads, start }) => {
        const hpaSpec: HpaSpec = { minReplicas: min, maxReplicas: min + extra, metrics: [cpu(60)], ...(b ? { behavior: b } : {}) };
        let current = Math.min(Math.max(start, min), min + extra);
        let recommendations: HpaReconcileInput['recommendations'] = [];
        let scaleEvents: HpaReconcileInput['scaleEvents'] = [];
        loads.forEach((load, k) => {
          const input: HpaReconcileInput = {
            nowMs: NOW + k * HPA_SYNC_PERIOD_SECONDS * S,
            spec: hpaSpec,
            currentReplicas: current,
            pods: pods(current, current > 0 ? load / current : 0),
            metrics: {},
            recommendations,
            scaleEvents,
          };
          const snapshot = structuredClone(input);
          const r = reconcileHpa(input);
          expect(input).toEqual(snapshot);
          expect(reconcileHpa(snapshot)).toEqual(r);
          expect(r.desiredReplicas).toBeGreaterThanOrEqual(min);
          expect(r.desiredReplicas).toBeLessThanOrEqual(min + extra);
          if (b?.scaleUp?.selectPolicy === 'Disabled') expect(r.desiredReplicas).toBeLessThanOrEqual(current);
          if (b?.scaleDown?.selectPolicy === 'Disabled') expect(r.desiredReplicas).toBeGreaterThanOrEqual(current);
          if (!b) expect(r.desiredReplicas).toBeLessThanOrEqual(Math.max(2 * current, 4));
          expect(r.recommendations.length).toBeLessThanOrEqual(k + 2);
          recommendations = r.recommendations;
          scaleEvents = r.scaleEvents;
          current = r.desiredReplicas;
        });
      }),
      { numRuns: 150, seed: 20_260_301 },
    );
  });
});
