/**
 * Where the sidecar's ClusterSnapshot comes from: pods and the HPA from the Kubernetes API, CPU from the
 * metrics API (metrics.k8s.io/v1beta1), traffic, latency, queues and errors from Prometheus (one PromQL
 * query per snapshot field, `$service` and `$namespace` substituted). Turning readings into a snapshot
 * is pure (serviceSnapshotFrom); the collector only fetches.
 */
import type { ClusterSnapshot, ServiceSnapshot } from '../../policies/snapshot.ts';
import type { ClusterPort, HpaObject, PodMetricsObject, PodObject } from './cluster-port.ts';

/** PromQL per snapshot field. `sampleTime` must give the newest sample's timestamp (seconds) for staleness. */
export interface PromQueries {
  requestRate: string;
  p95LatencyMs: string;
  pendingRequests: string;
  errorRate: string;
  sampleTime: string;
  nodeCpuUtilization: string;
}

export const DEFAULT_QUERIES: PromQueries = {
  requestRate: 'sum(rate(http_requests_total{namespace="$namespace",service="$service"}[1m]))',
  p95LatencyMs: '1000 * histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="$namespace",service="$service"}[1m])))',
  pendingRequests: 'sum(http_requests_in_flight{namespace="$namespace",service="$service"})',
  errorRate: 'sum(rate(http_requests_total{namespace="$namespace",service="$service",code=~"5.."}[1m])) / clamp_min(sum(rate(http_requests_total{namespace="$namespace",service="$service"}[1m])), 1e-9)',
  sampleTime: 'max(timestamp(http_requests_total{namespace="$namespace",service="$service"}))',
  nodeCpuUtilization: '1 - avg(rate(node_cpu_seconds_total{mode="idle"}[1m]))',
};

export class PrometheusError extends Error {}

/** The instant-query part of the Prometheus HTTP API. */
export class PrometheusClient {
  readonly baseUrl: string;

  constructor(baseUrl: string) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
  }

  /** Value of an instant query at `timeMs` (first series of a vector, or a scalar); undefined when empty. */
  async query(promql: string, timeMs: number): Promise<number | undefined> {
    const url = `${this.baseUrl}/api/v1/query?${new URLSearchParams({ query: promql, time: (timeMs / 1000).toFixed(3) })}`;
    let res: Response;
    try {
      res = await fetch(url);
    } catch (e) {
      throw new PrometheusError(`Prometheus at ${this.baseUrl} is unreachable: ${(e as Error).message}`);
    }
    const body = (await res.json().catch(() => undefined)) as { status?: string; error?: string; data?: { resultType: string; result: unknown } } | undefined;
    if (!res.ok || body?.status !== 'success' || !body.data) {
      throw new PrometheusError(`Prometheus query failed (HTTP ${res.status}): ${body?.error ?? 'no body'}; query: ${promql}`);
    }
    const { resultType, result } = body.data;
    if (resultType === 'scalar') return Number((result as [number, string])[1]);
    if (resultType === 'vector') {
      const first = (result as { value: [number, string] }[])[0];
      return first === undefined ? undefined : Number(first.value[1]);
    }
    return undefined;
  }
}

export function substitute(promql: string, service: string, namespace: string): string {
  return promql.replaceAll('$service', service).replaceAll('$namespace', namespace);
}

/** CPU quantity (`250m`, `1`, `1500000n`, `12u`) in millicores. */
export function cpuMilli(quantity: string | undefined): number {
  if (quantity === undefined) return 0;
  const m = /^([0-9.]+)(n|u|m|k)?$/.exec(quantity.trim());
  if (!m) return 0;
  const v = Number(m[1]);
  switch (m[2]) {
    case 'n': return v / 1e6;
    case 'u': return v / 1e3;
    case 'm': return v;
    case 'k': return v * 1e6;
    default: return v * 1000;
  }
}

/** What Prometheus said about one service (undefined: no such series). */
export interface PromReadings {
  requestRate?: number;
  p95LatencyMs?: number;
  pendingRequests?: number;
  errorRate?: number;
  /** Epoch seconds of the newest sample. */
  sampleTime?: number;
}

export interface ServiceReadings {
  hpa: HpaObject;
  pods: PodObject[];
  podMetrics: PodMetricsObject[];
  /** Undefined when no Prometheus is configured. */
  prom: PromReadings | undefined;
  /** requestRate of the previous snapshot, for requestRateChange. */
  previousRequestRate: number | undefined;
}

export interface ServiceSnapshotResult {
  snapshot: ServiceSnapshot;
  /** Seconds since the oldest of the sources behind the snapshot was sampled. */
  ageSeconds: number;
  /** Why the snapshot cannot be trusted (empty when it can). */
  missing: string[];
}

function isReady(p: PodObject): boolean {
  return p.status?.phase === 'Running' && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Pure: one service's snapshot from what the APIs returned at `nowMs`. */
export function serviceSnapshotFrom(r: ServiceReadings, nowMs: number): ServiceSnapshotResult {
  const missing: string[] = [];
  const pods = r.pods.filter((p) => p.status?.phase !== 'Succeeded');
  const ready = pods.filter(isReady);
  const crashLoopPods = pods.filter((p) => (p.status?.containerStatuses ?? []).some((c) => c.state?.waiting?.reason === 'CrashLoopBackOff')).length;
  const failedPods = pods.filter((p) => p.status?.phase === 'Failed' || (!isReady(p) && (p.status?.containerStatuses ?? []).some((c) => (c.restartCount ?? 0) > 0))).length;

  // CPU utilisation of ready pods relative to their requests, as the HPA computes it.
  const usage = new Map(r.podMetrics.map((m) => [m.metadata.name, (m.containers ?? []).reduce((s, c) => s + cpuMilli(c.usage?.cpu), 0)]));
  let usedMilli = 0;
  let requestedMilli = 0;
  let metricsTimeMs = Infinity;
  for (const p of ready) {
    const u = usage.get(p.metadata.name);
    if (u === undefined) continue;
    usedMilli += u;
    requestedMilli += (p.spec?.containers ?? []).reduce((s, c) => s + cpuMilli(c.resources?.requests?.cpu), 0);
    const ts = Date.parse(r.podMetrics.find((m) => m.metadata.name === p.metadata.name)?.timestamp ?? '');
    if (Number.isFinite(ts)) metricsTimeMs = Math.min(metricsTimeMs, ts);
  }
  if (ready.length > 0 && requestedMilli === 0) missing.push('no CPU metrics from metrics.k8s.io for the ready pods');

  let oldestMs = Number.isFinite(metricsTimeMs) ? metricsTimeMs : nowMs;
  const prom = r.prom;
  if (prom !== undefined) {
    if (prom.sampleTime === undefined) missing.push('Prometheus has no samples for the service');
    else oldestMs = Math.min(oldestMs, prom.sampleTime * 1000);
    if (prom.requestRate === undefined) missing.push('Prometheus has no request rate for the service');
  }
  const finite = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v : 0);
  const requestRate = finite(prom?.requestRate);
  const prev = r.previousRequestRate;
  const snapshot: ServiceSnapshot = {
    replicas: pods.length,
    readyReplicas: ready.length,
    desiredReplicas: r.hpa.status?.desiredReplicas ?? r.hpa.status?.currentReplicas ?? pods.length,
    cpuUtilization: requestedMilli > 0 ? usedMilli / requestedMilli : 0,
    requestRate,
    requestRateChange: prev !== undefined && prev > 0 ? requestRate / prev : 1,
    p95LatencyMs: finite(prom?.p95LatencyMs),
    pendingRequests: finite(prom?.pendingRequests),
    errorRate: Math.min(1, Math.max(0, finite(prom?.errorRate))),
    failedPods,
    crashLoopPods,
    minReplicas: r.hpa.spec.minReplicas ?? 1,
    maxReplicas: r.hpa.spec.maxReplicas,
  };
  return { snapshot, ageSeconds: Math.max(0, (nowMs - oldestMs) / 1000), missing };
}

export interface GovernedService {
  service: string;
  namespace: string;
  hpa: HpaObject;
}

export interface CollectedSnapshot {
  snapshot: ClusterSnapshot;
  /** Per service: age of its metrics and what is missing. */
  health: Record<string, { ageSeconds: number; missing: string[] }>;
}

export interface MetricsCollectorOptions {
  port: ClusterPort;
  prometheus?: PrometheusClient;
  queries?: Partial<PromQueries>;
  /** Label that selects a service's pods: `<podLabel>=<service>`. */
  podLabel?: string;
}

/** Fetches readings for the governed services and assembles the ClusterSnapshot. */
export class MetricsCollector {
  private readonly opts: MetricsCollectorOptions;
  private readonly queries: PromQueries;
  private readonly lastRequestRate = new Map<string, number>();

  constructor(opts: MetricsCollectorOptions) {
    this.opts = opts;
    this.queries = { ...DEFAULT_QUERIES, ...opts.queries };
  }

  async collect(services: GovernedService[], nowMs: number): Promise<CollectedSnapshot> {
    const label = this.opts.podLabel ?? 'app';
    const health: CollectedSnapshot['health'] = {};
    const out: Record<string, ServiceSnapshot> = {};
    await Promise.all(services.map(async ({ service, namespace, hpa }) => {
      const selector = `${label}=${service}`;
      try {
        const [pods, podMetrics, prom] = await Promise.all([
          this.opts.port.listPods(namespace, selector),
          this.opts.port.listPodMetrics(namespace, selector).catch(() => [] as PodMetricsObject[]),
          this.promReadings(service, namespace, nowMs),
        ]);
        const result = serviceSnapshotFrom({ hpa, pods, podMetrics, prom, previousRequestRate: this.lastRequestRate.get(`${namespace}/${service}`) }, nowMs);
        out[service] = result.snapshot;
        health[service] = { ageSeconds: result.ageSeconds, missing: result.missing };
        if (result.missing.length === 0) this.lastRequestRate.set(`${namespace}/${service}`, result.snapshot.requestRate);
      } catch (e) {
        health[service] = { ageSeconds: Infinity, missing: [`metrics unavailable: ${(e as Error).message}`] };
      }
    }));
    let nodeCpuUtilization = 0;
    if (this.opts.prometheus) {
      const v = await this.opts.prometheus.query(this.queries.nodeCpuUtilization, nowMs).catch(() => undefined);
      if (v !== undefined && Number.isFinite(v)) nodeCpuUtilization = v;
    }
    const ages = Object.values(health).map((h) => h.ageSeconds).filter(Number.isFinite);
    return {
      snapshot: { timeMs: nowMs, metricsAgeSeconds: ages.length > 0 ? Math.max(...ages) : 0, services: out, nodeCpuUtilization },
      health,
    };
  }

  private async promReadings(service: string, namespace: string, nowMs: number): Promise<PromReadings | undefined> {
    const prom = this.opts.prometheus;
    if (!prom) return undefined;
    const q = (promql: string) => prom.query(substitute(promql, service, namespace), nowMs);
    const [requestRate, p95LatencyMs, pendingRequests, errorRate, sampleTime] = await Promise.all([
      q(this.queries.requestRate), q(this.queries.p95LatencyMs), q(this.queries.pendingRequests), q(this.queries.errorRate), q(this.queries.sampleTime),
    ]);
    return { requestRate, p95LatencyMs, pendingRequests, errorRate, sampleTime };
  }
}
