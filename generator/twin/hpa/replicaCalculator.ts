/**
 * The arithmetic of the HPA controller: from pods and metric samples to a proposed replica count for
 * one metric. Mirrors the upstream replica calculator's rules (ratio of sums, integer utilization,
 * tolerance, missing/unready pod rebalancing, direction-flip guard). Pure; reuses module-level scratch
 * buffers so a reconcile allocates almost nothing.
 */
import type { HpaControllerConfig, PodSample } from './types.ts';

export type Proposal =
  | { ok: true; replicas: number; usage: number; utilization?: number }
  | { ok: false; error: string };

const READY = 0;
const UNREADY = 1;
const MISSING = 2;
const IGNORED = 3;

let usageBuf = new Float64Array(64);
let requestBuf = new Float64Array(64);
let hasBuf = new Uint8Array(64);
let classBuf = new Uint8Array(64);

function ensureCapacity(n: number): void {
  if (usageBuf.length >= n) return;
  let size = usageBuf.length;
  while (size < n) size *= 2;
  usageBuf = new Float64Array(size);
  requestBuf = new Float64Array(size);
  hasBuf = new Uint8Array(size);
  classBuf = new Uint8Array(size);
}

/**
 * A value in milli-units rounded up, as Quantity.MilliValue() does; float noise (0.1 × 1000 =
 * 100.00000000000001) is not a fraction worth rounding up.
 */
export function ceilMilli(milli: number): number {
  const r = Math.round(milli);
  if (Math.abs(milli - r) <= 1e-9 * Math.max(1, Math.abs(milli))) return r;
  return Math.ceil(milli);
}

/** A base-unit number (e.g. 0.5 cores, 120 requests/s) in milli-units. */
export function toMilli(value: number): number {
  return ceilMilli(value * 1000);
}

function podUsage(pod: PodSample, resource: string): number | null {
  if (resource === 'cpu') return pod.cpuUsageMilli;
  return pod.resources?.[resource]?.usageMilli ?? null;
}

function podRequest(pod: PodSample, resource: string): number | null {
  if (resource === 'cpu') return pod.cpuRequestMilli;
  return pod.resources?.[resource]?.requestMilli ?? null;
}

/**
 * Classify pods as upstream's groupPods: deleted/failed are ignored, pending are unready, pods without
 * a sample are missing, and for CPU a pod is unready while its usage may still reflect start-up.
 * Returns the ready count; classes land in classBuf.
 */
function groupPods(pods: readonly PodSample[], isCpu: boolean, nowMs: number, cfg: HpaControllerConfig): number {
  let ready = 0;
  const initMs = cfg.cpuInitializationPeriodSeconds * 1000;
  const delayMs = cfg.initialReadinessDelaySeconds * 1000;
  const windowMs = cfg.metricWindowSeconds * 1000;
  for (let i = 0; i < pods.length; i++) {
    const pod = pods[i]!;
    if (pod.deleted || pod.phase === 'Failed') {
      classBuf[i] = IGNORED;
      continue;
    }
    if (pod.phase === 'Pending') {
      classBuf[i] = UNREADY;
      continue;
    }
    if (hasBuf[i] === 0) {
      classBuf[i] = MISSING;
      continue;
    }
    if (isCpu) {
      const start = pod.startTimeMs;
      const transition = pod.readyTransitionTimeMs;
      let unready: boolean;
      if (transition === null || transition === undefined || start === null || start === undefined) {
        unready = true;
      } else if (start + initMs > nowMs) {
        // Within the CPU initialization period: distrust a sample that may span the not-ready time.
        const sampleAt = pod.metricTimestampMs ?? nowMs;
        unready = !pod.ready || sampleAt < transition + windowMs;
      } else {
        // Afterwards only a pod that has never become ready is discounted.
        unready = !pod.ready && start + delayMs > transition;
      }
      if (unready) {
        classBuf[i] = UNREADY;
        continue;
      }
    }
    classBuf[i] = READY;
    ready++;
  }
  return ready;
}

/**
 * Replicas for a Resource metric with an averageUtilization target: sum(usage)/sum(requests) of the
 * ready pods as an integer percentage, compared with the target.
 */
export function resourceUtilizationReplicas(
  currentReplicas: number,
  targetUtilization: number,
  resource: string,
  pods: readonly PodSample[],
  nowMs: number,
  cfg: HpaControllerConfig,
): Proposal {
  const n = pods.length;
  ensureCapacity(n);
  let anySample = false;
  for (let i = 0; i < n; i++) {
    const u = podUsage(pods[i]!, resource);
    if (u === null || u === undefined) {
      hasBuf[i] = 0;
    } else {
      hasBuf[i] = 1;
      usageBuf[i] = ceilMilli(u);
      anySample = true;
    }
  }
  if (!anySample) return { ok: false, error: `unable to get metrics for resource ${resource}: no metrics returned from resource metrics API` };
  if (n === 0) return { ok: false, error: 'no pods returned by selector while calculating replica count' };

  const readyCount = groupPods(pods, resource === 'cpu', nowMs, cfg);
  let unreadyCount = 0;
  let missingCount = 0;
  for (let i = 0; i < n; i++) {
    if (classBuf[i] === UNREADY) unreadyCount++;
    else if (classBuf[i] === MISSING) missingCount++;
  }
  if (readyCount === 0) return { ok: false, error: 'did not receive metrics for targeted pods (pods might be unready)' };

  for (let i = 0; i < n; i++) {
    const r = podRequest(pods[i]!, resource);
    if (r === null || r === undefined) return { ok: false, error: `missing request for ${resource} in a container of Pod ${pods[i]!.name}` };
    requestBuf[i] = ceilMilli(r);
  }

  let usageSum = 0;
  let requestSum = 0;
  for (let i = 0; i < n; i++) {
    if (classBuf[i] !== READY) continue;
    usageSum += usageBuf[i]!;
    requestSum += requestBuf[i]!;
  }
  if (requestSum === 0) return { ok: false, error: 'no metrics returned matched known pods' };
  const utilization = Math.trunc((usageSum * 100) / requestSum);
  const rawAverage = Math.trunc(usageSum / readyCount);
  const usageRatio = utilization / targetUtilization;

  const scaleUpWithUnready = unreadyCount > 0 && usageRatio > 1.0;
  if (!scaleUpWithUnready && missingCount === 0) {
    if (Math.abs(1.0 - usageRatio) <= cfg.tolerance) return { ok: true, replicas: currentReplicas, usage: rawAverage, utilization };
    return { ok: true, replicas: Math.ceil(usageRatio * readyCount), usage: rawAverage, utilization };
  }

  // Rebalance: missing pods count as 0 % on a scale-up and as 100 % (or the target, if higher) on a
  // scale-down; unready pods count as 0 % on a scale-up. Both damp the move.
  const fallbackUtilization = Math.max(100, targetUtilization);
  let newUsage = usageSum;
  let newRequests = requestSum;
  let entries = readyCount;
  if (missingCount > 0 && usageRatio !== 1.0) {
    for (let i = 0; i < n; i++) {
      if (classBuf[i] !== MISSING) continue;
      if (usageRatio < 1.0) newUsage += Math.trunc((requestBuf[i]! * fallbackUtilization) / 100);
      newRequests += requestBuf[i]!;
      entries++;
    }
  }
  if (scaleUpWithUnready) {
    for (let i = 0; i < n; i++) {
      if (classBuf[i] !== UNREADY) continue;
      newRequests += requestBuf[i]!;
      entries++;
    }
  }
  if (newRequests === 0) return { ok: false, error: 'no metrics returned matched known pods' };
  const newUsageRatio = Math.trunc((newUsage * 100) / newRequests) / targetUtilization;
  if (
    Math.abs(1.0 - newUsageRatio) <= cfg.tolerance ||
    (usageRatio < 1.0 && newUsageRatio > 1.0) ||
    (usageRatio > 1.0 && newUsageRatio < 1.0)
  ) {
    return { ok: true, replicas: currentReplicas, usage: rawAverage, utilization };
  }
  const newReplicas = Math.ceil(newUsageRatio * entries);
  if ((newUsageRatio < 1.0 && newReplicas > currentReplicas) || (newUsageRatio > 1.0 && newReplicas < currentReplicas)) {
    return { ok: true, replicas: currentReplicas, usage: rawAverage, utilization };
  }
  return { ok: true, replicas: newReplicas, usage: rawAverage, utilization };
}

/**
 * Where per-pod samples of a plain metric come from: a resource's usage (Resource metric with an
 * averageValue target) or a Pods metric (one number for every pod, or one per pod name).
 */
export type PodValues =
  | { kind: 'resource'; resource: string }
  | { kind: 'pods'; values: number | Record<string, number> };

/**
 * Replicas for a per-pod average target (Pods metrics, Resource averageValue): the average sample of
 * the ready pods against the target, with the same rebalancing rules as utilization.
 */
export function plainMetricReplicas(
  currentReplicas: number,
  targetMilli: number,
  source: PodValues,
  pods: readonly PodSample[],
  nowMs: number,
  cfg: HpaControllerConfig,
): Proposal {
  const n = pods.length;
  ensureCapacity(n);
  // Samples for names that are not among the pods still count, as upstream sums every returned sample.
  let extraSum = 0;
  let extraCount = 0;
  let anySample = false;
  if (source.kind === 'resource') {
    for (let i = 0; i < n; i++) {
      const u = podUsage(pods[i]!, source.resource);
      if (u === null || u === undefined) hasBuf[i] = 0;
      else {
        hasBuf[i] = 1;
        usageBuf[i] = ceilMilli(u);
        anySample = true;
      }
    }
  } else if (typeof source.values === 'number') {
    const v = toMilli(source.values);
    for (let i = 0; i < n; i++) {
      hasBuf[i] = 1;
      usageBuf[i] = v;
    }
    anySample = n > 0;
  } else {
    const values = source.values;
    let totalSum = 0;
    let totalCount = 0;
    for (const key in values) {
      totalSum += toMilli(values[key]!);
      totalCount++;
    }
    let matchedSum = 0;
    let matchedCount = 0;
    for (let i = 0; i < n; i++) {
      const v = values[pods[i]!.name];
      if (v === undefined) hasBuf[i] = 0;
      else {
        hasBuf[i] = 1;
        usageBuf[i] = toMilli(v);
        matchedSum += usageBuf[i]!;
        matchedCount++;
      }
    }
    extraSum = totalSum - matchedSum;
    extraCount = totalCount - matchedCount;
    anySample = totalCount > 0;
  }
  if (!anySample) {
    return {
      ok: false,
      error: source.kind === 'resource'
        ? `unable to get metrics for resource ${source.resource}: no metrics returned from resource metrics API`
        : 'no metrics returned from custom metrics API',
    };
  }
  if (n === 0) return { ok: false, error: 'no pods returned by selector while calculating replica count' };

  const isCpu = source.kind === 'resource' && source.resource === 'cpu';
  const readyCount = groupPods(pods, isCpu, nowMs, cfg);
  let unreadyCount = 0;
  let missingCount = 0;
  let sum = extraSum;
  for (let i = 0; i < n; i++) {
    const c = classBuf[i];
    if (c === UNREADY) unreadyCount++;
    else if (c === MISSING) missingCount++;
    else if (c === READY) sum += usageBuf[i]!;
  }
  const entries0 = readyCount + extraCount;
  if (entries0 === 0) return { ok: false, error: 'did not receive metrics for targeted pods (pods might be unready)' };
  const usage = Math.trunc(sum / entries0);
  const usageRatio = usage / targetMilli;

  const scaleUpWithUnready = unreadyCount > 0 && usageRatio > 1.0;
  if (!scaleUpWithUnready && missingCount === 0) {
    if (Math.abs(1.0 - usageRatio) <= cfg.tolerance) return { ok: true, replicas: currentReplicas, usage };
    return { ok: true, replicas: Math.ceil(usageRatio * readyCount), usage };
  }

  // Missing pods count as exactly the target on a scale-down and as 0 on a scale-up.
  let newSum = sum;
  let entries = entries0;
  if (missingCount > 0 && usageRatio !== 1.0) {
    if (usageRatio < 1.0) newSum += missingCount * targetMilli;
    entries += missingCount;
  }
  if (scaleUpWithUnready) entries += unreadyCount;
  const newUsageRatio = Math.trunc(newSum / entries) / targetMilli;
  if (
    Math.abs(1.0 - newUsageRatio) <= cfg.tolerance ||
    (usageRatio < 1.0 && newUsageRatio > 1.0) ||
    (usageRatio > 1.0 && newUsageRatio < 1.0)
  ) {
    return { ok: true, replicas: currentReplicas, usage };
  }
  const newReplicas = Math.ceil(newUsageRatio * entries);
  if ((newUsageRatio < 1.0 && newReplicas > currentReplicas) || (newUsageRatio > 1.0 && newReplicas < currentReplicas)) {
    return { ok: true, replicas: currentReplicas, usage };
  }
  return { ok: true, replicas: newReplicas, usage };
}

/** Pods that are Running with Ready=True (deleted ones included, as upstream counts them). */
export function readyPodsCount(pods: readonly PodSample[]): number {
  let count = 0;
  for (let i = 0; i < pods.length; i++) {
    const p = pods[i]!;
    if (p.phase === 'Running' && p.ready) count++;
  }
  return count;
}

/**
 * Replicas for a whole-object value target (Object Value, External Value): usage/target scales the
 * ready pod count; from zero replicas the ratio alone decides (scale to and from zero).
 */
export function valueTargetReplicas(
  currentReplicas: number,
  usageMilli: number,
  targetMilli: number,
  pods: readonly PodSample[],
  cfg: HpaControllerConfig,
): Proposal {
  const usageRatio = usageMilli / targetMilli;
  if (currentReplicas !== 0) {
    if (Math.abs(1.0 - usageRatio) <= cfg.tolerance) return { ok: true, replicas: currentReplicas, usage: usageMilli };
    if (pods.length === 0) return { ok: false, error: 'unable to calculate ready pods: no pods returned by selector while calculating replica count' };
    return { ok: true, replicas: Math.ceil(usageRatio * readyPodsCount(pods)), usage: usageMilli };
  }
  return { ok: true, replicas: Math.ceil(usageRatio), usage: usageMilli };
}

/**
 * Replicas for a per-pod average of a whole-object value (Object AverageValue, External AverageValue):
 * compared against target × status replicas; the reported usage is the per-replica share.
 */
export function averageValueTargetReplicas(
  statusReplicas: number,
  usageMilli: number,
  targetMilli: number,
  cfg: HpaControllerConfig,
): Proposal {
  let replicas = statusReplicas;
  const usageRatio = usageMilli / (targetMilli * statusReplicas);
  if (Math.abs(1.0 - usageRatio) > cfg.tolerance) replicas = Math.ceil(usageMilli / targetMilli);
  const usage = Math.ceil(usageMilli / statusReplicas);
  return { ok: true, replicas, usage: Number.isFinite(usage) ? usage : 0 };
}
