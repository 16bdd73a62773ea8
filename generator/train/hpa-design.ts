/**
 * HPA specs the product can propose as the base its agents act on: a CPU utilisation target and a
 * `behavior` preset, searched by the tuned-HPA baseline (baselines/index.ts) on the training scenarios.
 */
import type { Topology } from '../twin/topology.ts';

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

/** The topology with every service's HPA set to the tuning (CPU target and behavior preset). */
export function withHpaTuning(t: Topology, tuning: HpaTuning): Topology {
  const copy = structuredClone(t);
  for (const s of copy.services) {
    s.hpa.metrics = [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: tuning.cpuTargetPercent } } }];
    const b = HPA_BEHAVIORS[tuning.behavior];
    if (b) s.hpa.behavior = structuredClone(b);
    else delete s.hpa.behavior;
  }
  return copy;
}

/** The grid the tuned HPA searches. */
export function hpaGrid(): HpaTuning[] {
  const out: HpaTuning[] = [];
  for (const cpuTargetPercent of [40, 50, 60, 70, 80]) for (const behavior of Object.keys(HPA_BEHAVIORS) as HpaTuning['behavior'][]) out.push({ cpuTargetPercent, behavior });
  return out;
}
