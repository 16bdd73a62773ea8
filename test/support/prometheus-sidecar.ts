/**
 * Prometheus series for the sidecar's tests: counters and gauges written as OpenMetrics and backfilled
 * into a real Prometheus (test/support/prometheus.ts), so queries at chosen instants return known values
 * without scraping or waiting.
 */
import { startPrometheus, type RunningPrometheus } from './prometheus.ts';

export interface Series {
  name: string;
  type: 'counter' | 'gauge';
  labels: Record<string, string>;
  /** [epoch seconds, value], any order. */
  samples: [number, number][];
}

export type PrometheusHandle = RunningPrometheus;

/** OpenMetrics text of the series, grouped by family, samples in time order. */
export function openMetricsText(series: Series[]): string {
  const byName = new Map<string, Series[]>();
  for (const s of series) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  const lines: string[] = [];
  for (const [name, group] of [...byName.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    // OpenMetrics declares a counter family without its _total suffix.
    const family = group[0]!.type === 'counter' ? name.replace(/_total$/, '') : name;
    lines.push(`# TYPE ${family} ${group[0]!.type}`);
    for (const s of group) {
      const labels = Object.entries(s.labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}="${v}"`).join(',');
      for (const [t, v] of [...s.samples].sort((a, b) => a[0] - b[0])) lines.push(`${name}{${labels}} ${v} ${t}`);
    }
  }
  lines.push('# EOF');
  return `${lines.join('\n')}\n`;
}

/** Backfill the series, start Prometheus on them, and wait until it answers queries. */
export function startBackfilledPrometheus(series: Series[]): Promise<PrometheusHandle> {
  return startPrometheus({ openMetrics: openMetricsText(series) });
}
