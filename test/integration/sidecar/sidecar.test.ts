import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ManualScheduler } from '../../../webhook/sidecar/clock.ts';
import { formatDecision, parseDecision, DECISION_ANNOTATION, BUNDLE_ANNOTATION, PAUSED_ANNOTATION } from '../../../policies/annotations.ts';
import { BUNDLE_API, EVENTS_API, HPA_API, HPAS, KubeApiServer, LEASE_API, type KubeObject } from '../../support/kube-api.ts';
import { startBackfilledPrometheus, type PrometheusHandle } from '../../support/prometheus-sidecar.ts';
import { annotationsOf, seedService, shopBundle, specOf, trafficSeries, type BundleOptions } from './fixtures.ts';
import { coreEventsFor, eventsFor, makeSidecar } from './harness.ts';

// Traffic of every test namespace: 50 requests/s for 2 minutes, then 200/s until T0 + 600 s; no data after.
const T0 = Math.floor(Date.now() / 3_600_000) * 3600 - 3 * 3600;
const NAMESPACES = ['apply', 'guards', 'conflict', 'shadow', 'stale', 'paused', 'watch', 'invalid', 'fault', 'leader', 'refused', 'deleted', 'statusfault', 'follower', 'flap'];
const at = (seconds: number) => (T0 + seconds) * 1000;

let api: KubeApiServer;
let prometheus: PrometheusHandle;
let clock: ManualScheduler;

beforeAll(async () => {
  prometheus = await startBackfilledPrometheus(NAMESPACES.flatMap((namespace) => trafficSeries({
    namespace, service: 'web', startSec: T0, phases: [{ seconds: 120, rps: 50 }, { seconds: 480, rps: 200 }],
  })));
  api = await KubeApiServer.start({ now: () => clock?.now() ?? Date.now() });
});

afterAll(async () => {
  await api?.close();
  await prometheus?.stop();
});

function setup(namespace: string, bundle: Partial<BundleOptions> = {}, hpa: { minReplicas?: number; maxReplicas?: number; replicas?: number; annotations?: Record<string, string> } = {}) {
  clock = new ManualScheduler(at(0));
  const b = shopBundle({ namespace, services: ['web'], ...bundle });
  api.put(BUNDLE_API, 'policybundles', b as unknown as KubeObject);
  seedService(api, { namespace, service: 'web', minReplicas: hpa.minReplicas ?? 2, maxReplicas: hpa.maxReplicas ?? 10, replicas: hpa.replicas ?? 2, annotations: hpa.annotations });
  return b;
}

const hpaOf = (namespace: string) => api.get(HPA_API, HPAS, namespace, 'web');
const decisionOf = (namespace: string) => {
  const parsed = parseDecision(annotationsOf(hpaOf(namespace))[DECISION_ANNOTATION] ?? '');
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.value;
};
type Condition = { type: string; status: string; reason: string; message: string; lastTransitionTime: string; observedGeneration?: number };
const bundleStatusOf = (namespace: string) => (api.get(BUNDLE_API, 'policybundles', namespace, 'shop-policy')?.status ?? {}) as Record<string, unknown> & { conditions?: Condition[] };
const conditionOf = (namespace: string, type: string) => bundleStatusOf(namespace).conditions?.find((c) => c.type === type);
const statusWrites = (namespace: string) => api.requestsTo('PATCH', `/namespaces/${namespace}/policybundles/shop-policy/status`);
const setCurrentReplicas = (namespace: string, replicas: number) => {
  const h = hpaOf(namespace)!;
  api.put(HPA_API, HPAS, { ...h, status: { currentReplicas: replicas, desiredReplicas: replicas } });
};

describe('sidecar against the Kubernetes API and Prometheus', () => {
  it('applies the agent decision to the HPA bounds and explains it on the HPA and in an Event', async () => {
    setup('apply');
    const { sidecar } = makeSidecar(api, clock, prometheus.url, { namespace: 'apply' });
    await sidecar.start();
    await clock.advance(60_000);
    // 50 requests/s: no rule applies, nothing to change.
    expect(specOf(hpaOf('apply')).minReplicas).toBe(2);
    expect(sidecar.lastTick?.outcomes[0]?.plan.kind).toBe('unchanged');
    await clock.advance(180_000);
    const spec = specOf(hpaOf('apply'));
    expect(spec).toMatchObject({ minReplicas: 4, maxReplicas: 10 });
    const decision = decisionOf('apply');
    expect(decision).toMatchObject({ agent: 'surge-web', role: 'ddos-manager', replicaChange: 2, bundle: 'apply/shop-policy', bundleVersion: '1.0.0', minReplicas: 4, maxReplicas: 10 });
    expect(decision.reason).toMatch(/rule requestRate (\d+(\.\d+)?) > 150 → \+2/);
    expect(annotationsOf(hpaOf('apply'))[BUNDLE_ANNOTATION]).toBe('apply/shop-policy@1.0.0');
    const events = eventsFor(api, 'apply', 'web');
    const scale = events.find((e) => e.action === 'Scale');
    expect(scale).toMatchObject({
      apiVersion: 'events.k8s.io/v1', reason: 'KarmaDecision', type: 'Normal', reportingController: 'karma-hpa.io/sidecar', reportingInstance: 'sidecar-0',
      regarding: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: 'web', namespace: 'apply', uid: hpaOf('apply')!.metadata.uid },
    });
    expect(scale?.note).toContain('minReplicas 4 (was 2)');
    // eventTime is the injected clock's, in microseconds.
    expect(scale?.eventTime).toBe(new Date(Date.parse(decisionOf('apply').time)).toISOString().replace('Z', '000Z'));
    // Merge patches carry the resourceVersion that was read (optimistic concurrency).
    const patches = api.requestsTo('PATCH', '/namespaces/apply/horizontalpodautoscalers/web');
    expect(patches).toHaveLength(1);
    expect(patches[0]!.contentType).toBe('application/merge-patch+json');
    expect((patches[0]!.body as { metadata: { resourceVersion?: string } }).metadata.resourceVersion).toMatch(/^\d+$/);
    // The bundle's status, through the /status subresource: accepted, deciding, one HPA, the decision's time.
    expect(conditionOf('apply', 'Accepted')).toMatchObject({ status: 'True', reason: 'Valid', observedGeneration: 1 });
    expect(conditionOf('apply', 'Active')).toMatchObject({ status: 'True', reason: 'Deciding', message: 'deciding for 1 HPA with version 1.0.0' });
    const bundle = api.get(BUNDLE_API, 'policybundles', 'apply', 'shop-policy')!;
    expect(bundleStatusOf('apply')).toMatchObject({ observedGeneration: 1, observedDigest: (bundle.spec as { digest: string }).digest, observedVersion: '1.0.0',
      governedHpas: 1, fallbacks: 0, lastDecisionTime: decisionOf('apply').time });
    expect(bundle.metadata.generation).toBe(1);
    // Written twice: on the first tick, and when the decision changed the HPA; merge patches as field manager karma-hpa.
    expect(statusWrites('apply')).toHaveLength(2);
    expect(statusWrites('apply').map((r) => [r.contentType, r.query.fieldManager])).toEqual([['application/merge-patch+json', 'karma-hpa'], ['application/merge-patch+json', 'karma-hpa']]);
    expect(sidecar.telemetry.value('karma_sidecar_status_writes_total', { result: 'written' })).toBe(2);
    // The same decision on later ticks changes nothing, repeats no Event and rewrites no status.
    const eventCount = events.length;
    await clock.advance(45_000);
    expect(api.requestsTo('PATCH', '/namespaces/apply/horizontalpodautoscalers/web')).toHaveLength(1);
    expect(eventsFor(api, 'apply', 'web')).toHaveLength(eventCount);
    expect(statusWrites('apply')).toHaveLength(2);
    const metrics = sidecar.telemetry.render();
    expect(metrics).toMatch(/karma_sidecar_patches_total\{result="applied"\} 1/);
    expect(metrics).toMatch(/karma_sidecar_decisions_total\{agent="surge-web",kind="apply",role="ddos-manager"\} 1/);
    expect(metrics).toMatch(/karma_sidecar_tick_duration_seconds_count \d+/);
    await sidecar.stop();
  });

  it('respects max step, the ceiling and the cooldown', async () => {
    setup('guards', { guards: { maxStep: 1, cooldownSeconds: 60 }, targetGuards: { maxReplicas: 4 } });
    const { sidecar } = makeSidecar(api, clock, prometheus.url, { namespace: 'guards' });
    await sidecar.start();
    await clock.advance(195_000);
    // +2 wanted, max step 1: 2 → 3.
    expect(specOf(hpaOf('guards'))).toMatchObject({ minReplicas: 3, maxReplicas: 4 });
    const firstTime = Date.parse(decisionOf('guards').time);
    setCurrentReplicas('guards', 3);
    await clock.advance(15_000);
    // Within the cooldown the next step waits.
    expect(specOf(hpaOf('guards')).minReplicas).toBe(3);
    expect(sidecar.lastTick?.outcomes[0]?.plan.kind).toBe('hold');
    expect(eventsFor(api, 'guards', 'web').some((e) => e.action === 'Hold')).toBe(true);
    await clock.advance(60_000);
    expect(specOf(hpaOf('guards'))).toMatchObject({ minReplicas: 4, maxReplicas: 4 });
    expect(Date.parse(decisionOf('guards').time) - firstTime).toBeGreaterThanOrEqual(60_000);
    setCurrentReplicas('guards', 4);
    await clock.advance(120_000);
    // At the ceiling: never above 4.
    expect(specOf(hpaOf('guards'))).toMatchObject({ minReplicas: 4, maxReplicas: 4 });
    await sidecar.stop();
  });

  it('retries a 409 Conflict after re-reading, waits out 429 Retry-After and backs off on 503', async () => {
    setup('conflict');
    const { sidecar } = makeSidecar(api, clock, prometheus.url, { namespace: 'conflict' });
    let interfered = false;
    // Another writer changes the HPA just before our first patch lands: a genuine resourceVersion conflict.
    api.injectFault({
      status: 500,
      match: ({ method, path }) => {
        if (interfered || method !== 'PATCH' || !path.includes('/namespaces/conflict/horizontalpodautoscalers/')) return false;
        interfered = true;
        const h = hpaOf('conflict')!;
        api.put(HPA_API, HPAS, { ...h, metadata: { ...h.metadata, labels: { ...h.metadata.labels, team: 'checkout' } } });
        return false;
      },
    });
    // The retry after re-reading is throttled once.
    const hpaPatches = (path: string) => path.includes('/namespaces/conflict/horizontalpodautoscalers/') ? api.requestsTo('PATCH', '/namespaces/conflict/horizontalpodautoscalers/').length : 0;
    api.injectFault({ status: 429, retryAfterSeconds: 7, count: 1, match: ({ path }) => hpaPatches(path) === 2 });
    // Then the server fails once: backed off and retried.
    api.injectFault({ status: 503, count: 1, match: ({ path }) => hpaPatches(path) === 3 });
    await sidecar.start();
    await clock.advance(195_000);
    const patches = api.requestsTo('PATCH', '/namespaces/conflict/horizontalpodautoscalers/web');
    expect(patches.map((p) => p.status)).toEqual([409, 429, 503, 200]);
    expect(specOf(hpaOf('conflict')).minReplicas).toBe(4);
    // The other writer's change survived the retry.
    expect(hpaOf('conflict')!.metadata.labels?.team).toBe('checkout');
    expect(sidecar.telemetry.value('karma_sidecar_conflicts_total')).toBe(1);
    const outcome = sidecar.lastTick?.outcomes[0];
    expect(outcome?.result === 'applied' || outcome?.plan.kind === 'unchanged').toBe(true);
    // The retry after 429 waited the 7 s the server asked for (on the injected clock).
    const scale = eventsFor(api, 'conflict', 'web').find((e) => e.action === 'Scale')!;
    const decided = Date.parse(decisionOf('conflict').time);
    expect(Date.parse(scale.eventTime as string) - decided).toBeGreaterThanOrEqual(7_000);
    api.clearFaults();
    await sidecar.stop();
  });

  it('patches nothing in shadow mode but records the decision as an Event', async () => {
    setup('shadow');
    const { sidecar } = makeSidecar(api, clock, prometheus.url, { namespace: 'shadow', shadow: true });
    await sidecar.start();
    await clock.advance(240_000);
    expect(api.requestsTo('PATCH', '/namespaces/shadow/horizontalpodautoscalers')).toHaveLength(0);
    expect(specOf(hpaOf('shadow')).minReplicas).toBe(2);
    expect(annotationsOf(hpaOf('shadow'))[DECISION_ANNOTATION]).toBeUndefined();
    const shadowEvent = eventsFor(api, 'shadow', 'web').find((e) => String(e.note).startsWith('shadow mode, not applied'));
    expect(shadowEvent).toMatchObject({ action: 'Shadow', reason: 'KarmaDecision' });
    expect(shadowEvent?.note).toContain('minReplicas 4 (was 2)');
    expect(sidecar.lastTick?.outcomes[0]?.result).toBe('shadow');
    expect(conditionOf('shadow', 'Active')).toMatchObject({ status: 'False', reason: 'Shadow' });
    await sidecar.stop();
  });

  it('falls back to the base spec when the metrics go stale, then missing', async () => {
    setup('stale', { guards: { fallback: { staleMetricsSeconds: 20, minConfidence: 0.4 } } });
    const { sidecar } = makeSidecar(api, clock, prometheus.url, { namespace: 'stale' });
    await sidecar.start();
    await clock.advance(240_000);
    expect(specOf(hpaOf('stale')).minReplicas).toBe(4);
    // Data ends at T0 + 600 s; with a 20 s limit the sidecar gives the bounds back at the tick of T0 + 630 s.
    await clock.advance(375_000);
    expect(specOf(hpaOf('stale')).minReplicas).toBe(4);
    await clock.advance(15_000);
    expect(specOf(hpaOf('stale'))).toMatchObject({ minReplicas: 2, maxReplicas: 10 });
    const decision = decisionOf('stale');
    expect(decision).toMatchObject({ agent: 'fallback', replicaChange: 0, minReplicas: 2, maxReplicas: 10 });
    expect(decision.reason).toMatch(/metrics for web are 30 s old \(limit 20 s\)/);
    const warning = eventsFor(api, 'stale', 'web').find((e) => e.action === 'Fallback');
    expect(warning).toMatchObject({ type: 'Warning', reason: 'KarmaFallback' });
    expect(sidecar.telemetry.value('karma_sidecar_fallbacks_total', { cause: 'stale_metrics' })).toBeGreaterThan(0);
    // Past Prometheus' 5-minute lookback the series are gone: still the base spec, now for missing metrics.
    await clock.advance(300_000);
    expect(sidecar.lastTick?.outcomes[0]?.plan.fallbackCause).toBe('missing_metrics');
    expect(specOf(hpaOf('stale')).minReplicas).toBe(2);
    await sidecar.stop();
  });

  it('makes no decision for a paused HPA or a paused bundle', async () => {
    setup('paused', {}, { annotations: { [PAUSED_ANNOTATION]: 'true' } });
    const { sidecar } = makeSidecar(api, clock, prometheus.url, { namespace: 'paused' });
    await sidecar.start();
    await clock.advance(240_000);
    expect(api.requestsTo('PATCH', '/namespaces/paused/horizontalpodautoscalers')).toHaveLength(0);
    expect(sidecar.lastTick?.outcomes[0]?.plan.kind).toBe('paused');
    expect(conditionOf('paused', 'Active')).toMatchObject({ status: 'False', reason: 'Paused', message: 'every governed HPA (1) is paused by annotation' });
    // Unpause the HPA but pause the bundle: still nothing.
    const h = hpaOf('paused')!;
    api.put(HPA_API, HPAS, { ...h, metadata: { ...h.metadata, annotations: { ...h.metadata.annotations, [PAUSED_ANNOTATION]: 'false' } } });
    api.put(BUNDLE_API, 'policybundles', shopBundle({ namespace: 'paused', services: ['web'], paused: true, version: '1.0.1' }) as unknown as KubeObject);
    await vi.waitFor(() => expect(sidecar.bundles.goodBundles()[0]?.spec.version).toBe('1.0.1'));
    await clock.advance(30_000);
    expect(api.requestsTo('PATCH', '/namespaces/paused/horizontalpodautoscalers')).toHaveLength(0);
    expect(sidecar.lastTick?.outcomes[0]?.plan.message).toContain('spec.paused');
    expect(conditionOf('paused', 'Active')).toMatchObject({ status: 'False', reason: 'Paused', observedGeneration: 2 });
    expect(conditionOf('paused', 'Active')!.message).toMatch(/^spec\.paused is true/);
    expect(bundleStatusOf('paused').observedVersion).toBe('1.0.1');
    await sidecar.stop();
  });

  it('reloads bundles from the watch, resumes after disconnects and re-lists after 410 Gone', async () => {
    setup('watch');
    const { sidecar, log } = makeSidecar(api, clock, prometheus.url, { namespace: 'watch' });
    await sidecar.start();
    const versionNow = () => sidecar.bundles.goodBundles()[0]?.spec.version;
    expect(versionNow()).toBe('1.0.0');
    api.put(BUNDLE_API, 'policybundles', shopBundle({ namespace: 'watch', services: ['web'], version: '1.1.0', guards: { maxStep: 1 } }) as unknown as KubeObject);
    await vi.waitFor(() => expect(versionNow()).toBe('1.1.0'));
    await clock.advance(240_000);
    // The reloaded guards apply: max step 1.
    expect(decisionOf('watch')).toMatchObject({ bundleVersion: '1.1.0', replicaChange: 1, minReplicas: 3 });

    api.disconnectWatches();
    await vi.waitFor(() => expect(sidecar.bundles.isWatching()).toBe(false));
    api.put(BUNDLE_API, 'policybundles', shopBundle({ namespace: 'watch', services: ['web'], version: '1.2.0', guards: { maxStep: 1 } }) as unknown as KubeObject);
    await clock.advance(1_000);
    await vi.waitFor(() => expect(versionNow()).toBe('1.2.0'));
    const resumed = api.requestsTo('GET', '/namespaces/watch/policybundles').filter((r) => r.query.watch);
    expect(resumed.length).toBe(2);
    expect(Number(resumed[1]!.query.resourceVersion)).toBeGreaterThan(Number(resumed[0]!.query.resourceVersion));
    expect(sidecar.bundles.stats.lists).toBe(1);

    // History compacted while disconnected: resuming gets 410 Gone, so the watcher lists again.
    api.disconnectWatches();
    await vi.waitFor(() => expect(sidecar.bundles.isWatching()).toBe(false));
    api.put(BUNDLE_API, 'policybundles', shopBundle({ namespace: 'watch', services: ['web'], version: '1.3.0', guards: { maxStep: 1 } }) as unknown as KubeObject);
    api.compactHistory();
    await clock.advance(1_000);
    await vi.waitFor(() => expect(log.some((l) => l.includes('watch error 410'))).toBe(true));
    await vi.waitFor(() => expect(sidecar.bundles.isWatching()).toBe(false));
    await clock.advance(2_000);
    await vi.waitFor(() => expect(sidecar.bundles.stats.lists).toBe(2));
    await vi.waitFor(() => expect(versionNow()).toBe('1.3.0'));
    await vi.waitFor(() => expect(api.openWatchCount()).toBe(1));
    await sidecar.stop();
  });

  it('refuses a bundle whose digest fails and keeps deciding with the last good one', async () => {
    setup('invalid');
    const { sidecar, log } = makeSidecar(api, clock, prometheus.url, { namespace: 'invalid' });
    await sidecar.start();
    const tampered = shopBundle({ namespace: 'invalid', services: ['web'], version: '2.0.0' });
    tampered.spec.guards.maxReplicas = 50; // changed after sealing: the digest no longer matches
    api.put(BUNDLE_API, 'policybundles', tampered as unknown as KubeObject);
    await vi.waitFor(() => expect(sidecar.bundles.stats.refusals).toBe(1));
    expect(log.some((l) => l.includes('refused') && l.includes('/spec/digest'))).toBe(true);
    await clock.advance(240_000);
    expect(decisionOf('invalid').bundleVersion).toBe('1.0.0');
    expect(specOf(hpaOf('invalid')).minReplicas).toBe(4);
    expect(sidecar.telemetry.total('karma_sidecar_bundle_refusals_total')).toBe(1);
    // The status says why the latest generation was refused, and that the last good version still decides.
    const accepted = conditionOf('invalid', 'Accepted')!;
    expect(accepted).toMatchObject({ status: 'False', reason: 'DigestMismatch', observedGeneration: 2 });
    expect(accepted.message).toMatch(/^\/spec\/digest: does not match the content/);
    expect(conditionOf('invalid', 'Active')).toMatchObject({ status: 'True', reason: 'PreviousVersion' });
    expect(bundleStatusOf('invalid')).toMatchObject({ observedGeneration: 2, observedVersion: '1.0.0' });
    // Our own status writes come back through the watch and are not taken for new versions.
    expect(sidecar.bundles.stats.refusals).toBe(1);
    await sidecar.stop();
  });

  it('falls back to the base spec when the only bundle naming the HPA is invalid', async () => {
    clock = new ManualScheduler(at(0));
    const tampered = shopBundle({ namespace: 'refused', services: ['web'] });
    tampered.spec.guards.maxStep = 3;
    api.put(BUNDLE_API, 'policybundles', tampered as unknown as KubeObject);
    // The HPA still carries an earlier decision (min 5) from that bundle.
    const earlier = formatDecision({ bundle: 'refused/shop-policy', bundleVersion: '0.9.0', agent: 'surge-web', role: 'ddos-manager', replicaChange: 3,
      minReplicas: 5, maxReplicas: 10, reason: 'earlier', time: new Date(at(-600)).toISOString().replace(/\.\d{3}Z$/, 'Z') });
    seedService(api, { namespace: 'refused', service: 'web', minReplicas: 2, maxReplicas: 10, replicas: 5,
      annotations: { [BUNDLE_ANNOTATION]: 'refused/shop-policy@0.9.0', [DECISION_ANNOTATION]: earlier } });
    const h = hpaOf('refused')!;
    api.put(HPA_API, HPAS, { ...h, spec: { ...(h.spec as object), minReplicas: 5 } });
    const { sidecar } = makeSidecar(api, clock, prometheus.url, { namespace: 'refused' });
    await sidecar.start();
    await clock.advance(15_000);
    expect(specOf(hpaOf('refused')).minReplicas).toBe(2);
    expect(sidecar.lastTick?.outcomes[0]?.plan.fallbackCause).toBe('invalid_bundle');
    expect(decisionOf('refused').reason).toContain('/spec/digest');
    await sidecar.stop();
  });

  it('gives an HPA its base spec back when its bundle is deleted', async () => {
    setup('deleted');
    const { sidecar } = makeSidecar(api, clock, prometheus.url, { namespace: 'deleted' });
    await sidecar.start();
    await clock.advance(240_000);
    expect(specOf(hpaOf('deleted')).minReplicas).toBe(4);
    api.remove(BUNDLE_API, 'policybundles', 'deleted', 'shop-policy');
    await vi.waitFor(() => expect(sidecar.bundles.goodBundles()).toHaveLength(0));
    await clock.advance(15_000);
    expect(specOf(hpaOf('deleted')).minReplicas).toBe(2);
    expect(decisionOf('deleted')).toMatchObject({ agent: 'fallback', minReplicas: 2 });
    expect(sidecar.lastTick?.outcomes[0]?.plan.fallbackCause).toBe('no_bundle');
    await sidecar.stop();
  });

  it('survives an API outage and converges once the server recovers', async () => {
    setup('fault');
    const { sidecar } = makeSidecar(api, clock, prometheus.url, { namespace: 'fault' });
    // The outage starts before the sidecar: even the first list of bundles fails and is retried.
    const outageEnds = at(300);
    api.injectFault({ status: 503, while: () => clock.now() < outageEnds, match: ({ path }) => path.includes('/namespaces/fault/') });
    await sidecar.start();
    expect(sidecar.bundles.goodBundles()).toHaveLength(0);
    await clock.advance(290_000);
    expect(specOf(hpaOf('fault')).minReplicas).toBe(2);
    expect(sidecar.bundles.stats.lists).toBeGreaterThan(3);
    expect(sidecar.telemetry.value('karma_sidecar_tick_errors_total')).toBeGreaterThanOrEqual(15);
    expect(sidecar.lastTick?.error).toMatch(/503/);
    await clock.advance(30_000);
    await vi.waitFor(() => expect(sidecar.bundles.goodBundles()).toHaveLength(1));
    await clock.advance(30_000);
    expect(specOf(hpaOf('fault')).minReplicas).toBe(4);
    expect(sidecar.lastTick?.error).toBeUndefined();
    api.clearFaults();
    await sidecar.stop();
  });

  it('logs and counts a failed status write without breaking the tick, and writes on the next one', async () => {
    setup('statusfault');
    const { sidecar, log } = makeSidecar(api, clock, prometheus.url, { namespace: 'statusfault' });
    api.injectFault({ status: 500, count: 1, match: ({ method, path }) => method === 'PATCH' && path.endsWith('/namespaces/statusfault/policybundles/shop-policy/status') });
    await sidecar.start();
    await clock.advance(15_000);
    expect(sidecar.lastTick?.error).toBeUndefined();
    expect(sidecar.lastTick?.outcomes).toHaveLength(1);
    expect(sidecar.telemetry.value('karma_sidecar_status_writes_total', { result: 'failed' })).toBe(1);
    expect(log.some((l) => l.startsWith('policy bundle statusfault/shop-policy: status not written: 500'))).toBe(true);
    expect(bundleStatusOf('statusfault').conditions).toBeUndefined();
    await clock.advance(15_000);
    expect(sidecar.telemetry.value('karma_sidecar_status_writes_total', { result: 'written' })).toBe(1);
    expect(conditionOf('statusfault', 'Accepted')?.status).toBe('True');
    await sidecar.stop();
  });

  it('writes no status while another replica holds the lease', async () => {
    setup('follower');
    const renewTime = new Date(clock.now()).toISOString().replace('Z', '000Z');
    api.put(LEASE_API, 'leases', { metadata: { name: 'karma-hpa-sidecar', namespace: 'follower' }, spec: { holderIdentity: 'sidecar-1', leaseDurationSeconds: 3600, renewTime, acquireTime: renewTime, leaseTransitions: 0 } });
    const { sidecar } = makeSidecar(api, clock, prometheus.url, { namespace: 'follower', leaderElection: { namespace: 'follower' } });
    await sidecar.start();
    await clock.advance(60_000);
    expect(sidecar.lastTick?.skipped).toMatch(/not the leader \(lease held by sidecar-1\)/);
    expect(statusWrites('follower')).toHaveLength(0);
    expect(api.requestsTo('POST', '/namespaces/follower/events')).toHaveLength(0);
    await sidecar.stop({ release: false });
  });

  it('records a new Event per changed decision but at most a burst, then one a minute, for a flapping HPA', async () => {
    setup('flap');
    const { sidecar } = makeSidecar(api, clock, prometheus.url, { namespace: 'flap' });
    await sidecar.start();
    const ticks = 20;
    for (let i = 0; i < ticks; i++) {
      // Paused and unpaused by turns: every tick's decision differs from the one before.
      const h = hpaOf('flap')!;
      api.put(HPA_API, HPAS, { ...h, metadata: { ...h.metadata, annotations: { ...h.metadata.annotations, [PAUSED_ANNOTATION]: i % 2 === 0 ? 'true' : 'false' } } });
      await clock.advance(15_000);
    }
    const created = sidecar.telemetry.value('karma_sidecar_events_total', { result: 'created' });
    const limited = sidecar.telemetry.value('karma_sidecar_events_total', { result: 'rate_limited' });
    expect(eventsFor(api, 'flap', 'web')).toHaveLength(created);
    // A burst of 10 plus one per minute over the 5 minutes.
    expect(created).toBeGreaterThanOrEqual(10);
    expect(created).toBeLessThanOrEqual(15);
    expect(limited).toBeGreaterThan(0);
    expect(eventsFor(api, 'flap', 'web').filter((e) => e.action === 'Pause').length).toBeGreaterThanOrEqual(5);
    await sidecar.stop();
  });

  it('falls back to core/v1 Events once on a cluster without events.k8s.io/v1, and remembers it', async () => {
    const old = await KubeApiServer.start({ now: () => clock.now() });
    try {
      old.unserve(EVENTS_API);
      clock = new ManualScheduler(at(0));
      old.put(BUNDLE_API, 'policybundles', shopBundle({ namespace: 'legacy', services: ['web'] }) as unknown as KubeObject);
      seedService(old, { namespace: 'legacy', service: 'web', minReplicas: 2, maxReplicas: 10, replicas: 2 });
      const { sidecar } = makeSidecar(old, clock, undefined, { namespace: 'legacy' });
      await sidecar.start();
      await clock.advance(15_000);
      const h = old.get(HPA_API, HPAS, 'legacy', 'web')!;
      old.put(HPA_API, HPAS, { ...h, metadata: { ...h.metadata, annotations: { ...h.metadata.annotations, [PAUSED_ANNOTATION]: 'true' } } });
      await clock.advance(15_000);
      const events = coreEventsFor(old, 'legacy', 'web');
      expect(events.map((e) => e.action)).toEqual(['Keep', 'Pause']);
      expect(events[1]).toMatchObject({
        apiVersion: 'v1', reason: 'KarmaDecision', type: 'Normal', reportingComponent: 'karma-hpa.io/sidecar', reportingInstance: 'sidecar-0',
        source: { component: 'karma-hpa.io/sidecar' }, involvedObject: { kind: 'HorizontalPodAutoscaler', name: 'web', namespace: 'legacy' },
      });
      expect(events[1]!.message).toMatch(/^paused by annotation/);
      // events.k8s.io was asked once (404), never again.
      expect(old.requestsTo('POST', '/apis/events.k8s.io/v1/').map((r) => r.status)).toEqual([404]);
      await sidecar.stop();
    } finally {
      await old.close();
    }
  });
});
