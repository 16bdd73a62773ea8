import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualScheduler } from '../../../webhook/sidecar/clock.ts';
import { BUNDLE_API, HPA_API, HPAS, KubeApiServer, LEASE_API, type KubeObject } from '../../support/kube-api.ts';
import { startBackfilledPrometheus, type PrometheusHandle } from '../../support/prometheus-sidecar.ts';
import { seedService, shopBundle, specOf, trafficSeries } from './fixtures.ts';
import { eventsFor, makeSidecar } from './harness.ts';

const T0 = Math.floor(Date.now() / 3_600_000) * 3600 - 3 * 3600;
let api: KubeApiServer;
let prometheus: PrometheusHandle;
let clock: ManualScheduler;

beforeAll(async () => {
  prometheus = await startBackfilledPrometheus(trafficSeries({ namespace: 'leader', service: 'web', startSec: T0, phases: [{ seconds: 900, rps: 200 }] }));
  clock = new ManualScheduler(T0 * 1000);
  api = await KubeApiServer.start({ now: () => clock.now() });
});

afterAll(async () => {
  await api?.close();
  await prometheus?.stop();
});

const election = { namespace: 'leader', name: 'karma-hpa-sidecar', leaseDurationSeconds: 15, retryPeriodSeconds: 5 };
const lease = () => api.get(LEASE_API, 'leases', 'leader', 'karma-hpa-sidecar')?.spec as { holderIdentity?: string | null; leaseTransitions?: number } | undefined;

describe('leader election between sidecar replicas', () => {
  it('lets one replica lead, and another take over only after the lease expires', async () => {
    api.put(BUNDLE_API, 'policybundles', shopBundle({ namespace: 'leader', services: ['web'] }) as unknown as KubeObject);
    seedService(api, { namespace: 'leader', service: 'web', minReplicas: 2, maxReplicas: 10, replicas: 2 });
    const a = makeSidecar(api, clock, prometheus.url, { namespace: 'leader', identity: 'sidecar-a', leaderElection: election }).sidecar;
    const b = makeSidecar(api, clock, prometheus.url, { namespace: 'leader', identity: 'sidecar-b', leaderElection: election }).sidecar;
    await a.start();
    await b.start();
    expect(lease()?.holderIdentity).toBe('sidecar-a');
    await clock.advance(90_000);
    expect(specOf(api.get(HPA_API, HPAS, 'leader', 'web')).minReplicas).toBe(4);
    expect(new Set(eventsFor(api, 'leader', 'web').map((e) => e.reportingInstance))).toEqual(new Set(['sidecar-a']));
    expect(b.lastTick?.skipped).toBe('not the leader (lease held by sidecar-a)');
    expect(a.telemetry.value('karma_sidecar_leader')).toBe(1);
    expect(b.telemetry.value('karma_sidecar_leader')).toBe(0);

    // sidecar-a stops without releasing (a crash): the lease is respected until it expires.
    await a.stop({ release: false });
    await clock.advance(10_000);
    expect(b.elector?.isLeader()).toBe(false);
    expect(lease()?.holderIdentity).toBe('sidecar-a');
    await clock.advance(15_000);
    expect(b.elector?.isLeader()).toBe(true);
    expect(lease()).toMatchObject({ holderIdentity: 'sidecar-b', leaseTransitions: 1 });

    // The new leader acts: the HPA scaled to 4, the agent asks +2 again.
    const h = api.get(HPA_API, HPAS, 'leader', 'web')!;
    api.put(HPA_API, HPAS, { ...h, status: { currentReplicas: 4, desiredReplicas: 4 } });
    await clock.advance(30_000);
    expect(specOf(api.get(HPA_API, HPAS, 'leader', 'web')).minReplicas).toBe(6);
    expect(eventsFor(api, 'leader', 'web').at(-1)?.reportingInstance).toBe('sidecar-b');

    // A graceful stop releases the lease: a new replica leads at once, without waiting for expiry.
    await b.stop();
    expect(lease()?.holderIdentity ?? null).toBeNull();
    const c = makeSidecar(api, clock, prometheus.url, { namespace: 'leader', identity: 'sidecar-c', leaderElection: election }).sidecar;
    await c.start();
    expect(c.elector?.isLeader()).toBe(true);
    expect(lease()).toMatchObject({ holderIdentity: 'sidecar-c', leaseTransitions: 2 });
    await c.stop();
  });
});
