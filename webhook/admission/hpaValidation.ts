/**
 * /validate/hpa: deny (or, in warn mode, only warn about) governed HPA specs and decisions that
 * break their bundle's guards. Each message names the field, the guard, the bundle and the excess.
 */
import type { Guards, PolicyBundle } from '../../policies/bundle.ts';
import { DECISION_ANNOTATION, parseDecision, type DecisionAnnotation } from '../../policies/annotations.ts';
import type { JsonValue } from './jsonPatch.ts';
import { allow, deny, type AdmissionReview, type ReviewOutcome } from './review.ts';
import { governanceFor, hpaView, isKedaManaged } from './governance.ts';
import { isHpaRequest } from './hpaMutation.ts';

export type Enforcement = 'deny' | 'warn';

export interface HpaValidationOptions {
  /** `warn` turns every denial into a warning (a cluster-wide dry run of the guards). */
  enforcement?: Enforcement;
}

/** A decision stamped this far in the future points at clock skew between sidecar and webhook. */
export const DECISION_CLOCK_SKEW_MS = 5 * 60_000;

export interface GuardViolation {
  guard: string;
  message: string;
}

function isRecord(v: unknown): v is Record<string, JsonValue> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Spec bounds against the floor and ceiling. */
export function boundViolations(spec: { minReplicas: number; maxReplicas: number }, guards: Guards, bundleRef: string): GuardViolation[] {
  const out: GuardViolation[] = [];
  const of = `of PolicyBundle ${bundleRef}`;
  for (const field of ['minReplicas', 'maxReplicas'] as const) {
    const v = spec[field];
    if (v > guards.maxReplicas) out.push({ guard: 'maxReplicas', message: `spec.${field} ${v} exceeds guard maxReplicas ${guards.maxReplicas} ${of} by ${v - guards.maxReplicas}` });
    if (v < guards.minReplicas) out.push({ guard: 'minReplicas', message: `spec.${field} ${v} is below guard minReplicas ${guards.minReplicas} ${of} by ${guards.minReplicas - v}` });
  }
  return out;
}

/** A newly written decision against the step and cooldown guards. */
export function decisionViolations(next: DecisionAnnotation, previous: DecisionAnnotation | undefined, guards: Guards, bundleRef: string): GuardViolation[] {
  const out: GuardViolation[] = [];
  const of = `of PolicyBundle ${bundleRef}`;
  const step = Math.abs(next.replicaChange);
  if (step > guards.maxStep) {
    out.push({ guard: 'maxStep', message: `decision replicaChange ${next.replicaChange} exceeds guard maxStep ${guards.maxStep} ${of} by ${step - guards.maxStep}` });
  }
  if (previous && previous.replicaChange !== 0 && next.replicaChange !== 0) {
    const gapMs = Date.parse(next.time) - Date.parse(previous.time);
    const needMs = guards.cooldownSeconds * 1000;
    if (gapMs < needMs) {
      out.push({ guard: 'cooldownSeconds', message: `decision at ${next.time} comes ${gapMs / 1000} s after the previous one; guard cooldownSeconds ${guards.cooldownSeconds} ${of} wants ${(needMs - gapMs) / 1000} s more` });
    }
  }
  return out;
}

function decisionOf(object: unknown): DecisionAnnotation | string | undefined {
  if (!isRecord(object) || !isRecord(object.metadata) || !isRecord(object.metadata.annotations)) return undefined;
  const text = object.metadata.annotations[DECISION_ANNOTATION];
  if (typeof text !== 'string') return undefined;
  const parsed = parseDecision(text);
  return parsed.ok ? parsed.value : parsed.problem;
}

export function reviewHpaValidation(review: AdmissionReview, bundles: readonly PolicyBundle[], now: number, options: HpaValidationOptions = {}): ReviewOutcome {
  const req = review.request;
  const dryRun = req.dryRun === true;
  const pass = (warnings: string[] = []): ReviewOutcome => ({ review: allow(review, warnings), outcome: 'passthrough', guards: [], dryRun });
  if (req.operation === 'DELETE' || req.operation === 'CONNECT' || !isHpaRequest(review)) return pass();
  const hpa = hpaView(req.object, req.namespace, req.name);
  if (typeof hpa === 'string') return pass([`karma-hpa: HPA not validated: ${hpa}`]);
  if (isKedaManaged(hpa)) return pass();
  const gov = governanceFor(hpa, bundles);
  if (!gov) return pass();
  const spec = (req.object as Record<string, unknown>).spec;
  if (!isRecord(spec) || !Number.isSafeInteger(spec.maxReplicas)) return pass(['karma-hpa: HPA not validated: spec.maxReplicas is not an integer']);
  const minReplicas = Number.isSafeInteger(spec.minReplicas) ? (spec.minReplicas as number) : 1;

  const violations = boundViolations({ minReplicas, maxReplicas: spec.maxReplicas as number }, gov.guards, gov.bundleRef);
  const warnings: string[] = [];
  const next = decisionOf(req.object);
  if (typeof next === 'string') warnings.push(next);
  else if (next !== undefined) {
    const prev = req.operation === 'UPDATE' ? decisionOf(req.oldObject) : undefined;
    const previous = typeof prev === 'object' ? prev : undefined;
    const changed = previous === undefined || previous.time !== next.time || previous.replicaChange !== next.replicaChange;
    if (changed) violations.push(...decisionViolations(next, previous, gov.guards, gov.bundleRef));
    if (Date.parse(next.time) - now > DECISION_CLOCK_SKEW_MS) warnings.push(`decision time ${next.time} is in the future; check the sidecar's clock`);
  }
  if (violations.length === 0) return { review: allow(review, warnings), outcome: warnings.length > 0 ? 'warned' : 'allowed', guards: [], dryRun };

  const guards = violations.map((v) => v.guard);
  const effective: Enforcement = options.enforcement === 'warn' ? 'warn' : gov.guards.enforcement;
  if (effective === 'warn') {
    return { review: allow(review, [...violations.map((v) => v.message), ...warnings]), outcome: 'warned', guards, dryRun };
  }
  const message = `HPA ${hpa.namespace}/${hpa.name} breaks its guards: ${violations.map((v) => v.message).join('; ')}`;
  return { review: deny(review, 403, message, warnings), outcome: 'denied', guards, dryRun };
}
