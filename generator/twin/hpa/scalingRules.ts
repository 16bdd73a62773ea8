/**
 * From a metric-proposed replica count to the replica count the controller applies: recommendation
 * stabilization, scale-rate limits (legacy 2×/4 cap or `behavior` policies) and min/max clamps, with
 * the conditions and reasons the controller reports. Pure functions over the recommendation and
 * scale-event histories.
 */
import { DEFAULT_SCALE_DOWN_POLICIES, DEFAULT_SCALE_UP_POLICIES } from '../../../policies/hpa-base.ts';
import type { HpaBehavior, HpaScalingPolicy, TimestampedRecommendation, TimestampedScaleEvent } from './types.ts';

/** `behavior` rules with every default filled in, as the API server and controller complete them. */
export interface ResolvedScalingRules {
  stabilizationWindowSeconds: number;
  selectPolicy: 'Max' | 'Min' | 'Disabled';
  policies: readonly HpaScalingPolicy[];
  longestPeriodSeconds: number;
}

export interface ResolvedBehavior {
  scaleUp: ResolvedScalingRules;
  scaleDown: ResolvedScalingRules;
}

// Kubernetes' behavior defaults, defined once beside the other autoscaling/v2 facts the product checks.
export { DEFAULT_SCALE_DOWN_POLICIES, DEFAULT_SCALE_UP_POLICIES } from '../../../policies/hpa-base.ts';

/** Legacy scale-up cap: max(2 × current, 4). */
export const SCALE_UP_LIMIT_FACTOR = 2;
export const SCALE_UP_LIMIT_MINIMUM = 4;

function longestPeriod(policies: readonly HpaScalingPolicy[]): number {
  let longest = 0;
  for (const p of policies) if (p.periodSeconds > longest) longest = p.periodSeconds;
  return longest;
}

/**
 * Fill in behavior defaults field by field (scaleUp: window 0, Pods 4/15 s + Percent 100/15 s, Max;
 * scaleDown: the controller's downscale window, Percent 100/15 s, Max).
 */
export function resolveBehavior(behavior: HpaBehavior, downscaleStabilizationSeconds: number): ResolvedBehavior {
  const up = behavior.scaleUp;
  const down = behavior.scaleDown;
  const upPolicies = up?.policies ?? DEFAULT_SCALE_UP_POLICIES;
  const downPolicies = down?.policies ?? DEFAULT_SCALE_DOWN_POLICIES;
  return {
    scaleUp: {
      stabilizationWindowSeconds: up?.stabilizationWindowSeconds ?? 0,
      selectPolicy: up?.selectPolicy ?? 'Max',
      policies: upPolicies,
      longestPeriodSeconds: longestPeriod(upPolicies),
    },
    scaleDown: {
      stabilizationWindowSeconds: down?.stabilizationWindowSeconds ?? downscaleStabilizationSeconds,
      selectPolicy: down?.selectPolicy ?? 'Max',
      policies: downPolicies,
      longestPeriodSeconds: longestPeriod(downPolicies),
    },
  };
}

export interface Normalized {
  desiredReplicas: number;
  ableToScaleReason: string;
  ableToScaleMessage: string;
  limited: boolean;
  limitedReason: string;
  limitedMessage: string;
  recommendations: TimestampedRecommendation[];
}

const MSG_READY = 'recommended size matches current size';
const MSG_DOWN_STABILIZED = 'recent recommendations were higher than current one, applying the highest recent recommendation';
const MSG_UP_STABILIZED = 'recent recommendations were lower than current one, applying the lowest recent recommendation';
const MSG_WITHIN = 'the desired count is within the acceptable range';
const MSG_UP_LIMIT = 'the desired replica count is increasing faster than the maximum scale rate';
const MSG_DOWN_LIMIT = 'the desired replica count is decreasing faster than the maximum scale rate';
const MSG_TOO_MANY = 'the desired replica count is more than the maximum replica count';
const MSG_TOO_FEW = 'the desired replica count is less than the minimum replica count';

/**
 * Record a recommendation the way the controller does: overwrite the last entry that is older than
 * every window in use (so the history stays bounded), else append. Never mutates the input.
 */
function recordRecommendation(
  history: readonly TimestampedRecommendation[],
  oldIndex: number,
  replicas: number,
  nowMs: number,
): TimestampedRecommendation[] {
  const next = history.slice();
  const entry = { timestampMs: nowMs, replicas };
  if (oldIndex >= 0) next[oldIndex] = entry;
  else next.push(entry);
  return next;
}

/**
 * Legacy normalization (no `behavior`): the highest recommendation of the downscale window, then the
 * 2×/4 scale-up cap and [min, max].
 */
export function normalizeLegacy(
  currentReplicas: number,
  proposed: number,
  minReplicas: number,
  maxReplicas: number,
  history: readonly TimestampedRecommendation[],
  nowMs: number,
  downscaleStabilizationSeconds: number,
): Normalized {
  const cutoff = nowMs - downscaleStabilizationSeconds * 1000;
  let stabilized = proposed;
  let oldIndex = -1;
  for (let i = 0; i < history.length; i++) {
    const rec = history[i]!;
    // Entries exactly at the cutoff still count here (upstream tests "before cutoff" for staleness).
    if (rec.timestampMs < cutoff) oldIndex = i;
    else if (rec.replicas > stabilized) stabilized = rec.replicas;
  }
  const recommendations = recordRecommendation(history, oldIndex, proposed, nowMs);
  const stabilizedDiffers = stabilized !== proposed;

  const scaleUpLimit = Math.trunc(Math.max(SCALE_UP_LIMIT_FACTOR * currentReplicas, SCALE_UP_LIMIT_MINIMUM));
  let maximumAllowed: number;
  let reason: string;
  let message: string;
  if (maxReplicas > scaleUpLimit) {
    maximumAllowed = scaleUpLimit;
    reason = 'ScaleUpLimit';
    message = MSG_UP_LIMIT;
  } else {
    maximumAllowed = maxReplicas;
    reason = 'TooManyReplicas';
    message = MSG_TOO_MANY;
  }
  let desired = stabilized;
  if (stabilized < minReplicas) {
    desired = minReplicas;
    reason = 'TooFewReplicas';
    message = MSG_TOO_FEW;
  } else if (stabilized > maximumAllowed) {
    desired = maximumAllowed;
  } else {
    reason = 'DesiredWithinRange';
    message = MSG_WITHIN;
  }
  return {
    desiredReplicas: desired,
    ableToScaleReason: stabilizedDiffers ? 'ScaleDownStabilized' : 'ReadyForNewScale',
    ableToScaleMessage: stabilizedDiffers ? MSG_DOWN_STABILIZED : MSG_READY,
    limited: desired !== stabilized,
    limitedReason: reason,
    limitedMessage: message,
    recommendations,
  };
}

/** Sum of scale-up (direction 1) or scale-down (direction −1) changes strictly after the cutoff, as a positive count. */
function changesInPeriod(events: readonly TimestampedScaleEvent[], direction: 1 | -1, periodSeconds: number, nowMs: number): number {
  const cutoff = nowMs - periodSeconds * 1000;
  let sum = 0;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.timestampMs > cutoff && e.replicaChange * direction > 0) sum += e.replicaChange * direction;
  }
  return sum;
}

/** Highest replica count the scale-up policies allow now (period start = current − added + removed). */
export function scaleUpLimit(currentReplicas: number, events: readonly TimestampedScaleEvent[], rules: ResolvedScalingRules, nowMs: number): number {
  if (rules.selectPolicy === 'Disabled') return currentReplicas;
  const pickMin = rules.selectPolicy === 'Min';
  let result = pickMin ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  for (const policy of rules.policies) {
    const added = changesInPeriod(events, 1, policy.periodSeconds, nowMs);
    const removed = changesInPeriod(events, -1, policy.periodSeconds, nowMs);
    const periodStart = currentReplicas - added + removed;
    // Percent rounds up so a small replica count can still grow.
    const proposed = policy.type === 'Pods'
      ? periodStart + policy.value
      : Math.ceil(periodStart * (1 + policy.value / 100));
    result = pickMin ? Math.min(result, proposed) : Math.max(result, proposed);
  }
  return result;
}

/** Lowest replica count the scale-down policies allow now. */
export function scaleDownLimit(currentReplicas: number, events: readonly TimestampedScaleEvent[], rules: ResolvedScalingRules, nowMs: number): number {
  if (rules.selectPolicy === 'Disabled') return currentReplicas;
  const pickMin = rules.selectPolicy === 'Min';
  // For scale-down the smallest change is the largest replica count.
  let result = pickMin ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  for (const policy of rules.policies) {
    const added = changesInPeriod(events, 1, policy.periodSeconds, nowMs);
    const removed = changesInPeriod(events, -1, policy.periodSeconds, nowMs);
    const periodStart = currentReplicas - added + removed;
    // Percent truncates (int32 conversion), i.e. rounds the allowed floor down.
    const proposed = policy.type === 'Pods'
      ? periodStart - policy.value
      : Math.trunc(periodStart * (1 - policy.value / 100));
    result = pickMin ? Math.max(result, proposed) : Math.min(result, proposed);
  }
  return result;
}

/**
 * `behavior` normalization: stabilize within [min over the scale-up window, max over the scale-down
 * window], then apply the rate limits of the policies and [min, max].
 */
export function normalizeWithBehavior(
  currentReplicas: number,
  proposed: number,
  minReplicas: number,
  maxReplicas: number,
  behavior: ResolvedBehavior,
  history: readonly TimestampedRecommendation[],
  events: readonly TimestampedScaleEvent[],
  nowMs: number,
): Normalized {
  const upCutoff = nowMs - behavior.scaleUp.stabilizationWindowSeconds * 1000;
  const downCutoff = nowMs - behavior.scaleDown.stabilizationWindowSeconds * 1000;
  let upRecommendation = proposed;
  let downRecommendation = proposed;
  let oldIndex = -1;
  for (let i = 0; i < history.length; i++) {
    const rec = history[i]!;
    if (rec.timestampMs > upCutoff && rec.replicas < upRecommendation) upRecommendation = rec.replicas;
    if (rec.timestampMs > downCutoff && rec.replicas > downRecommendation) downRecommendation = rec.replicas;
    if (rec.timestampMs < upCutoff && rec.timestampMs < downCutoff) oldIndex = i;
  }
  let stabilized = currentReplicas;
  if (stabilized < upRecommendation) stabilized = upRecommendation;
  if (stabilized > downRecommendation) stabilized = downRecommendation;
  const recommendations = recordRecommendation(history, oldIndex, proposed, nowMs);

  let ableReason = 'ReadyForNewScale';
  let ableMessage = MSG_READY;
  if (stabilized !== proposed) {
    if (proposed >= currentReplicas) {
      ableReason = 'ScaleUpStabilized';
      ableMessage = MSG_UP_STABILIZED;
    } else {
      ableReason = 'ScaleDownStabilized';
      ableMessage = MSG_DOWN_STABILIZED;
    }
  }

  let desired = stabilized;
  let reason = 'DesiredWithinRange';
  let message = MSG_WITHIN;
  if (stabilized > currentReplicas) {
    let limit = scaleUpLimit(currentReplicas, events, behavior.scaleUp, nowMs);
    // Never below current: a burst inside the period blocks further scale-up, not a scale-down.
    if (limit < currentReplicas) limit = currentReplicas;
    let maximumAllowed = maxReplicas;
    let r = 'TooManyReplicas';
    let m = MSG_TOO_MANY;
    if (maximumAllowed > limit) {
      maximumAllowed = limit;
      r = 'ScaleUpLimit';
      m = MSG_UP_LIMIT;
    }
    if (stabilized > maximumAllowed) {
      desired = maximumAllowed;
      reason = r;
      message = m;
    }
  } else if (stabilized < currentReplicas) {
    let limit = scaleDownLimit(currentReplicas, events, behavior.scaleDown, nowMs);
    if (limit > currentReplicas) limit = currentReplicas;
    let minimumAllowed = minReplicas;
    let r = 'TooFewReplicas';
    let m = MSG_TOO_FEW;
    if (minimumAllowed < limit) {
      minimumAllowed = limit;
      r = 'ScaleDownLimit';
      m = MSG_DOWN_LIMIT;
    }
    if (stabilized < minimumAllowed) {
      desired = minimumAllowed;
      reason = r;
      message = m;
    }
  }
  return {
    desiredReplicas: desired,
    ableToScaleReason: ableReason,
    ableToScaleMessage: ableMessage,
    limited: desired !== stabilized,
    limitedReason: reason,
    limitedMessage: message,
    recommendations,
  };
}

/**
 * Record a rescale in the event history (only with `behavior`): overwrite the last same-direction
 * event older than that direction's longest policy period, else append. Never mutates the input.
 */
export function recordScaleEvent(
  events: readonly TimestampedScaleEvent[],
  behavior: ResolvedBehavior,
  previousReplicas: number,
  newReplicas: number,
  nowMs: number,
): TimestampedScaleEvent[] {
  const up = newReplicas > previousReplicas;
  const direction = up ? 1 : -1;
  const cutoff = nowMs - (up ? behavior.scaleUp.longestPeriodSeconds : behavior.scaleDown.longestPeriodSeconds) * 1000;
  let oldIndex = -1;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.replicaChange * direction > 0 && e.timestampMs < cutoff) oldIndex = i;
  }
  const next = events.slice();
  const entry = { timestampMs: nowMs, replicaChange: newReplicas - previousReplicas };
  if (oldIndex >= 0) next[oldIndex] = entry;
  else next.push(entry);
  return next;
}
