/**
 * The JSON form of one HPA sync (RFC 3339 times, Kubernetes quantities), as the `hpa` CLI reads it:
 * schema-validated, converted to the numeric form, reconciled, and converted back.
 */
import { KarmaError } from '../../../policies/errors.ts';
import { assertValid } from '../../../policies/documents.ts';
import { reconcileHpa } from './controller.ts';
import { QUANTITY_HINT, quantityToMilli } from './quantity.ts';
import type { HpaCondition, HpaControllerConfig, HpaReconcileInput, HpaSpec, PodPhase, PodSample, Quantity } from './types.ts';
import inputSchema from './hpa-input.schema.json' with { type: 'json' };

export { inputSchema as hpaInputSchema };

/** What to do about a schema violation in the JSON form. */
export const HPA_INPUT_HINT = 'fix the fields listed above; the input format is generator/twin/hpa/hpa-input.schema.json';

export interface HpaPodJson {
  name: string;
  phase: PodPhase;
  ready: boolean;
  startTime?: string | null;
  readyTransitionTime?: string | null;
  deleted?: boolean;
  requests: Record<string, Quantity>;
  usage?: Record<string, Quantity> | null;
  metricTimestamp?: string;
}

export interface HpaReconcileJsonInput {
  now: string;
  spec: HpaSpec;
  currentReplicas: number;
  statusReplicas?: number;
  pods: HpaPodJson[];
  metrics?: Record<string, Quantity | Record<string, Quantity>>;
  recommendations?: { timestamp: string; replicas: number }[];
  scaleEvents?: { timestamp: string; replicaChange: number }[];
  config?: Partial<HpaControllerConfig>;
}

export interface HpaReconcileJsonResult {
  desiredReplicas: number;
  utilization?: number;
  rawValue?: number;
  reason: string;
  conditions: HpaCondition[];
  recommendations: { timestamp: string; replicas: number }[];
  scaleEvents: { timestamp: string; replicaChange: number }[];
}

function timeMs(text: string, where: string): number {
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) {
    throw new KarmaError(`"${text}" is not an RFC 3339 time`, { where, hint: 'write a time such as "2026-01-01T12:00:00Z"' });
  }
  return ms;
}

function optionalTimeMs(text: string | null | undefined, where: string): number | null {
  return text === null || text === undefined ? null : timeMs(text, where);
}

function milli(q: Quantity, where: string): number {
  const parsed = quantityToMilli(q);
  if (!parsed.ok) throw new KarmaError(`invalid quantity: ${parsed.problem}`, { where, hint: QUANTITY_HINT });
  if (parsed.milli < 0) throw new KarmaError(`quantity ${JSON.stringify(q)} is negative`, { where, hint: 'resource amounts and metric values are never negative' });
  return parsed.milli;
}

function checkSpecQuantities(spec: HpaSpec, where: string): void {
  (spec.metrics ?? []).forEach((m, i) => {
    const at = `${where}/spec/metrics/${i}`;
    const target = m.type === 'Resource' ? m.resource.target
      : m.type === 'Pods' ? m.pods.target
        : m.type === 'Object' ? m.object.target
          : m.external.target;
    const key = m.type.toLowerCase();
    if (target.averageValue !== undefined) milli(target.averageValue, `${at}/${key}/target/averageValue`);
    if (target.value !== undefined) milli(target.value, `${at}/${key}/target/value`);
  });
  if (spec.minReplicas !== undefined && spec.minReplicas > spec.maxReplicas) {
    throw new KarmaError(`minReplicas (${spec.minReplicas}) is greater than maxReplicas (${spec.maxReplicas})`, {
      where: `${where}/spec/minReplicas`,
      hint: 'minReplicas must not exceed maxReplicas',
    });
  }
}

/** Validate the JSON form and convert it to the numeric input of reconcileHpa. */
export function hpaInputFromJson(value: unknown, sourceName = 'hpa input'): HpaReconcileInput {
  const doc = assertValid<HpaReconcileJsonInput>(value, inputSchema, { name: sourceName }, 'HPA reconcile input', HPA_INPUT_HINT);
  const where = sourceName;
  const nowMs = timeMs(doc.now, `${where}: /now`);
  checkSpecQuantities(doc.spec, `${where}: `);
  const pods: PodSample[] = doc.pods.map((p, i) => {
    const at = `${where}: /pods/${i}`;
    const resources: Record<string, { requestMilli: number | null; usageMilli: number | null }> = {};
    const names = new Set([...Object.keys(p.requests), ...Object.keys(p.usage ?? {})]);
    for (const r of names) {
      const req = p.requests[r];
      const use = p.usage?.[r];
      resources[r] = {
        requestMilli: req === undefined ? null : milli(req, `${at}/requests/${r}`),
        usageMilli: use === undefined ? null : milli(use, `${at}/usage/${r}`),
      };
    }
    const cpu = resources.cpu;
    delete resources.cpu;
    const sample: PodSample = {
      name: p.name,
      phase: p.phase,
      ready: p.ready,
      startTimeMs: optionalTimeMs(p.startTime, `${at}/startTime`),
      readyTransitionTimeMs: optionalTimeMs(p.readyTransitionTime, `${at}/readyTransitionTime`),
      deleted: p.deleted ?? false,
      cpuRequestMilli: cpu?.requestMilli ?? null,
      cpuUsageMilli: cpu?.usageMilli ?? null,
    };
    if (p.metricTimestamp !== undefined) sample.metricTimestampMs = timeMs(p.metricTimestamp, `${at}/metricTimestamp`);
    if (Object.keys(resources).length > 0) sample.resources = resources;
    return sample;
  });
  const seen = new Set<string>();
  doc.pods.forEach((p, i) => {
    if (seen.has(p.name)) throw new KarmaError(`duplicate pod name "${p.name}"`, { where: `${where}: /pods/${i}/name`, hint: 'pod names are unique within a namespace' });
    seen.add(p.name);
  });
  // Metric values go to the numeric form in base units, exactly (milli / 1000).
  const metrics: Record<string, number | Record<string, number>> = {};
  for (const [name, v] of Object.entries(doc.metrics ?? {})) {
    if (typeof v === 'object' && v !== null) {
      const series: Record<string, number> = {};
      for (const [k, q] of Object.entries(v)) series[k] = milli(q, `${where}: /metrics/${name}/${k}`) / 1000;
      metrics[name] = series;
    } else {
      metrics[name] = milli(v, `${where}: /metrics/${name}`) / 1000;
    }
  }
  const input: HpaReconcileInput = {
    nowMs,
    spec: doc.spec,
    currentReplicas: doc.currentReplicas,
    pods,
    metrics,
    recommendations: (doc.recommendations ?? []).map((r, i) => ({ timestampMs: timeMs(r.timestamp, `${where}: /recommendations/${i}/timestamp`), replicas: r.replicas })),
    scaleEvents: (doc.scaleEvents ?? []).map((e, i) => ({ timestampMs: timeMs(e.timestamp, `${where}: /scaleEvents/${i}/timestamp`), replicaChange: e.replicaChange })),
  };
  if (doc.statusReplicas !== undefined) input.statusReplicas = doc.statusReplicas;
  if (doc.config) input.config = doc.config;
  return input;
}

function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}

/** One sync from the JSON form (RFC 3339 times, quantities as strings); throws KarmaError on bad input. */
export function reconcileHpaJson(value: unknown, sourceName = 'hpa input'): HpaReconcileJsonResult {
  const result = reconcileHpa(hpaInputFromJson(value, sourceName));
  const out: HpaReconcileJsonResult = {
    desiredReplicas: result.desiredReplicas,
    reason: result.reason,
    conditions: result.conditions,
    recommendations: result.recommendations.map((r) => ({ timestamp: rfc3339(r.timestampMs), replicas: r.replicas })),
    scaleEvents: result.scaleEvents.map((e) => ({ timestamp: rfc3339(e.timestampMs), replicaChange: e.replicaChange })),
  };
  if (result.utilization !== undefined) out.utilization = result.utilization;
  if (result.rawValue !== undefined) out.rawValue = result.rawValue;
  return out;
}
