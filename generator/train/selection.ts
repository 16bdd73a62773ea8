/**
 * Validation: the agents as deployed (greedy, under the guards) on the training scenarios and the
 * validation seeds, which are disjoint from the evaluation seeds, against a reference's cost (the tuned
 * HPA's). Training validates every few iterations (the `validation` of a curve's iteration), and
 * `train --seeds` keeps one of several runs by it: MAPPO's outcome depends on the seed (the same
 * organisation gave 7.0 % or 16.0 % failed requests on mixed), and the evaluation stays honest because
 * it never sees the validation seeds. Rule: among the runs whose mean cost is at most `maxCostRatio` ×
 * the reference's, the lowest mean failed share; when none is, the cheapest.
 */
import type { Scenario } from '../twin/scenario.ts';
import type { Topology } from '../twin/topology.ts';
import { runEpisode, type Method } from './baselines/index.ts';
import { PRODUCT_GOAL } from './goal.ts';

export interface ScenarioValidation {
  scenario: string;
  failedShare: number;
  /** Replica-seconds ÷ the reference's on the same scenario and seeds. */
  costRatio: number;
}

export interface Validation {
  meanFailedShare: number;
  meanCostRatio: number;
  scenarios: ScenarioValidation[];
}

export interface SeedValidation extends Validation {
  seed: number;
}

/** The reference's replica-seconds per scenario, summed over the seeds: measured once, shared by validations. */
export interface ReferenceCosts {
  seeds: number[];
  replicaSeconds: Record<string, number>;
}

export function referenceCosts(reference: Method, topology: Topology, scenarios: readonly Scenario[], seeds: readonly number[]): ReferenceCosts {
  const replicaSeconds: Record<string, number> = {};
  for (const sc of scenarios) replicaSeconds[sc.name] = seeds.reduce((acc, seed) => acc + runEpisode(reference, topology, sc, seed).replicaSeconds, 0);
  return { seeds: [...seeds], replicaSeconds };
}

/** A method on every scenario × seed, against the reference's cost on the same scenarios and seeds. */
export function validate(method: Method, reference: Method | ReferenceCosts, topology: Topology, scenarios: readonly Scenario[], seeds: readonly number[]): Validation {
  const ref = 'replicaSeconds' in reference ? reference : referenceCosts(reference, topology, scenarios, seeds);
  if (ref.seeds.length !== seeds.length || ref.seeds.some((s, i) => s !== seeds[i])) throw new Error('validate: the reference costs were measured on other seeds');
  const rows = scenarios.map((sc) => {
    let failed = 0;
    let cost = 0;
    for (const seed of seeds) {
      const m = runEpisode(method, topology, sc, seed);
      failed += 1 - m.successRate;
      cost += m.replicaSeconds;
    }
    const refCost = ref.replicaSeconds[sc.name] ?? 0;
    return { scenario: sc.name, failedShare: failed / seeds.length, costRatio: refCost > 0 ? cost / refCost : Infinity };
  });
  const mean = (f: (r: ScenarioValidation) => number): number => rows.reduce((a, r) => a + f(r), 0) / Math.max(1, rows.length);
  return { meanFailedShare: mean((r) => r.failedShare), meanCostRatio: mean((r) => r.costRatio), scenarios: rows };
}

/** One line for progress output: "validation failed 6.2 % at 1.08 × tuned HPA". */
export function validationText(v: Validation, reference = 'tuned HPA'): string {
  return `validation failed ${(100 * v.meanFailedShare).toFixed(1)} % at ${v.meanCostRatio.toFixed(2)} × ${reference}`;
}

/** The run to keep (see the module comment); ties go to the cheaper run, then the lower seed. */
export function selectSeed<R extends SeedValidation>(runs: readonly R[], maxCostRatio: number): R {
  if (runs.length === 0) throw new Error('selectSeed needs at least one run');
  const affordable = runs.filter((r) => r.meanCostRatio <= maxCostRatio);
  const pool = affordable.length > 0 ? affordable : runs;
  const key = (r: R): [number, number, number] => (affordable.length > 0 ? [r.meanFailedShare, r.meanCostRatio, r.seed] : [r.meanCostRatio, r.meanFailedShare, r.seed]);
  return [...pool].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka[0] - kb[0] || ka[1] - kb[1] || ka[2] - kb[2];
  })[0]!;
}

/** The cost a kept run may have, × the reference's: the product's goal (goal.ts). */
export const DEFAULT_MAX_COST_RATIO = PRODUCT_GOAL.costVsTunedHpa;

/** What `selection.json` records: the rule, the seeds validated on, every run's validation and the one kept. */
export interface SelectionRecord {
  rule: string;
  validationSeeds: number[];
  maxCostRatio: number;
  selected: number;
  runs: SeedValidation[];
}

/** The run to keep (selectSeed) and the record of why. */
export function selectionRecord<R extends SeedValidation>(runs: readonly R[], maxCostRatio: number, validationSeeds: readonly number[]): { best: R; record: SelectionRecord } {
  const best = selectSeed(runs, maxCostRatio);
  return {
    best,
    record: {
      rule: `lowest mean failed share among runs with mean cost ≤ ${maxCostRatio} × the tuned HPA's (else the cheapest), on the validation seeds`,
      validationSeeds: [...validationSeeds],
      maxCostRatio,
      selected: best.seed,
      runs: runs.map((r) => ({ seed: r.seed, meanFailedShare: r.meanFailedShare, meanCostRatio: r.meanCostRatio, scenarios: r.scenarios })),
    },
  };
}
