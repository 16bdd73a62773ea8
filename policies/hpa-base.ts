/**
 * Does a governed HPA run the spec its bundle's agents were trained to act through (`spec.hpaBase`)?
 * The agents' actions only mean what they meant in training on the same controller: the same CPU
 * target and the same scaling behavior. Behaviors are compared as the API server completes them
 * (autoscaling/v2 defaulting), so an omitted field equals its default. Pure; used by the admission
 * webhook (a warning at apply time) and the sidecar (in its decision messages).
 */
import type { HpaBase, HpaScalingRules } from './bundle.ts';

type Policy = NonNullable<HpaScalingRules['policies']>[number];

/** Kubernetes' defaults for autoscaling/v2 `behavior` and metrics. */
export const DEFAULT_SCALE_UP_POLICIES: readonly Policy[] = Object.freeze([
  Object.freeze({ type: 'Pods' as const, value: 4, periodSeconds: 15 }),
  Object.freeze({ type: 'Percent' as const, value: 100, periodSeconds: 15 }),
]);
export const DEFAULT_SCALE_DOWN_POLICIES: readonly Policy[] = Object.freeze([Object.freeze({ type: 'Percent' as const, value: 100, periodSeconds: 15 })]);
/** The controller's --horizontal-pod-autoscaler-downscale-stabilization default. */
export const DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS = 300;
/** An HPA without metrics scales on 80 % CPU utilisation. */
export const DEFAULT_CPU_TARGET_PERCENT = 80;

interface CompleteRules {
  stabilizationWindowSeconds: number;
  selectPolicy: 'Max' | 'Min' | 'Disabled';
  policies: Policy[];
}

function complete(r: unknown, direction: 'up' | 'down'): CompleteRules {
  const rules = (typeof r === 'object' && r !== null ? r : {}) as HpaScalingRules;
  const policies = Array.isArray(rules.policies) ? rules.policies : direction === 'up' ? DEFAULT_SCALE_UP_POLICIES : DEFAULT_SCALE_DOWN_POLICIES;
  return {
    stabilizationWindowSeconds: rules.stabilizationWindowSeconds ?? (direction === 'up' ? 0 : DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS),
    selectPolicy: rules.selectPolicy ?? 'Max',
    // Policy order does not change what the controller does.
    policies: [...policies].sort((a, b) => a.type.localeCompare(b.type) || a.value - b.value || a.periodSeconds - b.periodSeconds),
  };
}

function describe(r: CompleteRules): string {
  const policies = r.policies.map((p) => `${p.value}${p.type === 'Percent' ? ' %' : ' pods'} per ${p.periodSeconds} s`);
  return `window ${r.stabilizationWindowSeconds} s, ${r.selectPolicy === 'Disabled' ? 'disabled' : `${r.selectPolicy} of ${policies.join(', ')}`}`;
}

const sameRules = (a: CompleteRules, b: CompleteRules): boolean => JSON.stringify(a) === JSON.stringify(b);

function metricText(m: Record<string, unknown>): string {
  const type = String(m.type ?? 'unknown');
  const source = m[type.charAt(0).toLowerCase() + type.slice(1)] as { name?: unknown; metric?: { name?: unknown } } | undefined;
  const name = source?.name ?? source?.metric?.name;
  return `${type}${name !== undefined ? ` ${String(name)}` : ''}`;
}

/**
 * How an HPA spec (autoscaling/v2, as admitted or as read from the API) differs from the HPA base the
 * agents were trained on: one phrase per difference, none when it runs the same controller.
 */
export function hpaBaseDrift(base: HpaBase, spec: Record<string, unknown>): string[] {
  const out: string[] = [];
  const metrics = Array.isArray(spec.metrics) ? (spec.metrics as Record<string, unknown>[]) : [];
  const isCpuUtilisation = (m: Record<string, unknown>): boolean => {
    const r = m.resource as { name?: unknown; target?: { type?: unknown } } | undefined;
    return m.type === 'Resource' && r?.name === 'cpu' && r.target?.type === 'Utilization';
  };
  const cpu = metrics.length === 0
    ? DEFAULT_CPU_TARGET_PERCENT
    : (metrics.find(isCpuUtilisation)?.resource as { target: { averageUtilization?: unknown } } | undefined)?.target.averageUtilization;
  if (cpu === undefined) out.push(`no CPU utilisation target (trained on CPU ${base.cpuTargetPercent} %)`);
  else if (cpu !== base.cpuTargetPercent) out.push(`CPU target ${String(cpu)} % (trained on ${base.cpuTargetPercent} %)`);
  const others = metrics.filter((m) => !isCpuUtilisation(m));
  if (others.length > 0) out.push(`also scales on ${others.map(metricText).join(', ')} (trained on CPU alone)`);
  const behavior = (typeof spec.behavior === 'object' && spec.behavior !== null ? spec.behavior : {}) as Record<string, unknown>;
  for (const [field, direction, label] of [['scaleUp', 'up', 'scale-up'], ['scaleDown', 'down', 'scale-down']] as const) {
    const live = complete(behavior[field], direction);
    const trained = complete(base.behavior?.[field], direction);
    if (!sameRules(live, trained)) out.push(`${label} ${describe(live)} (trained on ${describe(trained)})`);
  }
  return out;
}
