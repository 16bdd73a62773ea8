import { describe, expect, it } from 'vitest';
import type { HpaBase } from '../../../policies/bundle.ts';
import { hpaBaseDrift } from '../../../policies/hpa-base.ts';

const cpu = (averageUtilization: number) => ({ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization } } });
const trained: HpaBase = {
  source: 'tuned-hpa',
  cpuTargetPercent: 60,
  behavior: {
    scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }, { type: 'Pods', value: 4, periodSeconds: 15 }] },
    scaleDown: { stabilizationWindowSeconds: 60 },
  },
};

describe('hpaBaseDrift', () => {
  it('finds no difference in the spec the agents were trained on, as written or as the API server completes it', () => {
    expect(hpaBaseDrift(trained, { metrics: [cpu(60)], behavior: trained.behavior })).toEqual([]);
    // Defaulted by the API server: every omitted field filled, policies in another order.
    expect(hpaBaseDrift(trained, {
      metrics: [cpu(60)],
      behavior: {
        scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }, { type: 'Percent', value: 100, periodSeconds: 15 }] },
        scaleDown: { stabilizationWindowSeconds: 60, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
      },
    })).toEqual([]);
    // No behavior at all equals the Kubernetes defaults (scale-down window 300 s).
    expect(hpaBaseDrift({ source: 'tuned-hpa', cpuTargetPercent: 80 }, {})).toEqual([]);
  });
  it('names each difference: CPU target, other metrics, scale-up and scale-down behavior', () => {
    expect(hpaBaseDrift(trained, { metrics: [cpu(80)], behavior: trained.behavior })).toEqual(['CPU target 80 % (trained on 60 %)']);
    expect(hpaBaseDrift(trained, { behavior: trained.behavior })).toEqual(['CPU target 80 % (trained on 60 %)']);
    expect(hpaBaseDrift(trained, { metrics: [{ type: 'Pods', pods: { metric: { name: 'rps' }, target: { type: 'AverageValue', averageValue: '10' } } }], behavior: trained.behavior }))
      .toEqual(['no CPU utilisation target (trained on CPU 60 %)', 'also scales on Pods rps (trained on CPU alone)']);
    expect(hpaBaseDrift(trained, { metrics: [cpu(60)] })).toEqual([
      'scale-down window 300 s, Max of 100 % per 15 s (trained on window 60 s, Max of 100 % per 15 s)',
    ]);
    expect(hpaBaseDrift(trained, { metrics: [cpu(60)], behavior: { ...trained.behavior, scaleUp: { selectPolicy: 'Disabled' } } })).toEqual([
      'scale-up window 0 s, disabled (trained on window 0 s, Max of 100 % per 15 s, 4 pods per 15 s)',
    ]);
  });
});
