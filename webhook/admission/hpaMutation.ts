/**
 * /mutate/hpa: keep the Git base spec of a governed HPA in an annotation and re-apply the current
 * agent decision, clamped to the bundle's guards, so that a GitOps re-sync and the sidecar do not
 * fight. Idempotent: mutating the output again yields no patch (reinvocationPolicy IfNeeded).
 */
import { hpaBaseDrift } from '../../policies/hpa-base.ts';
import type { PolicyBundle } from '../../policies/bundle.ts';
import {
  BASE_SPEC_ANNOTATION, BUNDLE_ANNOTATION, DECISION_ANNOTATION, PAUSED_ANNOTATION,
  formatBaseSpec, parseBaseSpec, parseDecision, type DecisionAnnotation,
} from '../../policies/annotations.ts';
import { jsonEqual, type JsonValue } from './jsonPatch.ts';
import { allow, allowWithMutation, type AdmissionReview, type ReviewOutcome } from './review.ts';
import { governanceFor, hpaView, isKedaManaged } from './governance.ts';
import { baseBounds, guardedBounds, type GuardedBounds, type ReplicaBounds } from './guardedBounds.ts';

type JsonObject = { [key: string]: JsonValue };

function isRecord(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** True for the HPA resource itself (not its status subresource, not another kind). */
export function isHpaRequest(review: AdmissionReview): boolean {
  const r = review.request;
  return r.resource.group === 'autoscaling' && r.resource.resource === 'horizontalpodautoscalers' && (r.subResource ?? '') === '';
}

function passthrough(review: AdmissionReview, warnings: string[] = []): ReviewOutcome {
  return { review: allow(review, warnings), outcome: 'passthrough', guards: [], dryRun: review.request.dryRun === true };
}

/** Spec problems that stop the webhook from computing bounds; the API server's validation reports them. */
function specProblem(spec: unknown): string | undefined {
  if (!isRecord(spec)) return 'spec is missing';
  if (!Number.isSafeInteger(spec.maxReplicas) || (spec.maxReplicas as number) < 1) return 'spec.maxReplicas must be a positive integer';
  if (spec.minReplicas !== undefined && (!Number.isSafeInteger(spec.minReplicas) || (spec.minReplicas as number) < 1)) return 'spec.minReplicas must be a positive integer';
  return undefined;
}

function withBounds(spec: JsonObject, bounds: ReplicaBounds): JsonObject {
  return { ...spec, minReplicas: bounds.minReplicas, maxReplicas: bounds.maxReplicas };
}

export function reviewHpaMutation(review: AdmissionReview, bundles: readonly PolicyBundle[], _now: number): ReviewOutcome {
  const req = review.request;
  const dryRun = req.dryRun === true;
  if (req.operation === 'DELETE' || req.operation === 'CONNECT' || !isHpaRequest(review)) return passthrough(review);
  const object = req.object;
  const hpa = hpaView(object, req.namespace, req.name);
  if (typeof hpa === 'string') return passthrough(review, [`karma-hpa: HPA not mutated: ${hpa}`]);
  if (isKedaManaged(hpa)) return passthrough(review);
  const gov = governanceFor(hpa, bundles);
  if (!gov) return passthrough(review);
  const obj = object as JsonObject;
  const problem = specProblem(obj.spec);
  if (problem) return passthrough(review, [`karma-hpa: HPA not mutated: ${problem}`]);
  const spec = obj.spec as JsonObject;

  const warnings: string[] = [];
  if (gov.alsoClaimedBy.length > 0) warnings.push(`HPA also claimed by ${gov.alsoClaimedBy.join(', ')}; ${gov.bundleRef} governs it`);
  const trainedOn = gov.bundle.spec.hpaBase;
  const drift = trainedOn ? hpaBaseDrift(trainedOn, spec) : [];
  if (drift.length > 0) {
    // Warnings are kept within 120 characters each: a header, then one per difference.
    warnings.push(`agents of ${gov.bundleRef} trained on another HPA spec; apply the bundle's hpa/*.yaml`);
    warnings.push(...drift.map((d) => `HPA spec vs training: ${d}`));
  }

  let decision: DecisionAnnotation | undefined;
  const decisionText = hpa.annotations[DECISION_ANNOTATION];
  if (decisionText !== undefined) {
    const parsed = parseDecision(decisionText);
    if (!parsed.ok) warnings.push(`${parsed.problem}; decision not re-applied`);
    else if (parsed.value.bundle !== gov.bundleKey) warnings.push(`decision is from bundle ${parsed.value.bundle}, not ${gov.bundleKey}; not re-applied`);
    else decision = parsed.value;
  }
  const paused = gov.bundle.spec.paused === true || hpa.annotations[PAUSED_ANNOTATION] === 'true';
  if (paused) decision = undefined;

  let storedBase: JsonObject | undefined;
  const baseText = hpa.annotations[BASE_SPEC_ANNOTATION];
  if (baseText !== undefined) {
    const parsed = parseBaseSpec(baseText);
    if (parsed.ok) storedBase = parsed.value as JsonObject;
    else warnings.push(`${parsed.problem}; the incoming spec becomes the base`);
  }

  // Which base the incoming spec implies. A request that writes a new decision annotation is the
  // sidecar's: its bounds are the decision's, whatever they are, and the base stays. Otherwise a spec
  // other than the one we would produce from the stored base is a new base (from Git or an edit);
  // when only fields other than the bounds changed, the stored base keeps its bounds.
  const oldAnnotations = typeof req.oldObject === 'object' && req.oldObject !== null && !Array.isArray(req.oldObject)
    ? hpaView(req.oldObject, req.namespace, req.name) : undefined;
  const decisionWritten = req.operation === 'UPDATE' && decisionText !== undefined
    && (typeof oldAnnotations === 'string' || oldAnnotations?.annotations[DECISION_ANNOTATION] !== decisionText);
  let base: JsonObject;
  let expected: GuardedBounds | undefined;
  if (storedBase === undefined) {
    base = spec;
  } else if (decisionWritten) {
    base = withBounds(spec, baseBounds(storedBase));
  } else {
    expected = guardedBounds(baseBounds(storedBase), decision, gov.guards, gov.bundleRef);
    if (jsonEqual(spec, withBounds(storedBase, expected))) base = storedBase;
    else if (spec.minReplicas === expected.minReplicas && spec.maxReplicas === expected.maxReplicas && expected.fromDecision) {
      base = withBounds(spec, baseBounds(storedBase));
    } else base = spec;
  }
  if (storedBase !== undefined && base !== storedBase && jsonEqual(base, storedBase)) base = storedBase;
  const bounds = base === storedBase && expected !== undefined ? expected : guardedBounds(baseBounds(base), decision, gov.guards, gov.bundleRef);
  warnings.push(...bounds.clamped);

  const annotations: Record<string, JsonValue> = isRecord((obj.metadata as JsonObject).annotations) ? { ...((obj.metadata as JsonObject).annotations as JsonObject) } : {};
  // An unchanged base keeps its annotation text as stored; a new one is written canonically.
  annotations[BASE_SPEC_ANNOTATION] = base === storedBase && baseText !== undefined ? baseText : formatBaseSpec(base);
  annotations[BUNDLE_ANNOTATION] = gov.bundleRef;
  const mutated: JsonObject = {
    ...obj,
    metadata: { ...(obj.metadata as JsonObject), annotations },
    spec: withBounds(spec, bounds),
  };
  const { review: response, patched } = allowWithMutation(review, mutated, warnings);
  const specChanged = spec.minReplicas !== bounds.minReplicas || spec.maxReplicas !== bounds.maxReplicas;
  return {
    review: response,
    outcome: patched ? 'patched' : warnings.length > 0 ? 'warned' : 'allowed',
    guards: bounds.clamped.length > 0 ? ['clamp'] : [],
    ...(bounds.fromDecision && specChanged ? { decisionApplied: { bundle: gov.bundleRef } } : {}),
    dryRun,
  };
}
