import { describe, expect, it } from 'vitest';
import { cpuMilli, serviceSnapshotFrom, substitute, type ServiceReadings } from '../../../webhook/sidecar/metrics-source.ts';
import { podMetricsObject, podObject } from '../../support/kube-api.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');

describe('cpuMilli', () => {
  it.each([['250m', 250], ['1', 1000], ['1.5', 1500], ['1500000n', 1.5], ['12u', 0.012], ['bogus', 0]])('%s → %d', (q, m) => {
    expect(cpuMilli(q)).toBeCloseTo(m, 9);
  });
});

describe('serviceSnapshotFrom', () => {
  const pods = [
    podObject({ name: 'web-0', namespace: 'shop', app: 'web', cpuRequest: '500m' }),
    podObject({ name: 'web-1', namespace: 'shop', app: 'web', cpuRequest: '500m' }),
    podObject({ name: 'web-2', namespace: 'shop', app: 'web', cpuRequest: '500m', ready: false, crashLoop: true }),
  ] as unknown as ServiceReadings['pods'];
  const ts = '2026-03-01T11:59:50Z';
  const podMetrics = [
    podMetricsObject({ name: 'web-0', namespace: 'shop', app: 'web', cpu: '400m', timestamp: ts }),
    podMetricsObject({ name: 'web-1', namespace: 'shop', app: 'web', cpu: '200m', timestamp: ts }),
  ] as unknown as ServiceReadings['podMetrics'];
  const hpa = { metadata: { name: 'web' }, spec: { minReplicas: 2, maxReplicas: 6 }, status: { currentReplicas: 3, desiredReplicas: 4 } };

  it('counts pods, computes CPU of ready pods against requests, and ages the snapshot by its oldest source', () => {
    const r = serviceSnapshotFrom({ hpa, pods, podMetrics, previousRequestRate: 100, prom: { requestRate: 150, p95LatencyMs: 120, pendingRequests: 7, errorRate: 0.02, sampleTime: NOW / 1000 - 30 } }, NOW);
    expect(r.snapshot).toEqual({
      replicas: 3, readyReplicas: 2, desiredReplicas: 4, cpuUtilization: 0.6, requestRate: 150, requestRateChange: 1.5, p95LatencyMs: 120,
      pendingRequests: 7, errorRate: 0.02, failedPods: 1, crashLoopPods: 1, minReplicas: 2, maxReplicas: 6,
    });
    expect(r.ageSeconds).toBe(30);
    expect(r.missing).toEqual([]);
  });

  it('names what is missing', () => {
    const r = serviceSnapshotFrom({ hpa, pods, podMetrics: [], previousRequestRate: undefined, prom: {} }, NOW);
    expect(r.missing).toEqual([
      'no CPU metrics from metrics.k8s.io for the ready pods',
      'Prometheus has no samples for the service',
      'Prometheus has no request rate for the service',
    ]);
  });

  it('substitutes the service and namespace into PromQL', () => {
    expect(substitute('rate(x{namespace="$namespace",service="$service"}[1m])', 'web', 'shop')).toBe('rate(x{namespace="shop",service="web"}[1m])');
  });
});
