/**
 * HPA specs the product can propose as the base its agents act on: a CPU utilisation target and a
 * `behavior` preset, searched by the tuned-HPA baseline (baselines/index.ts) on the training scenarios.
 */
import type { HpaBase } from '../../policies/bundle.ts';
import type { Topology } from '../twin/topology.ts';

export type { HpaBase };

/** HPA parameters the tuned baseline searches over. */
export interface HpaTuning {
  cpuTargetPercent: number;
  behavior: 'default' | 'fast-up' | 'fast-up-slow-down' | 'fast-both';
}

export const HPA_BEHAVIORS: Record<HpaTuning['behavior'], Record<string, unknown> | undefined> = {
  default: undefined,
  // No scale-up stabilisation, double or +4 pods every 15 s.
  'fast-up': { scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }, { type: 'Pods', value: 4, periodSeconds: 15 }] } },
  'fast-up-slow-down': {
    scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }, { type: 'Pods', value: 4, periodSeconds: 15 }] },
    scaleDown: { stabilizationWindowSeconds: 600, selectPolicy: 'Min', policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] },
  },
  'fast-both': {
    scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }, { type: 'Pods', value: 4, periodSeconds: 15 }] },
    scaleDown: { stabilizationWindowSeconds: 60 },
  },
};

/** The bundle's record (`spec.hpaBase`) of a tuning. */
export function hpaBaseOf(tuning: HpaTuning): HpaBase {
  const b = HPA_BEHAVIORS[tuning.behavior];
  return { source: 'tuned-hpa', cpuTargetPercent: tuning.cpuTargetPercent, ...(b ? { behavior: structuredClone(b) as HpaBase['behavior'] } : {}) };
}

/** The topology with every service's HPA set to the base's CPU target and behavior. */
export function withHpaBase(t: Topology, base: HpaBase): Topology {
  const copy = structuredClone(t);
  for (const s of copy.services) {
    s.hpa.metrics = [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: base.cpuTargetPercent } } }];
    if (base.behavior) s.hpa.behavior = structuredClone(base.behavior) as Record<string, unknown>;
    else delete s.hpa.behavior;
  }
  return copy;
}

/** The topology with every service's HPA set to the tuning (CPU target and behavior preset). */
export function withHpaTuning(t: Topology, tuning: HpaTuning): Topology {
  return withHpaBase(t, hpaBaseOf(tuning));
}

/** The grid the tuned HPA searches. */
export function hpaGrid(): HpaTuning[] {
  const out: HpaTuning[] = [];
  for (const cpuTargetPercent of [40, 50, 60, 70, 80]) for (const behavior of Object.keys(HPA_BEHAVIORS) as HpaTuning['behavior'][]) out.push({ cpuTargetPercent, behavior });
  return out;
}
