import type { MetricName, TraceSet } from './types.ts';

/** How long after an injection its effect is measured (and the fault counts as active), seconds. */
export const DEFAULT_FAULT_WINDOW_SECONDS = 180;

export interface MetricChange {
  before: number;
  after: number;
  /** after − before, in the metric's unit. */
  change: number;
  /** after / before (1 when before is 0). */
  ratio: number;
}

export interface FaultEventEffect {
  time: number;
  service: string;
  type: string;
  metrics: Partial<Record<MetricName, MetricChange>>;
}

/** Effect of one fault type: the mean over its injections of the change on the injected service. */
export interface FaultTypeEffect {
  type: string;
  injections: number;
  services: string[];
  /** Mean before / after / change, and the geometric mean of the ratio (what the twin applies). */
  metrics: Partial<Record<MetricName, MetricChange>>;
}

function windowMean(values: Float64Array, timestamps: number[], from: number, to: number): number {
  let s = 0;
  let n = 0;
  for (let k = 0; k < timestamps.length; k++) {
    const t = timestamps[k]!;
    if (t >= from && t < to) {
      s += values[k]!;
      n++;
    }
  }
  return n > 0 ? s / n : NaN;
}

/**
 * Per injection: the mean of each metric of the injected service in the window after the
 * injection against the same-length window before it. Faults after `untilTime` are not used.
 */
export function faultEventEffects(trace: TraceSet, windowSeconds = DEFAULT_FAULT_WINDOW_SECONDS, untilTime = Infinity): FaultEventEffect[] {
  const out: FaultEventEffect[] = [];
  for (const f of trace.faults) {
    if (f.time + windowSeconds > untilTime) continue;
    const service = trace.services[f.service];
    if (!service) continue;
    const metrics: Partial<Record<MetricName, MetricChange>> = {};
    for (const [metric, values] of Object.entries(service.metrics) as [MetricName, Float64Array][]) {
      const before = windowMean(values, trace.timestamps, f.time - windowSeconds, f.time);
      const after = windowMean(values, trace.timestamps, f.time, f.time + windowSeconds);
      if (!Number.isFinite(before) || !Number.isFinite(after)) continue;
      metrics[metric] = { before, after, change: after - before, ratio: before > 0 ? after / before : 1 };
    }
    out.push({ time: f.time, service: f.service, type: f.type, metrics });
  }
  return out;
}

export function faultTypeEffects(events: FaultEventEffect[]): FaultTypeEffect[] {
  const types = [...new Set(events.map((e) => e.type))].sort();
  return types.map((type) => {
    const list = events.filter((e) => e.type === type);
    const metrics: Partial<Record<MetricName, MetricChange>> = {};
    const names = [...new Set(list.flatMap((e) => Object.keys(e.metrics)))].sort() as MetricName[];
    for (const m of names) {
      const changes = list.map((e) => e.metrics[m]).filter((c): c is MetricChange => c !== undefined);
      const mean = (f: (c: MetricChange) => number): number => changes.reduce((s, c) => s + f(c), 0) / changes.length;
      const logRatios = changes.filter((c) => c.ratio > 0).map((c) => Math.log(c.ratio));
      metrics[m] = {
        before: mean((c) => c.before),
        after: mean((c) => c.after),
        change: mean((c) => c.change),
        ratio: logRatios.length > 0 ? Math.exp(logRatios.reduce((s, v) => s + v, 0) / logRatios.length) : 1,
      };
    }
    return { type, injections: list.length, services: [...new Set(list.map((e) => e.service))].sort(), metrics };
  });
}

/**
 * The fault input per service and step: 0 when no fault is active, else 1 + the index of the
 * fault type in `types`. A fault is active from its injection for `windowSeconds`.
 */
export function faultActivity(trace: TraceSet, types: string[], windowSeconds = DEFAULT_FAULT_WINDOW_SECONDS): Record<string, Int8Array> {
  const out: Record<string, Int8Array> = {};
  for (const name of Object.keys(trace.services)) out[name] = new Int8Array(trace.timestamps.length);
  const half = trace.stepSeconds / 2;
  for (const f of trace.faults) {
    const lane = out[f.service];
    const type = types.indexOf(f.type);
    if (!lane || type < 0) continue;
    for (let k = 0; k < trace.timestamps.length; k++) {
      const t = trace.timestamps[k]!;
      // A sample describes the step ending at its timestamp; it sees the fault if that step overlaps the active window.
      if (t + half > f.time && t - half < f.time + windowSeconds) lane[k] = type + 1;
    }
  }
  return out;
}
