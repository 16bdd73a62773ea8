/**
 * Shared set-up for the sidecar's integration tests: a sealed PolicyBundle for a small shop, the
 * Kubernetes objects of its services (HPA, pods, pod metrics) and Prometheus series of their traffic.
 */
import { readFileSync } from 'node:fs';
import { sealBundle, type AgentPolicy, type PolicyBundle, type UnsealedPolicyBundle, type GuardsOverride } from '../../../policies/bundle.ts';
import { encodeWeights, parameterCount } from '../../../policies/network.ts';
import { BASE_SPEC_ANNOTATION, formatBaseSpec } from '../../../policies/annotations.ts';
import {
  CORE_API, HPA_API, HPAS, METRICS_API, hpaObject, podMetricsObject, podObject, type KubeApiServer, type KubeObject,
} from '../../support/kube-api.ts';
import type { Series } from '../../support/prometheus-sidecar.ts';

const example = JSON.parse(readFileSync(new URL('../../../policies/examples/chained-services.bundle.json', import.meta.url), 'utf8')) as PolicyBundle;

export const FEATURES = example.spec.agents[0]!.observation.features;

/** A network whose output ignores its input: logits are `bias`, so the choice and its probability are known. */
export function constantNetwork(bias: number[]): AgentPolicy['network'] {
  const sizes = [FEATURES.length, 4, bias.length];
  const params = new Float32Array(parameterCount(sizes));
  params.set(bias, params.length - bias.length);
  return { inputs: FEATURES.length, hidden: [4], outputs: bias.length, activation: 'relu', weights: encodeWeights(params) };
}

export interface BundleOptions {
  namespace: string;
  name?: string;
  version?: string;
  services: string[];
  evaluator?: 'network' | 'rules';
  /** Logits of every agent's network (network evaluator). */
  logits?: number[];
  paused?: boolean;
  guards?: Partial<PolicyBundle['spec']['guards']>;
  targetGuards?: GuardsOverride;
}

/**
 * One "surge" agent (role ddos-manager) per service. Its rules: more than 150 requests/s → +2;
 * under 20 requests/s with more than 2 replicas → −1; otherwise no change.
 */
export function shopBundle(o: BundleOptions): PolicyBundle {
  const agents: AgentPolicy[] = o.services.map((service) => ({
    name: `surge-${service}`,
    role: 'ddos-manager',
    services: [service],
    observation: { features: [...FEATURES], mean: FEATURES.map(() => 0), std: FEATURES.map(() => 1) },
    network: constantNetwork(o.logits ?? [0, 0, 0, 0, 0, 3, 0]),
    actions: [-3, -2, -1, 0, 1, 2, 3],
    rules: [
      { conditions: [{ feature: 'requestRate', op: '>', threshold: 150 }], action: 2, support: 0.2 },
      { conditions: [{ feature: 'requestRate', op: '<=', threshold: 20 }, { feature: 'replicas', op: '>', threshold: 2 }], action: -1, support: 0.3 },
    ],
    ruleFidelity: 0.9,
  }));
  const unsealed: UnsealedPolicyBundle = {
    apiVersion: 'karma-hpa.io/v1alpha1',
    kind: 'PolicyBundle',
    metadata: { name: o.name ?? 'shop-policy', namespace: o.namespace },
    spec: {
      version: o.version ?? '1.0.0',
      description: 'test bundle for the sidecar',
      ...(o.paused !== undefined ? { paused: o.paused } : {}),
      evaluator: o.evaluator ?? 'rules',
      targets: o.services.map((service) => ({ service, namespace: o.namespace, hpaName: service, ...(o.targetGuards ? { guards: o.targetGuards } : {}) })),
      guards: { minReplicas: 1, maxReplicas: 10, maxStep: 2, cooldownSeconds: 0, fallback: { staleMetricsSeconds: 60, minConfidence: 0.4 }, enforcement: 'deny', ...o.guards },
      organisation: example.spec.organisation,
      agents,
      provenance: example.spec.provenance,
    },
  };
  return sealBundle(unsealed);
}

/** Put the HPA (with its base-spec annotation), `replicas` ready pods and their CPU metrics. */
export function seedService(api: KubeApiServer, o: { namespace: string; service: string; minReplicas: number; maxReplicas: number; replicas: number;
  cpuRequest?: string; cpuUsage?: string; metricsTimeMs?: number; annotations?: Record<string, string> }): void {
  const hpa = hpaObject({ name: o.service, namespace: o.namespace, minReplicas: o.minReplicas, maxReplicas: o.maxReplicas, currentReplicas: o.replicas });
  hpa.metadata.annotations = { [BASE_SPEC_ANNOTATION]: formatBaseSpec(hpa.spec), ...o.annotations };
  api.put(HPA_API, HPAS, hpa);
  setPods(api, o);
}

export function setPods(api: KubeApiServer, o: { namespace: string; service: string; replicas: number; cpuRequest?: string; cpuUsage?: string; metricsTimeMs?: number }): void {
  for (const p of api.list(CORE_API, 'pods', o.namespace)) if (p.metadata.labels?.app === o.service) api.remove(CORE_API, 'pods', o.namespace, p.metadata.name);
  for (const p of api.list(METRICS_API, 'pods', o.namespace)) if (p.metadata.labels?.app === o.service) api.remove(METRICS_API, 'pods', o.namespace, p.metadata.name);
  for (let i = 0; i < o.replicas; i++) {
    const name = `${o.service}-${i}`;
    api.put(CORE_API, 'pods', podObject({ name, namespace: o.namespace, app: o.service, cpuRequest: o.cpuRequest ?? '500m' }));
    api.put(METRICS_API, 'pods', podMetricsObject({ name, namespace: o.namespace, app: o.service, cpu: o.cpuUsage ?? '250m', ...(o.metricsTimeMs !== undefined ? { timestamp: new Date(o.metricsTimeMs).toISOString().replace(/\.\d{3}Z$/, 'Z') } : {}) }));
  }
}

/** Counter and gauge series of one service: each phase holds a request rate for some seconds. */
export function trafficSeries(o: { namespace: string; service: string; startSec: number; stepSec?: number; phases: { seconds: number; rps: number; inFlight?: number }[] }): Series[] {
  const step = o.stepSec ?? 15;
  const labels = { namespace: o.namespace, service: o.service };
  const requests: [number, number][] = [];
  const inFlight: [number, number][] = [];
  let t = o.startSec;
  let count = 0;
  for (const phase of o.phases) {
    for (let s = 0; s < phase.seconds; s += step) {
      requests.push([t, count]);
      inFlight.push([t, phase.inFlight ?? 0]);
      count += phase.rps * step;
      t += step;
    }
  }
  requests.push([t, count]);
  inFlight.push([t, o.phases.at(-1)?.inFlight ?? 0]);
  return [
    { name: 'http_requests_total', type: 'counter', labels: { ...labels, code: '200' }, samples: requests },
    { name: 'http_requests_in_flight', type: 'gauge', labels, samples: inFlight },
  ];
}

export function annotationsOf(obj: KubeObject | undefined): Record<string, string> {
  return obj?.metadata.annotations ?? {};
}

export function specOf(obj: KubeObject | undefined): { minReplicas?: number; maxReplicas: number } {
  return obj?.spec as { minReplicas?: number; maxReplicas: number };
}
