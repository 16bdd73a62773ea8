/**
 * CPU cost of one sidecar tick for 100 governed HPAs: list the HPAs, read pods, pod metrics and five
 * PromQL results per service, evaluate 100 network agents (16→64→64→7) under their role masks, plan,
 * patch and record Events. Clients are in-process (no network), so the number is the sidecar's own
 * CPU. Two cases: every HPA changes (100 patches + Events) and a steady tick (nothing to change).
 * Target: < 100 ms of CPU per tick.
 */
import { readFileSync } from 'node:fs';
import { sealBundle, type PolicyBundle, type UnsealedPolicyBundle } from '../policies/bundle.ts';
import { encodeWeights, parameterCount } from '../policies/network.ts';
import { BASE_SPEC_ANNOTATION, GOVERNED_LABEL, formatBaseSpec } from '../policies/annotations.ts';
import { DEFAULT_FEATURES } from '../policies/observation.ts';
import { Rng } from '../policies/random.ts';
import { ManualScheduler } from '../webhook/sidecar/clock.ts';
import type { ClusterPort, HpaChange, HpaEvent, HpaObject, LeaseObject, PodMetricsObject, PodObject } from '../webhook/sidecar/cluster-port.ts';
import { MetricsCollector, PrometheusClient } from '../webhook/sidecar/metrics-source.ts';
import { Sidecar } from '../webhook/sidecar/sidecar.ts';

type Emit = (record: Record<string, unknown>) => void;

const SERVICES = 100;
const NAMESPACE = 'bench';
const TARGET_MS = 100;

/** The API server's side of the calls the sidecar makes, in memory; objects are copied as a client would decode them. */
class InMemoryCluster implements ClusterPort {
  hpas = new Map<string, HpaObject>();
  pods = new Map<string, PodObject[]>();
  podMetrics = new Map<string, PodMetricsObject[]>();
  events: HpaEvent[] = [];
  bundle: PolicyBundle | undefined;
  private rv = 1;

  async listHpas(): Promise<HpaObject[]> {
    return [...this.hpas.values()].map((h) => structuredClone(h));
  }
  async getHpa(_ns: string, name: string): Promise<HpaObject> {
    return structuredClone(this.hpas.get(name)!);
  }
  async patchHpa(_ns: string, name: string, change: HpaChange): Promise<HpaObject> {
    const h = this.hpas.get(name)!;
    const annotations = { ...h.metadata.annotations };
    for (const [k, v] of Object.entries(change.annotations)) if (v === null) delete annotations[k]; else annotations[k] = v;
    const next: HpaObject = { ...h, metadata: { ...h.metadata, annotations, resourceVersion: String(++this.rv) }, spec: { ...h.spec, minReplicas: change.minReplicas, maxReplicas: change.maxReplicas } };
    this.hpas.set(name, next);
    return structuredClone(next);
  }
  async listPods(_ns: string, selector: string): Promise<PodObject[]> {
    return structuredClone(this.pods.get(selector.split('=')[1]!) ?? []);
  }
  async listPodMetrics(_ns: string, selector: string): Promise<PodMetricsObject[]> {
    return structuredClone(this.podMetrics.get(selector.split('=')[1]!) ?? []);
  }
  async createEvent(event: HpaEvent): Promise<void> {
    this.events.push(event);
  }
  async getLease(): Promise<LeaseObject | undefined> {
    return undefined;
  }
  async createLease(): Promise<LeaseObject> {
    throw new Error('no leases in this benchmark');
  }
  async replaceLease(): Promise<LeaseObject> {
    throw new Error('no leases in this benchmark');
  }
  async listBundles(): Promise<{ items: unknown[]; resourceVersion: string }> {
    return { items: this.bundle ? [structuredClone(this.bundle)] : [], resourceVersion: '1' };
  }
  async watchBundles(): Promise<{ stop: () => void }> {
    return { stop: () => undefined };
  }
  statusPatches = 0;
  async patchBundleStatus(_ns: string, _name: string, status: Record<string, unknown>): Promise<{ resourceVersion?: string }> {
    this.statusPatches++;
    if (this.bundle) this.bundle = { ...this.bundle, status: { ...this.bundle.status, ...status } } as PolicyBundle;
    return { resourceVersion: String(++this.rv) };
  }
}

/** Answers PromQL from a table keyed by service, as Prometheus would for the default queries. */
class InMemoryPrometheus extends PrometheusClient {
  private readonly nowSec: number;
  constructor(nowSec: number) {
    super('http://in-memory');
    this.nowSec = nowSec;
  }
  override async query(promql: string): Promise<number | undefined> {
    const service = /service="([^"]+)"/.exec(promql)?.[1];
    if (!service) return 0.5;
    const i = Number(service.split('-')[1]);
    if (promql.includes('timestamp(')) return this.nowSec - 10;
    if (promql.includes('histogram_quantile')) return 80 + i;
    if (promql.includes('in_flight')) return i % 7;
    if (promql.includes('code=~"5..')) return 0.01;
    return 100 + 3 * i;
  }
}

function buildCluster(nowMs: number): InMemoryCluster {
  const cluster = new InMemoryCluster();
  const example = JSON.parse(readFileSync(new URL('../policies/examples/chained-services.bundle.json', import.meta.url), 'utf8')) as PolicyBundle;
  const rng = new Rng(11);
  const features = [...DEFAULT_FEATURES];
  const sizes = [features.length, 64, 64, 7];
  const services = Array.from({ length: SERVICES }, (_, i) => `svc-${i}`);
  const roles = ['bottleneck-manager', 'ddos-manager', 'failure-manager', 'resource-manager'];
  const unsealed: UnsealedPolicyBundle = {
    apiVersion: 'karma-hpa.io/v1alpha1', kind: 'PolicyBundle', metadata: { name: 'bench', namespace: NAMESPACE },
    spec: {
      version: '1.0.0', evaluator: 'network',
      targets: services.map((service) => ({ service, namespace: NAMESPACE, hpaName: service })),
      guards: { minReplicas: 1, maxReplicas: 20, maxStep: 3, cooldownSeconds: 0, fallback: { staleMetricsSeconds: 60, minConfidence: 0 }, enforcement: 'deny' },
      organisation: example.spec.organisation,
      agents: services.map((service, i) => {
        const params = new Float32Array(parameterCount(sizes));
        for (let k = 0; k < params.length; k++) params[k] = rng.normal() * 0.2;
        return {
          name: `agent-${service}`, role: roles[i % roles.length]!, services: [service],
          observation: { features, mean: features.map(() => 0), std: features.map(() => 1) },
          network: { inputs: features.length, hidden: [64, 64], outputs: 7, activation: 'tanh' as const, weights: encodeWeights(params) },
          actions: [-3, -2, -1, 0, 1, 2, 3],
        };
      }),
      provenance: example.spec.provenance,
    },
  };
  cluster.bundle = sealBundle(unsealed);
  for (const [i, service] of services.entries()) {
    const spec = { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: service }, minReplicas: 2, maxReplicas: 12,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }] };
    cluster.hpas.set(service, {
      apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler',
      metadata: { name: service, namespace: NAMESPACE, uid: `uid-${i}`, resourceVersion: '1', labels: { [GOVERNED_LABEL]: 'true' }, annotations: { [BASE_SPEC_ANNOTATION]: formatBaseSpec(spec) } },
      spec, status: { currentReplicas: 3 + (i % 4), desiredReplicas: 3 + (i % 4) },
    });
    const n = 3 + (i % 4);
    cluster.pods.set(service, Array.from({ length: n }, (_, k) => ({
      metadata: { name: `${service}-${k}`, namespace: NAMESPACE, labels: { app: service } },
      spec: { containers: [{ name: 'main', resources: { requests: { cpu: '500m' } } }] },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'main', ready: true, restartCount: 0, state: {} }] },
    })));
    cluster.podMetrics.set(service, Array.from({ length: n }, (_, k) => ({
      metadata: { name: `${service}-${k}`, namespace: NAMESPACE, labels: { app: service } },
      timestamp: new Date(nowMs - 5000).toISOString(), containers: [{ name: 'main', usage: { cpu: `${200 + 5 * i + k}m` } }],
    })));
  }
  return cluster;
}

function cpuMs(f: () => Promise<unknown>): Promise<number> {
  const start = process.cpuUsage();
  return f().then(() => {
    const d = process.cpuUsage(start);
    return (d.user + d.system) / 1000;
  });
}

export async function run(emit: Emit): Promise<void> {
  const nowMs = Date.parse('2026-06-01T12:00:00Z');
  const cluster = buildCluster(nowMs);
  const scheduler = new ManualScheduler(nowMs);
  const sidecar = new Sidecar({
    port: cluster, scheduler, identity: 'bench', namespace: NAMESPACE, leaderElection: false,
    collector: new MetricsCollector({ port: cluster, prometheus: new InMemoryPrometheus(nowMs / 1000) }),
  });
  await sidecar.start({ ticking: false });
  const base = new Map([...cluster.hpas].map(([k, v]) => [k, structuredClone(v)]));
  const reset = () => { for (const [k, v] of base) cluster.hpas.set(k, structuredClone(v)); };

  for (let i = 0; i < 5; i++) {
    reset();
    await sidecar.tick();
  }
  const changing: number[] = [];
  const steady: number[] = [];
  let patched = 0;
  // A steady tick must not rewrite the bundle's status.
  let steadyStatusWrites = 0;
  for (let i = 0; i < 20; i++) {
    reset();
    const events = cluster.events.length;
    changing.push(await cpuMs(() => sidecar.tick()));
    patched = sidecar.lastTick!.outcomes.filter((o) => o.result === 'applied').length;
    if (cluster.events.length === events && patched === 0) throw new Error('the benchmark tick changed nothing');
    const writes = cluster.statusPatches;
    steady.push(await cpuMs(() => sidecar.tick()));
    steadyStatusWrites += cluster.statusPatches - writes;
  }
  await sidecar.stop();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  emit({ bench: 'sidecar.tick_100_hpas_changing', unit: 'cpu_ms', value: Number(median(changing).toFixed(2)), max: Number(Math.max(...changing).toFixed(2)),
    target: TARGET_MS, hpas: SERVICES, patchedPerTick: patched, agents: SERVICES, network: '16x64x64x7', samples: changing.length });
  emit({ bench: 'sidecar.tick_100_hpas_steady', unit: 'cpu_ms', value: Number(median(steady).toFixed(2)), max: Number(Math.max(...steady).toFixed(2)),
    target: TARGET_MS, hpas: SERVICES, samples: steady.length, statusWrites: steadyStatusWrites });
}
