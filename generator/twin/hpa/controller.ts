/**
 * One sync of the autoscaling/v2 HPA controller for one HPA, as a pure function: the current scale,
 * pods and metric samples plus the controller's per-HPA memory (recommendations, scale events) in;
 * the replica count it would set, its status conditions and the updated memory out.
 */
import { KarmaError } from '../../../policies/errors.ts';
import { DEFAULT_CPU_TARGET_PERCENT, DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS } from '../../../policies/hpa-base.ts';
import { quantityToMilli } from './quantity.ts';
import {
  averageValueTargetReplicas,
  plainMetricReplicas,
  resourceUtilizationReplicas,
  toMilli,
  valueTargetReplicas,
  type Proposal,
} from './replicaCalculator.ts';
import { normalizeLegacy, normalizeWithBehavior, recordScaleEvent, resolveBehavior, type ResolvedBehavior } from './scalingRules.ts';
import type {
  HpaCondition,
  HpaBehavior,
  HpaControllerConfig,
  HpaReconcileInput,
  HpaReconcileResult,
  MetricIdentifier,
  MetricSpec,
  MetricTarget,
  PodSample,
  Quantity,
} from './types.ts';

/** The controller's --horizontal-pod-autoscaler-sync-period default. */
export const HPA_SYNC_PERIOD_SECONDS = 15;

/** kube-controller-manager defaults for the HPA flags. */
export const DEFAULT_HPA_CONTROLLER_CONFIG: Readonly<HpaControllerConfig> = Object.freeze({
  tolerance: 0.1,
  cpuInitializationPeriodSeconds: 300,
  initialReadinessDelaySeconds: 30,
  downscaleStabilizationSeconds: DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS,
  metricWindowSeconds: 15,
});

/** The API server's default metric when none is given: CPU at 80 % of request. */
export const DEFAULT_CPU_UTILIZATION = DEFAULT_CPU_TARGET_PERCENT;

type CompiledMetric =
  | { kind: 'resourceUtilization'; resource: string; target: number; label: string }
  | { kind: 'resourceAverageValue'; resource: string; targetMilli: number; label: string }
  | { kind: 'pods'; metric: string; targetMilli: number; label: string }
  | { kind: 'objectValue'; metric: string; targetMilli: number; label: string; describedObject: string }
  | { kind: 'objectAverageValue'; metric: string; targetMilli: number; label: string; describedObject: string }
  | { kind: 'externalValue'; metric: string; targetMilli: number; label: string }
  | { kind: 'externalAverageValue'; metric: string; targetMilli: number; label: string }
  | { kind: 'invalid'; reason: string; error: string };

// Caches keyed by the metric list and behavior objects (not the spec), so a caller that edits
// minReplicas/maxReplicas in place between syncs is always read afresh.
const compiledMetricLists = new WeakMap<readonly MetricSpec[], CompiledMetric[]>();
const resolvedBehaviors = new WeakMap<HpaBehavior, { window: number; behavior: ResolvedBehavior }>();
let defaultMetrics: CompiledMetric[] | undefined;

function targetMilli(q: Quantity, where: string): number {
  const parsed = quantityToMilli(q);
  if (!parsed.ok) throw new KarmaError(`invalid quantity: ${parsed.problem}`, { where, hint: 'use a Kubernetes quantity such as "500m", "1" or "250Mi"' });
  return parsed.milli;
}

/** How upstream prints a metric's label selector inside a metric name (%+v of a *LabelSelector). */
function selectorText(id: MetricIdentifier): string {
  const labels = id.selector?.matchLabels;
  if (!id.selector) return 'nil';
  const pairs = Object.keys(labels ?? {}).sort().map((k) => `${k}: ${labels![k]},`).join('');
  return `&LabelSelector{MatchLabels:map[string]string{${pairs}},MatchExpressions:[]LabelSelectorRequirement{},}`;
}

function compileMetric(m: MetricSpec, i: number): CompiledMetric {
  const where = `spec.metrics[${i}]`;
  switch (m.type) {
    case 'Resource': {
      const t: MetricTarget = m.resource.target;
      const resource = m.resource.name;
      if (t.averageValue !== undefined) {
        return { kind: 'resourceAverageValue', resource, targetMilli: targetMilli(t.averageValue, `${where}.resource.target.averageValue`), label: `${resource} resource` };
      }
      if (t.averageUtilization === undefined) {
        return { kind: 'invalid', reason: 'FailedGetResourceMetric', error: 'invalid resource metric source: neither an average utilization target nor an average value (usage) target was set' };
      }
      return { kind: 'resourceUtilization', resource, target: t.averageUtilization, label: `${resource} resource utilization (percentage of request)` };
    }
    case 'Pods': {
      const t = m.pods.target;
      if (t.averageValue === undefined) {
        return { kind: 'invalid', reason: 'FailedGetPodsMetric', error: 'invalid pods metric source: an average value target must be set' };
      }
      return { kind: 'pods', metric: m.pods.metric.name, targetMilli: targetMilli(t.averageValue, `${where}.pods.target.averageValue`), label: `pods metric ${m.pods.metric.name}` };
    }
    case 'Object': {
      const o = m.object;
      const t = o.target;
      const describedObject = `${o.describedObject.kind} ${o.describedObject.name}`;
      if (t.type === 'Value' && t.value !== undefined) {
        return { kind: 'objectValue', metric: o.metric.name, targetMilli: targetMilli(t.value, `${where}.object.target.value`), label: `${o.describedObject.kind} metric ${o.metric.name}`, describedObject };
      }
      if (t.type === 'AverageValue' && t.averageValue !== undefined) {
        // Upstream labels this proposal "external metric" too.
        return { kind: 'objectAverageValue', metric: o.metric.name, targetMilli: targetMilli(t.averageValue, `${where}.object.target.averageValue`), label: `external metric ${o.metric.name}(${selectorText(o.metric)})`, describedObject };
      }
      return { kind: 'invalid', reason: 'FailedGetObjectMetric', error: 'invalid object metric source: neither a value target nor an average value target was set' };
    }
    case 'External': {
      const e = m.external;
      const t = e.target;
      const label = `external metric ${e.metric.name}(${selectorText(e.metric)})`;
      if (t.averageValue !== undefined) {
        return { kind: 'externalAverageValue', metric: e.metric.name, targetMilli: targetMilli(t.averageValue, `${where}.external.target.averageValue`), label };
      }
      if (t.value !== undefined) {
        return { kind: 'externalValue', metric: e.metric.name, targetMilli: targetMilli(t.value, `${where}.external.target.value`), label };
      }
      return { kind: 'invalid', reason: 'FailedGetExternalMetric', error: 'invalid external metric source: neither a value target nor an average value target was set' };
    }
    default:
      return { kind: 'invalid', reason: 'InvalidMetricSourceType', error: `unknown metric source type "${(m as { type: string }).type}"` };
  }
}

function compiledMetrics(metrics: readonly MetricSpec[] | undefined): CompiledMetric[] {
  if (!metrics || metrics.length === 0) {
    defaultMetrics ??= [compileMetric({ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: DEFAULT_CPU_UTILIZATION } } }, 0)];
    return defaultMetrics;
  }
  let compiled = compiledMetricLists.get(metrics);
  if (!compiled) {
    compiled = metrics.map(compileMetric);
    compiledMetricLists.set(metrics, compiled);
  }
  return compiled;
}

function resolvedBehavior(behavior: HpaBehavior, downscaleWindow: number): ResolvedBehavior {
  const cached = resolvedBehaviors.get(behavior);
  if (cached && cached.window === downscaleWindow) return cached.behavior;
  const resolved = resolveBehavior(behavior, downscaleWindow);
  resolvedBehaviors.set(behavior, { window: downscaleWindow, behavior: resolved });
  return resolved;
}

function resolveConfig(c: Partial<HpaControllerConfig> | undefined): HpaControllerConfig {
  if (!c) return DEFAULT_HPA_CONTROLLER_CONFIG;
  return {
    tolerance: c.tolerance ?? DEFAULT_HPA_CONTROLLER_CONFIG.tolerance,
    cpuInitializationPeriodSeconds: c.cpuInitializationPeriodSeconds ?? DEFAULT_HPA_CONTROLLER_CONFIG.cpuInitializationPeriodSeconds,
    initialReadinessDelaySeconds: c.initialReadinessDelaySeconds ?? DEFAULT_HPA_CONTROLLER_CONFIG.initialReadinessDelaySeconds,
    downscaleStabilizationSeconds: c.downscaleStabilizationSeconds ?? DEFAULT_HPA_CONTROLLER_CONFIG.downscaleStabilizationSeconds,
    metricWindowSeconds: c.metricWindowSeconds ?? DEFAULT_HPA_CONTROLLER_CONFIG.metricWindowSeconds,
  };
}

/** scale.status.replicas of a Deployment: its pods that are neither terminated nor being deleted. */
function activePods(pods: readonly PodSample[]): number {
  let n = 0;
  for (let i = 0; i < pods.length; i++) {
    const p = pods[i]!;
    if (!p.deleted && p.phase !== 'Failed' && p.phase !== 'Succeeded') n++;
  }
  return n;
}

function sumSeries(v: number | Record<string, number>): number {
  if (typeof v === 'number') return toMilli(v);
  let sum = 0;
  for (const k in v) sum += toMilli(v[k]!);
  return sum;
}

interface MetricOutcome {
  proposal: Proposal;
  reason: string;
  prefix: string;
}

function computeMetric(m: CompiledMetric, input: HpaReconcileInput, statusReplicas: number, cfg: HpaControllerConfig): MetricOutcome {
  const current = input.currentReplicas;
  switch (m.kind) {
    case 'resourceUtilization':
      return {
        proposal: resourceUtilizationReplicas(current, m.target, m.resource, input.pods, input.nowMs, cfg),
        reason: 'FailedGetResourceMetric',
        prefix: `failed to get ${m.resource} utilization: `,
      };
    case 'resourceAverageValue':
      return {
        proposal: plainMetricReplicas(current, m.targetMilli, { kind: 'resource', resource: m.resource }, input.pods, input.nowMs, cfg),
        reason: 'FailedGetResourceMetric',
        prefix: `failed to get ${m.resource} usage: `,
      };
    case 'pods': {
      const values = input.metrics[m.metric];
      if (values === undefined) {
        return { proposal: { ok: false, error: `unable to get metric ${m.metric}: no metrics returned from custom metrics API` }, reason: 'FailedGetPodsMetric', prefix: '' };
      }
      const proposal = plainMetricReplicas(current, m.targetMilli, { kind: 'pods', values }, input.pods, input.nowMs, cfg);
      const fetchFailed = !proposal.ok && proposal.error === 'no metrics returned from custom metrics API';
      return { proposal, reason: 'FailedGetPodsMetric', prefix: fetchFailed ? `unable to get metric ${m.metric}: ` : '' };
    }
    case 'objectValue':
    case 'objectAverageValue': {
      const v = input.metrics[m.metric];
      if (typeof v !== 'number') {
        return { proposal: { ok: false, error: `unable to get metric ${m.metric}: no value on ${m.describedObject}` }, reason: 'FailedGetObjectMetric', prefix: '' };
      }
      const usage = toMilli(v);
      const proposal = m.kind === 'objectValue'
        ? valueTargetReplicas(current, usage, m.targetMilli, input.pods, cfg)
        : averageValueTargetReplicas(statusReplicas, usage, m.targetMilli, cfg);
      return { proposal, reason: 'FailedGetObjectMetric', prefix: '' };
    }
    case 'externalValue':
    case 'externalAverageValue': {
      const v = input.metrics[m.metric];
      if (v === undefined) {
        return { proposal: { ok: false, error: `unable to get external metric ${m.metric}: no metrics returned from external metrics API` }, reason: 'FailedGetExternalMetric', prefix: '' };
      }
      const usage = sumSeries(v);
      const proposal = m.kind === 'externalValue'
        ? valueTargetReplicas(current, usage, m.targetMilli, input.pods, cfg)
        : averageValueTargetReplicas(statusReplicas, usage, m.targetMilli, cfg);
      return { proposal, reason: 'FailedGetExternalMetric', prefix: '' };
    }
    case 'invalid':
      return { proposal: { ok: false, error: m.error }, reason: m.reason, prefix: '' };
  }
}

function condition(type: HpaCondition['type'], status: boolean, reason: string, message: string): HpaCondition {
  return { type, status: status ? 'True' : 'False', reason, message };
}

/** Run one sync of the HPA controller for one HPA. Pure: no clock, no I/O, inputs are not mutated. */
export function reconcileHpa(input: HpaReconcileInput): HpaReconcileResult {
  const cfg = resolveConfig(input.config);
  const metrics = compiledMetrics(input.spec.metrics);
  const behavior = input.spec.behavior ? resolvedBehavior(input.spec.behavior, cfg.downscaleStabilizationSeconds) : undefined;
  const nowMs = input.nowMs;
  const currentReplicas = input.currentReplicas;
  const minReplicas = input.spec.minReplicas ?? 1;
  const maxReplicas = input.spec.maxReplicas;

  let ableToScale = condition('AbleToScale', true, 'SucceededGetScale', "the HPA controller was able to get the target's current scale");
  let scalingActive: HpaCondition | undefined;
  let scalingLimited: HpaCondition | undefined;

  // A new HPA remembers the current size first, so it cannot scale down within its first window.
  let recommendations = input.recommendations.length === 0
    ? [{ timestampMs: nowMs, replicas: currentReplicas }]
    : input.recommendations;
  let scaleEvents = input.scaleEvents;

  let desiredReplicas = 0;
  let rescale = true;
  let rescaleReason = '';
  let utilization: number | undefined;
  let rawValue: number | undefined;

  if (currentReplicas === 0 && minReplicas !== 0) {
    desiredReplicas = 0;
    rescale = false;
    scalingActive = condition('ScalingActive', false, 'ScalingDisabled', 'scaling is disabled since the replica count of the target is zero');
  } else if (currentReplicas > maxReplicas) {
    rescaleReason = 'Current number of replicas above Spec.MaxReplicas';
    desiredReplicas = maxReplicas;
  } else if (currentReplicas < minReplicas) {
    rescaleReason = 'Current number of replicas below Spec.MinReplicas';
    desiredReplicas = minReplicas;
  } else {
    const statusReplicas = input.statusReplicas ?? activePods(input.pods);
    let replicas = 0;
    let metricLabel = '';
    let invalidCount = 0;
    let firstInvalid: HpaCondition | undefined;
    for (const m of metrics) {
      const outcome = computeMetric(m, input, statusReplicas, cfg);
      const p = outcome.proposal;
      if (!p.ok) {
        if (invalidCount === 0) {
          firstInvalid = condition('ScalingActive', false, outcome.reason, `the HPA was unable to compute the replica count: ${outcome.prefix}${p.error}`);
        }
        invalidCount++;
        continue;
      }
      if (utilization === undefined && p.utilization !== undefined) utilization = p.utilization;
      if (replicas === 0 || p.replicas > replicas) {
        replicas = p.replicas;
        metricLabel = m.kind === 'invalid' ? '' : m.label;
        rawValue = p.usage;
      }
    }
    // All metrics failed, or some failed and the rest would scale down: hold, report the first failure.
    if (invalidCount >= metrics.length || (invalidCount > 0 && replicas < currentReplicas)) {
      const failed = firstInvalid!;
      return {
        desiredReplicas: currentReplicas,
        ...(utilization !== undefined ? { utilization } : {}),
        reason: failed.reason,
        conditions: [ableToScale, failed],
        recommendations: recommendations === input.recommendations ? input.recommendations.slice() : recommendations,
        scaleEvents: scaleEvents.slice(),
      };
    }
    scalingActive = condition('ScalingActive', true, 'ValidMetricFound', `the HPA was able to successfully calculate a replica count from ${metricLabel}`);

    let rescaleMetric = '';
    if (replicas > desiredReplicas) {
      desiredReplicas = replicas;
      rescaleMetric = metricLabel;
    }
    if (desiredReplicas > currentReplicas) rescaleReason = `${rescaleMetric} above target`;
    if (desiredReplicas < currentReplicas) rescaleReason = 'All metrics below target';

    const normalized = behavior
      ? normalizeWithBehavior(currentReplicas, desiredReplicas, minReplicas, maxReplicas, behavior, recommendations, scaleEvents, nowMs)
      : normalizeLegacy(currentReplicas, desiredReplicas, minReplicas, maxReplicas, recommendations, nowMs, cfg.downscaleStabilizationSeconds);
    recommendations = normalized.recommendations;
    ableToScale = condition('AbleToScale', true, normalized.ableToScaleReason, normalized.ableToScaleMessage);
    scalingLimited = condition('ScalingLimited', normalized.limited, normalized.limitedReason, normalized.limitedMessage);
    desiredReplicas = normalized.desiredReplicas;
    rescale = desiredReplicas !== currentReplicas;
  }

  let reason: string;
  if (rescale) {
    ableToScale = condition('AbleToScale', true, 'SucceededRescale', `the HPA controller was able to update the target scale to ${desiredReplicas}`);
    if (behavior) scaleEvents = recordScaleEvent(scaleEvents, behavior, currentReplicas, desiredReplicas, nowMs);
    reason = rescaleReason;
  } else {
    desiredReplicas = currentReplicas;
    if (scalingActive && scalingActive.status === 'False') reason = scalingActive.reason;
    else if (scalingLimited && scalingLimited.status === 'True') reason = scalingLimited.reason;
    else reason = ableToScale.reason;
  }

  const conditions: HpaCondition[] = [ableToScale];
  if (scalingActive) conditions.push(scalingActive);
  if (scalingLimited) conditions.push(scalingLimited);
  const result: HpaReconcileResult = {
    desiredReplicas,
    reason,
    conditions,
    recommendations: recommendations === input.recommendations ? input.recommendations.slice() : recommendations,
    scaleEvents: scaleEvents === input.scaleEvents ? input.scaleEvents.slice() : scaleEvents,
  };
  if (utilization !== undefined) result.utilization = utilization;
  if (rawValue !== undefined) result.rawValue = rawValue;
  return result;
}
