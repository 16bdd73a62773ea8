/**
 * Speed of the HPA controller emulation: reconciles per wall second for one HPA with 5 and 50 pods,
 * syncing every 15 simulated seconds with its histories fed back, as the twin drives it. The twin
 * needs ≥ 20,000 simulated seconds per wall second in total, i.e. ≥ 1,334 reconciles/s per HPA
 * before any physics; the record reports both.
 */
import { HPA_SYNC_PERIOD_SECONDS, reconcileHpa } from '../generator/twin/hpa/index.ts';
import type { HpaReconcileInput, HpaSpec, PodSample } from '../generator/twin/hpa/index.ts';

type Emit = (record: Record<string, unknown>) => void;

const REQUIRED_SIMULATED_SECONDS_PER_WALL_SECOND = 20_000;

function makePods(n: number): PodSample[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `pod-${i}`,
    phase: 'Running' as const,
    ready: true,
    startTimeMs: 0,
    readyTransitionTimeMs: 20_000,
    deleted: false,
    cpuRequestMilli: 500,
    cpuUsageMilli: 250,
  }));
}

/** Run `syncs` consecutive syncs of one HPA under a load that swings every 10 minutes. */
function timeline(spec: HpaSpec, podCount: number, syncs: number): { wallMs: number; finalReplicas: number } {
  const pods = makePods(podCount);
  let recommendations: HpaReconcileInput['recommendations'] = [];
  let scaleEvents: HpaReconcileInput['scaleEvents'] = [];
  let current = podCount;
  const started = performance.now();
  for (let k = 0; k < syncs; k++) {
    const load = (k % 80) < 40 ? 1.4 : 0.6;
    for (let i = 0; i < pods.length; i++) pods[i]!.cpuUsageMilli = 250 * load + (i % 7) * 3;
    const r = reconcileHpa({
      nowMs: 3_600_000 + k * HPA_SYNC_PERIOD_SECONDS * 1000,
      spec,
      // The pod list is the bench's fixed size; the HPA's own count moves within [min, max].
      currentReplicas: current,
      pods,
      metrics: {},
      recommendations,
      scaleEvents,
    });
    recommendations = r.recommendations;
    scaleEvents = r.scaleEvents;
    current = r.desiredReplicas;
  }
  return { wallMs: performance.now() - started, finalReplicas: current };
}

export async function run(emit: Emit): Promise<void> {
  const cpu50 = [{ type: 'Resource' as const, resource: { name: 'cpu', target: { type: 'Utilization' as const, averageUtilization: 50 } } }];
  const cases: { name: string; pods: number; spec: HpaSpec }[] = [
    { name: 'reconcile-5pods-behavior', pods: 5, spec: { minReplicas: 2, maxReplicas: 10, metrics: cpu50, behavior: {} } },
    { name: 'reconcile-5pods-legacy', pods: 5, spec: { minReplicas: 2, maxReplicas: 10, metrics: cpu50 } },
    { name: 'reconcile-50pods-behavior', pods: 50, spec: { minReplicas: 20, maxReplicas: 100, metrics: cpu50, behavior: {} } },
  ];
  for (const c of cases) {
    timeline(c.spec, c.pods, 20_000); // warm-up
    const syncs = c.pods >= 50 ? 200_000 : 400_000;
    const { wallMs } = timeline(c.spec, c.pods, syncs);
    const perSecond = syncs / (wallMs / 1000);
    emit({
      bench: `hpa.${c.name}`,
      unit: 'reconciles/s',
      value: Math.round(perSecond),
      simulatedSecondsPerWallSecond: Math.round(perSecond * HPA_SYNC_PERIOD_SECONDS),
      reference: { requiredSimulatedSecondsPerWallSecond: REQUIRED_SIMULATED_SECONDS_PER_WALL_SECOND },
      syncs,
      wallMs: Math.round(wallMs),
    });
  }
}
