/**
 * The annotations and label karma-hpa keeps on governed HorizontalPodAutoscalers. The webhook reads
 * and writes them on admission; the sidecar writes the decision. Parsing is strict and never throws:
 * a malformed annotation is reported as a problem string so callers can warn instead of crash.
 */
import { canonicalJson } from './canonical.ts';

export const BASE_SPEC_ANNOTATION = 'karma-hpa.io/base-spec';
export const DECISION_ANNOTATION = 'karma-hpa.io/decision';
export const BUNDLE_ANNOTATION = 'karma-hpa.io/bundle';
export const PAUSED_ANNOTATION = 'karma-hpa.io/paused';
export const GOVERNED_LABEL = 'karma-hpa.io/governed';

/** The current agent decision for one HPA, as the sidecar records it. */
export interface DecisionAnnotation {
  /** `<namespace>/<name>` of the bundle whose agent decided. */
  bundle: string;
  bundleVersion: string;
  agent: string;
  role: string;
  replicaChange: number;
  /** The spec bounds the decision produced (after guards). */
  minReplicas: number;
  maxReplicas: number;
  reason: string;
  /** RFC 3339. */
  time: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** `<namespace>/<name>@<version>` — the value of the bundle annotation. */
export function bundleReference(namespace: string, name: string, version: string): string {
  return `${namespace}/${name}@${version}`;
}

export function formatDecision(decision: DecisionAnnotation): string {
  return canonicalJson(decision);
}

export function parseDecision(text: string): Parsed<DecisionAnnotation> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, problem: `annotation ${DECISION_ANNOTATION} is not JSON` };
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, problem: `annotation ${DECISION_ANNOTATION} must be a JSON object` };
  }
  const o = raw as Record<string, unknown>;
  for (const key of ['bundle', 'bundleVersion', 'agent', 'role', 'reason', 'time'] as const) {
    if (typeof o[key] !== 'string') return { ok: false, problem: `annotation ${DECISION_ANNOTATION}: field ${key} must be a string` };
  }
  for (const key of ['replicaChange', 'minReplicas', 'maxReplicas'] as const) {
    if (!Number.isSafeInteger(o[key])) return { ok: false, problem: `annotation ${DECISION_ANNOTATION}: field ${key} must be an integer` };
  }
  if (!RFC3339.test(o.time as string) || Number.isNaN(Date.parse(o.time as string))) {
    return { ok: false, problem: `annotation ${DECISION_ANNOTATION}: field time must be an RFC 3339 timestamp, got ${JSON.stringify(o.time)}` };
  }
  if ((o.minReplicas as number) < 1 || (o.maxReplicas as number) < (o.minReplicas as number)) {
    return { ok: false, problem: `annotation ${DECISION_ANNOTATION}: needs 1 <= minReplicas <= maxReplicas, got ${String(o.minReplicas)}..${String(o.maxReplicas)}` };
  }
  const value: DecisionAnnotation = {
    bundle: o.bundle as string,
    bundleVersion: o.bundleVersion as string,
    agent: o.agent as string,
    role: o.role as string,
    replicaChange: o.replicaChange as number,
    minReplicas: o.minReplicas as number,
    maxReplicas: o.maxReplicas as number,
    reason: o.reason as string,
    time: o.time as string,
  };
  return { ok: true, value };
}

/** The base spec annotation holds the canonical JSON of the spec as Git declared it. */
export function formatBaseSpec(spec: unknown): string {
  return canonicalJson(spec);
}

export function parseBaseSpec(text: string): Parsed<Record<string, unknown>> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, problem: `annotation ${BASE_SPEC_ANNOTATION} is not JSON` };
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, problem: `annotation ${BASE_SPEC_ANNOTATION} must be a JSON object (an HPA spec)` };
  }
  const spec = raw as Record<string, unknown>;
  if (!Number.isSafeInteger(spec.maxReplicas)) {
    return { ok: false, problem: `annotation ${BASE_SPEC_ANNOTATION}: maxReplicas must be an integer` };
  }
  return { ok: true, value: spec };
}
