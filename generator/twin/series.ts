import { canonicalJson } from '../../policies/canonical.ts';

/**
 * The per-second, per-service fields the simulation records. Flows (offered … pending) are sums over
 * the second; states (queue … failedPods) are taken at the end of the second.
 */
export const SERIES_FIELDS = [
  'offered', // requests arriving at the service (including those dropped)
  'served', // requests completed
  'servedWithinSlo', // expected number of completed requests whose latency was within the service's SLO
  'dropped', // requests dropped: timed out in the queue or rejected by the full queue
  'pending', // requests not served in the second they arrived (queued) plus those rejected on arrival
  'queue', // requests waiting at the end of the second
  'replicas', // pods that exist (any state)
  'ready', // pods Running and Ready
  'p95LatencyMs', // 95th-percentile latency of the requests completed in the second, including the wait for the calls they make
  'cpuUtilization', // mean CPU usage of ready pods / CPU request (true value, not the metrics view)
  'capacityRps', // requests/s the ready pods could serve
  'failedPods', // pods crashed (in back-off or restarting after a crash) or on a lost node
] as const;
export type SeriesField = (typeof SERIES_FIELDS)[number];
export const FIELD_COUNT = SERIES_FIELDS.length;
export const F: { [K in SeriesField]: number } = Object.fromEntries(SERIES_FIELDS.map((f, i) => [f, i])) as { [K in SeriesField]: number };

/**
 * Row-major per-second storage: value(second, service, field) at ((second · services) + service) · fields + field.
 * Float32 keeps a day of an 11-service topology under 50 MB.
 */
export class TimeSeries {
  readonly services: readonly string[];
  readonly seconds: number;
  readonly data: Float32Array;
  /** Seconds recorded so far. */
  length = 0;

  constructor(services: readonly string[], seconds: number) {
    this.services = services;
    this.seconds = seconds;
    this.data = new Float32Array(seconds * services.length * FIELD_COUNT);
  }

  get(second: number, service: number, field: number): number {
    return this.data[(second * this.services.length + service) * FIELD_COUNT + field]!;
  }

  /** One field of one service as a plain array over the recorded seconds. */
  column(service: number | string, field: SeriesField): number[] {
    const s = typeof service === 'string' ? this.services.indexOf(service) : service;
    if (s < 0) throw new Error(`no service ${String(service)} in the series`);
    const out: number[] = new Array(this.length);
    for (let t = 0; t < this.length; t++) out[t] = this.get(t, s, F[field]);
    return out;
  }

  /** CSV with one row per (second, service); numbers rounded to 4 decimals so output is stable and small. */
  toCsv(): string {
    const lines = [`second,service,${SERIES_FIELDS.join(',')}`];
    for (let t = 0; t < this.length; t++) {
      for (let s = 0; s < this.services.length; s++) {
        const cells: string[] = [String(t), this.services[s]!];
        for (let f = 0; f < FIELD_COUNT; f++) cells.push(formatNumber(this.get(t, s, f)));
        lines.push(cells.join(','));
      }
    }
    return `${lines.join('\n')}\n`;
  }

  /** `{ fields, services, series: { service: { field: number[] } } }` as canonical JSON. */
  toJson(): string {
    const series: Record<string, Record<string, number[]>> = {};
    this.services.forEach((name, s) => {
      series[name] = Object.fromEntries(SERIES_FIELDS.map((f) => [f, this.column(s, f).map(round4)]));
    });
    return `${canonicalJson({ fields: SERIES_FIELDS, seconds: this.length, services: this.services, series })}\n`;
  }
}

function round4(x: number): number {
  const r = Math.round(x * 1e4) / 1e4;
  return Object.is(r, -0) ? 0 : r;
}

function formatNumber(x: number): string {
  return String(round4(x));
}
