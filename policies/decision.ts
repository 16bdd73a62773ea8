/**
 * How an agent's decision (a replica change) becomes HPA bounds. The agents act through the HPA, not
 * around it: a positive change raises minReplicas to pre-scale, a negative change lowers maxReplicas to
 * contain, and 0 restores the bounds from Git. The native HPA keeps scaling inside the bounds.
 * Used alike by the twin, the webhook and the sidecar.
 */
export interface HpaBounds {
  minReplicas: number;
  maxReplicas: number;
}

/** The part of a bundle's guards that constrains bounds. */
export interface BoundGuards {
  /** Floor of any bound (≥ 1). */
  minReplicas: number;
  /** Ceiling of any bound. */
  maxReplicas: number;
  /** Largest |replica change| a single decision may make (≥ 1). */
  maxStep: number;
}

/** The HPA spec as it came from Git; minReplicas defaults to 1 as in autoscaling/v2. */
export interface BaseHpaBounds {
  minReplicas?: number;
  maxReplicas: number;
}

export function applyDecision(baseSpec: BaseHpaBounds, currentReplicas: number, replicaChange: number, guards: BoundGuards): HpaBounds {
  const floor = Math.max(1, Math.floor(guards.minReplicas));
  const ceiling = Math.max(floor, Math.floor(guards.maxReplicas));
  const clamp = (n: number): number => Math.min(ceiling, Math.max(floor, n));
  const step = Math.max(1, Math.floor(guards.maxStep));
  const change = Math.max(-step, Math.min(step, Math.trunc(replicaChange)));
  const baseMin = clamp(baseSpec.minReplicas ?? 1);
  const baseMax = Math.max(baseMin, clamp(baseSpec.maxReplicas));
  if (change > 0) {
    const minReplicas = clamp(currentReplicas + change);
    return { minReplicas, maxReplicas: Math.max(baseMax, minReplicas) };
  }
  if (change < 0) {
    const maxReplicas = clamp(currentReplicas + change);
    return { minReplicas: Math.min(baseMin, maxReplicas), maxReplicas };
  }
  return { minReplicas: baseMin, maxReplicas: baseMax };
}

/**
 * The bundle guards' cooldown (`guards.cooldownSeconds`, 30 s by default: two HPA syncs, so the
 * controller acts on one decision before the next). A change of bounds within the cooldown of the
 * last change waits; the bounds stay as they are. The sidecar, the twin environment and evaluation
 * apply it alike, so agents are trained and measured under the damping they run with.
 */
export const DEFAULT_COOLDOWN_SECONDS = 30;

export function inCooldown(lastChangeSeconds: number | undefined, nowSeconds: number, cooldownSeconds: number): boolean {
  return lastChangeSeconds !== undefined && Number.isFinite(lastChangeSeconds) && nowSeconds - lastChangeSeconds < cooldownSeconds;
}

/** Rounding of a combined change exactly halfway between two integers (the organisation's `combination.ties`). */
export type TieRounding = 'up' | 'awayFromZero';

/**
 * Several agents may decide for the same service in one period: the service gets the mean of their
 * changes, rounded, clamped to the largest step allowed. (A sum let any one agent's +3 override the
 * others, so trained agents learned that scaling up is the only action with an effect and held every
 * service near its maximum; with the mean each agent moves the outcome by its share.) Ties: 'up' sends
 * −0.5 to 0 and +0.5 to +1, so one agent's +1 raises a service two agents share while a −1 needs both;
 * 'awayFromZero' treats both directions alike.
 */
export function combineDecisions(changes: readonly number[], maxStep: number, ties: TieRounding = 'up'): number {
  if (changes.length === 0) return 0;
  let sum = 0;
  for (const c of changes) sum += c;
  const mean = sum / changes.length;
  const rounded = ties === 'awayFromZero' ? Math.sign(mean) * Math.round(Math.abs(mean)) : Math.round(mean);
  // `+ 0` turns −0 into 0, so a hold is one value whatever the rounding.
  return Math.max(-maxStep, Math.min(maxStep, rounded)) + 0;
}
