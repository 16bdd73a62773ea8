/**
 * The product's goal for trained agents, per scenario: a failed-request share (1 − success rate) at
 * most ¼ of the default HPA's and at most ½ of the tuned HPA's, at a cost (replica-seconds) at most
 * 1.1 × the tuned HPA's; and the gap to the clairvoyant bound, which tells whether a miss is the
 * agents' or the scenario's (when even the clairvoyant planner fails more than the goal allows, no
 * autoscaler in the twin is known to meet it), and which services the clairvoyant ran saturated at their
 * replica ceilings (what a higher maxReplicas would relieve). Pure: evaluation rows in, one check per
 * scenario out.
 */
import type { CeilingSaturation } from '../../policies/bundle.ts';
import { SATURATION_SHARE } from '../twin/metrics.ts';
import type { SummaryRow } from './evaluation.ts';

export const PRODUCT_GOAL = {
  /** Failed share ≤ this × the default HPA's. */
  failedVsDefaultHpa: 0.25,
  /** Failed share ≤ this × the tuned HPA's. */
  failedVsTunedHpa: 0.5,
  /** Replica-seconds ≤ this × the tuned HPA's. */
  costVsTunedHpa: 1.1,
} as const;

/** The goal in words, from the constants: "failed ≤ 0.25 × the default HPA's and ≤ 0.5 × the tuned HPA's, cost ≤ 1.1 × the tuned HPA's". */
export function goalDescription(): string {
  return `failed ≤ ${PRODUCT_GOAL.failedVsDefaultHpa} × the default HPA's and ≤ ${PRODUCT_GOAL.failedVsTunedHpa} × the tuned HPA's, cost ≤ ${PRODUCT_GOAL.costVsTunedHpa} × the tuned HPA's`;
}

/**
 * A service counts as held back by its ceiling when the clairvoyant ran it saturated at maxReplicas for
 * at least one decision period (15 s) per episode on average.
 */
export const CEILING_REPORT_SECONDS = 15;

/** What the ceiling column means, for the tables' readers. */
export const CEILING_NOTE = `A service the clairvoyant ran saturated at its maxReplicas (offered load ≥ ${100 * SATURATION_SHARE} % of what its ready pods serve, for ≥ ${CEILING_REPORT_SECONDS} s per episode) held back even the best plan: only a higher ceiling adds that capacity.`;

/** The methods the goal compares with (evaluation method names). */
const GOAL_REFERENCES = { defaultHpa: 'default-hpa', tunedHpa: 'tuned-hpa', clairvoyant: 'clairvoyant' } as const;

/** One scenario × method of an evaluation, as the goal reads it (means over seeds). */
export interface GoalInput {
  scenario: string;
  method: string;
  failedShare: number;
  replicaSeconds?: number;
  saturatedAtCeiling?: readonly CeilingSaturation[];
}

export interface GoalCheck {
  scenario: string;
  method: string;
  failedShare: number;
  /** The largest failed share the goal allows: min(¼ × the default HPA's, ½ × the tuned HPA's). */
  failedLimit: number;
  /** Replica-seconds ÷ the tuned HPA's (absent when either cost is unknown). */
  costRatio?: number;
  failedMet: boolean;
  /** Absent when the cost ratio is unknown. */
  costMet?: boolean;
  /** Both bounds met (a scenario without a known cost ratio is not met). */
  met: boolean;
  /** The clairvoyant bound on the same scenario, when it was evaluated. */
  clairvoyant?: {
    failedShare: number;
    costRatio?: number;
    /** Agents' failed share − the clairvoyant's, in share (0.01 = one point). */
    gap: number;
    /** Whether the clairvoyant itself stays within the failure limit. */
    withinLimit: boolean;
    /** Services it ran saturated at their replica ceiling for ≥ CEILING_REPORT_SECONDS per episode, largest first. */
    atCeiling: CeilingSaturation[];
  };
}

/** An evaluation summary (`summarise`) as the goal reads it. */
export function goalInputsOf(rows: readonly SummaryRow[]): GoalInput[] {
  return rows.map((r) => ({ scenario: r.scenario, method: r.method, failedShare: r.failedShare.mean, replicaSeconds: r.replicaSeconds.mean, saturatedAtCeiling: r.saturatedAtCeiling }));
}

/** The goal for `method` on every scenario where the default and tuned HPA were evaluated too, in first-seen scenario order. */
export function goalChecks(rows: readonly GoalInput[], method: string): GoalCheck[] {
  const find = (scenario: string, m: string): GoalInput | undefined => rows.find((r) => r.scenario === scenario && r.method === m);
  const ratio = (x: GoalInput | undefined, ref: GoalInput): number | undefined =>
    x?.replicaSeconds !== undefined && ref.replicaSeconds !== undefined && ref.replicaSeconds > 0 ? x.replicaSeconds / ref.replicaSeconds : undefined;
  const out: GoalCheck[] = [];
  for (const scenario of [...new Set(rows.map((r) => r.scenario))]) {
    const own = find(scenario, method);
    const def = find(scenario, GOAL_REFERENCES.defaultHpa);
    const tuned = find(scenario, GOAL_REFERENCES.tunedHpa);
    if (!own || !def || !tuned) continue;
    const failedLimit = Math.min(PRODUCT_GOAL.failedVsDefaultHpa * def.failedShare, PRODUCT_GOAL.failedVsTunedHpa * tuned.failedShare);
    const costRatio = ratio(own, tuned);
    const failedMet = own.failedShare <= failedLimit;
    const costMet = costRatio === undefined ? undefined : costRatio <= PRODUCT_GOAL.costVsTunedHpa;
    const check: GoalCheck = { scenario, method, failedShare: own.failedShare, failedLimit, failedMet, met: failedMet && costMet === true };
    if (costRatio !== undefined) {
      check.costRatio = costRatio;
      check.costMet = costMet;
    }
    const clair = find(scenario, GOAL_REFERENCES.clairvoyant);
    if (clair) {
      const clairCost = ratio(clair, tuned);
      check.clairvoyant = {
        failedShare: clair.failedShare,
        ...(clairCost !== undefined ? { costRatio: clairCost } : {}),
        gap: own.failedShare - clair.failedShare,
        withinLimit: clair.failedShare <= failedLimit,
        atCeiling: (clair.saturatedAtCeiling ?? []).filter((c) => c.seconds >= CEILING_REPORT_SECONDS).map((c) => ({ ...c })),
      };
    }
    out.push(check);
  }
  return out;
}

/**
 * One sentence: "met on 2 of 5 scenarios (bottleneck, mixed); where missed, the clairvoyant bound fails
 * more than the goal allows too on ddos (at the replica ceiling of B, A), pod-failures (A)".
 */
export function goalSentence(checks: readonly GoalCheck[]): string {
  if (checks.length === 0) return 'not checked: the default and tuned HPA were not evaluated on the same scenarios';
  const met = checks.filter((c) => c.met);
  const unreachable = checks.filter((c) => !c.met && c.clairvoyant && !c.clairvoyant.withinLimit);
  const why = (c: GoalCheck): string => (c.clairvoyant!.atCeiling.length > 0 ? ` (at the replica ceiling of ${c.clairvoyant!.atCeiling.map((x) => x.service).join(', ')})` : '');
  return `met on ${met.length} of ${checks.length} scenario${checks.length === 1 ? '' : 's'}${met.length > 0 ? ` (${met.map((c) => c.scenario).join(', ')})` : ''}`
    + (unreachable.length > 0 ? `; where missed, the clairvoyant bound fails more than the goal allows too on ${unreachable.map((c) => `${c.scenario}${why(c)}`).join(', ')}` : '');
}

/** What a check missed: "met", or "failed", "cost" or both. */
export function goalVerdict(c: GoalCheck): string {
  if (c.met) return 'met';
  const missed = [...(c.failedMet ? [] : ['failed share']), ...(c.costMet === false ? ['cost'] : []), ...(c.costMet === undefined ? ['cost unknown'] : [])];
  return `missed (${missed.join(', ')})`;
}

/** A Markdown table of checks: one row per scenario × method. */
export function formatGoalChecks(checks: readonly GoalCheck[]): string {
  const pct = (x: number): string => `${(100 * x).toFixed(1)}`;
  const head = `| scenario | method | failed % | goal: failed ≤ % (${PRODUCT_GOAL.failedVsDefaultHpa} × default, ${PRODUCT_GOAL.failedVsTunedHpa} × tuned HPA) | cost ÷ tuned HPA (goal ≤ ${PRODUCT_GOAL.costVsTunedHpa}) | goal | clairvoyant failed % | gap to clairvoyant (points) | clairvoyant saturated at maxReplicas (s per episode) |`;
  const sep = '|---|---|---|---|---|---|---|---|---|';
  const ceiling = (c: GoalCheck): string => (!c.clairvoyant ? '–' : c.clairvoyant.atCeiling.length === 0 ? 'none' : c.clairvoyant.atCeiling.map((x) => `${x.service} ${x.seconds.toFixed(0)}`).join(', '));
  const lines = checks.map((c) => `| ${c.scenario} | ${c.method} | ${pct(c.failedShare)} | ${(100 * c.failedLimit).toFixed(2)} | ${c.costRatio === undefined ? '–' : c.costRatio.toFixed(2)} | ${goalVerdict(c)} | `
    + `${c.clairvoyant ? `${pct(c.clairvoyant.failedShare)}${c.clairvoyant.withinLimit ? '' : ' (above the goal)'}` : '–'} | ${c.clairvoyant ? `${c.clairvoyant.gap >= 0 ? '+' : '−'}${pct(Math.abs(c.clairvoyant.gap))}` : '–'} | ${ceiling(c)} |`);
  return `${[head, sep, ...lines].join('\n')}\n`;
}
