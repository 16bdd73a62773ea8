/**
 * Known series for Prometheus round trips: the first 60 steps of two services of the real slice,
 * written in the units exporters commonly use (CPU in cores, latency in milliseconds), so reading
 * them back exercises unit conversion as well as the HTTP API.
 */
import { readCsvTraceDirectory } from '../../../generator/model/readers/csv-directory.ts';
import type { TraceMapping } from '../../../generator/model/readers/prometheus.ts';
import { openMetricsGauges } from '../../support/prometheus.ts';
import { SLICE_DIR } from '../../unit/model/slice.ts';

export const STEPS = 60;
export const SERVICES = ['cartservice', 'frontend'] as const;

export function knownSeries(): { start: number; end: number; step: number; values: Record<string, { cpu: number[]; latencyP90: number[]; workload: number[] }> } {
  const set = readCsvTraceDirectory(SLICE_DIR);
  const values: Record<string, { cpu: number[]; latencyP90: number[]; workload: number[] }> = {};
  for (const s of SERVICES) {
    const m = set.services[s]!.metrics;
    values[s] = { cpu: Array.from(m.cpu!.subarray(0, STEPS)), latencyP90: Array.from(m.latencyP90!.subarray(0, STEPS)), workload: Array.from(m.workload!.subarray(0, STEPS)) };
  }
  return { start: set.timestamps[0]!, end: set.timestamps[STEPS - 1]!, step: set.stepSeconds, values };
}

export function knownOpenMetrics(): string {
  const k = knownSeries();
  const at = (i: number): number => k.start + i * k.step;
  const family = (f: (s: string) => number[], scale: number): { labels: Record<string, string>; samples: [number, number][] }[] =>
    SERVICES.map((s) => ({ labels: { service: s }, samples: f(s).map((v, i) => [at(i), v * scale] as [number, number]) }));
  return openMetricsGauges({
    karma_pod_cpu_cores: family((s) => k.values[s]!.cpu, 1 / 1000),
    karma_server_latency_p90_ms: family((s) => k.values[s]!.latencyP90, 1000),
    karma_pod_workload_ops: family((s) => k.values[s]!.workload, 1),
    // Two pods of one service: the mapping must say how to combine them.
    karma_replica_cpu_cores: [
      { labels: { service: 'cartservice', pod: 'a' }, samples: k.values.cartservice!.cpu.map((v, i) => [at(i), (0.25 * v) / 1000] as [number, number]) },
      { labels: { service: 'cartservice', pod: 'b' }, samples: k.values.cartservice!.cpu.map((v, i) => [at(i), (0.75 * v) / 1000] as [number, number]) },
    ],
  });
}

export function knownMapping(): TraceMapping {
  const services: TraceMapping['services'] = {};
  for (const s of SERVICES) {
    services[s] = {
      cpu: s === 'cartservice' ? { query: `karma_replica_cpu_cores{service="${s}"}`, unit: 'cores', aggregate: 'sum' } : { query: `karma_pod_cpu_cores{service="${s}"}`, unit: 'cores' },
      latencyP90: { query: `karma_server_latency_p90_ms{service="${s}"}`, unit: 'milliseconds' },
      workload: { query: `karma_pod_workload_ops{service="${s}"}`, unit: 'ops/s' },
    };
  }
  return { services, callGraph: [{ source: 'frontend', target: 'cartservice', weight: 1 }], faults: [{ time: 1661140434, service: 'frontend', type: 'cpu_contention' }] };
}
