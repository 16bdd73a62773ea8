/**
 * What the sidecar reports on a PolicyBundle's `status` (kubectl get policybundles shows it): whether
 * the latest generation was accepted (schema + digest) and whether the sidecar decides with it, how many
 * HPAs it governs, when it last decided and how often it fell back. Pure functions of plain data: the
 * status wanted now, and the merge patch that turns the status as read into it (none when equal, so an
 * unchanged tick writes nothing).
 */
import { canonicalJson } from '../../policies/canonical.ts';
import type { BundleEntry } from './bundle-watch.ts';
import type { FallbackCause, PlanKind } from './decide.ts';

/** metav1.Condition. */
export interface StatusCondition {
  type: 'Accepted' | 'Active';
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface SidecarBundleStatus {
  observedGeneration?: number;
  /** spec.digest and spec.version of the version in force (the last good one). */
  observedDigest?: string;
  observedVersion?: string;
  conditions: StatusCondition[];
  governedHpas: number;
  lastDecisionTime?: string;
  fallbacks: number;
}

/** The status fields the sidecar owns; others (written by someone else) are left alone. */
export const STATUS_FIELDS = ['observedGeneration', 'observedDigest', 'observedVersion', 'conditions', 'governedHpas', 'lastDecisionTime', 'fallbacks'] as const;

/** Accepted=False reasons, by what failed. */
export type RefusalReason = 'DigestMismatch' | 'SchemaInvalid';

/** Active reasons: True while deciding, False with why not. */
export type ActiveReason = 'Deciding' | 'PreviousVersion' | 'Paused' | 'Shadow' | 'Fallback' | 'NoGovernedHpas' | 'NotAccepted';

/** What one tick did with a bundle's HPAs. */
export interface BundleActivity {
  /** Kind of each governed HPA's plan this tick. */
  kinds: PlanKind[];
  fallbackCauses: FallbackCause[];
}

export interface BundleStatusInput {
  entry: BundleEntry;
  shadow: boolean;
  activity: BundleActivity;
  /** Epoch ms of the last new decision that changed (or in shadow mode would change) an HPA's bounds. */
  lastDecisionMs?: number;
  /** Fallback decisions made with this bundle since this replica started leading. */
  fallbacks: number;
  nowMs: number;
}

const MESSAGE_LIMIT = 1024;

function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function fit(text: string): string {
  return text.length <= MESSAGE_LIMIT ? text : `${text.slice(0, MESSAGE_LIMIT - 3)}...`;
}

/** DigestMismatch when the digest check failed, SchemaInvalid for anything the schema or consistency checks found. */
export function refusalReason(errors: readonly string[]): RefusalReason {
  return errors.some((e) => e.startsWith('/spec/digest')) ? 'DigestMismatch' : 'SchemaInvalid';
}

function plural(n: number, one: string): string {
  return `${n} ${one}${n === 1 ? '' : 's'}`;
}

function activeCondition(input: BundleStatusInput): { status: 'True' | 'False'; reason: ActiveReason; message: string } {
  const { entry, shadow, activity } = input;
  const good = entry.good;
  if (!good) return { status: 'False', reason: 'NotAccepted', message: 'no version of this bundle was accepted: the HPAs it names keep their base spec' };
  const version = `version ${good.spec.version}`;
  if (good.spec.paused === true) return { status: 'False', reason: 'Paused', message: `spec.paused is true: no decisions with ${version}; the native HPAs scale alone` };
  const n = activity.kinds.length;
  if (n === 0) return { status: 'False', reason: 'NoGovernedHpas', message: `no HPA labelled karma-hpa.io/governed=true matches the targets of ${version}` };
  if (shadow) return { status: 'False', reason: 'Shadow', message: `shadow mode: deciding for ${plural(n, 'HPA')} with ${version}, applying nothing` };
  if (activity.kinds.every((k) => k === 'paused')) return { status: 'False', reason: 'Paused', message: `every governed HPA (${n}) is paused by annotation` };
  const fallbacks = activity.kinds.filter((k) => k === 'fallback').length;
  const causes = [...new Set(activity.fallbackCauses)].sort().join(', ');
  if (fallbacks === n) return { status: 'False', reason: 'Fallback', message: `every governed HPA (${n}) fell back to its base spec: ${causes}` };
  const partly = fallbacks > 0 ? `; ${fallbacks} fell back to the base spec (${causes})` : '';
  if (entry.refused) {
    return { status: 'True', reason: 'PreviousVersion', message: `deciding for ${plural(n, 'HPA')} with the last accepted ${version}; the latest generation was refused${partly}` };
  }
  return { status: 'True', reason: 'Deciding', message: `deciding for ${plural(n, 'HPA')} with ${version}${partly}` };
}

/** The status the sidecar wants on the bundle now; `previous` keeps transition times of unchanged conditions. */
export function desiredBundleStatus(input: BundleStatusInput, previous: Record<string, unknown> | undefined): SidecarBundleStatus {
  const { entry, nowMs } = input;
  const generation = entry.observed?.generation;
  const accepted = entry.refused
    ? { status: 'False' as const, reason: refusalReason(entry.refused.errors), message: fit(entry.refused.errors.join('; ')) }
    : { status: 'True' as const, reason: 'Valid', message: `schema and digest ${entry.good?.spec.digest ?? ''} are valid` };
  const previousConditions = Array.isArray(previous?.conditions) ? (previous.conditions as Partial<StatusCondition>[]) : [];
  const condition = (type: StatusCondition['type'], c: { status: 'True' | 'False'; reason: string; message: string }): StatusCondition => {
    const before = previousConditions.find((p) => p.type === type);
    const since = before?.status === c.status && typeof before.lastTransitionTime === 'string' ? before.lastTransitionTime : rfc3339(nowMs);
    return { type, status: c.status, reason: c.reason, message: fit(c.message), lastTransitionTime: since, ...(generation !== undefined ? { observedGeneration: generation } : {}) };
  };
  // A new leader has no decision of its own yet: the time already reported stands.
  const lastDecisionTime = input.lastDecisionMs !== undefined ? rfc3339(input.lastDecisionMs)
    : typeof previous?.lastDecisionTime === 'string' ? previous.lastDecisionTime : undefined;
  return {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    ...(entry.good ? { observedDigest: entry.good.spec.digest, observedVersion: entry.good.spec.version } : {}),
    conditions: [condition('Accepted', accepted), condition('Active', activeCondition(input))],
    governedHpas: input.activity.kinds.length,
    ...(lastDecisionTime !== undefined ? { lastDecisionTime } : {}),
    fallbacks: input.fallbacks,
  };
}

/**
 * The JSON merge patch of `status` that turns `previous` into `desired` for the fields the sidecar owns
 * (null removes one it no longer reports), or undefined when nothing differs.
 */
export function statusPatch(previous: Record<string, unknown> | undefined, desired: SidecarBundleStatus): Record<string, unknown> | undefined {
  const patch: Record<string, unknown> = {};
  for (const field of STATUS_FIELDS) {
    const want = desired[field];
    const have = previous?.[field];
    if (want === undefined) {
      if (have !== undefined) patch[field] = null;
    } else if (have === undefined || canonicalJson(have) !== canonicalJson(want)) {
      patch[field] = want;
    }
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}
