/**
 * The "Provenance" section `karma-hpa generate` appends to the analysis report, so a reviewer sees in
 * the pull request what the bundle was made from and can reproduce it. Pure.
 */
import type { HpaBase } from '../../policies/bundle.ts';
import type { TrainingBudget } from './plan.ts';

export interface ProvenanceFacts {
  generatorVersion: string;
  topology: string;
  scenarios: string[];
  simulationDigest: string;
  twinDigest: string;
  traceDigests: string[];
  fittedTwin?: { digest: string; source: string; files: number };
  organisation: string;
  organisationDigest: string;
  seed: number;
  /** The seed of the training run kept (the seed itself unless training.candidates > 1). */
  trainingSeed: number;
  training: TrainingBudget;
  evaluationSeeds: number[];
  /** The HPA spec the agents act through, when it is not the topology's own. */
  hpaBase?: HpaBase;
}

const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

function behaviorText(b: NonNullable<HpaBase['behavior']>): string {
  const rules = (name: string, r: NonNullable<HpaBase['behavior']>['scaleUp']): string | undefined => (r
    ? `${name} window ${r.stabilizationWindowSeconds ?? 'default'} s${r.policies ? `, ${r.policies.map((p) => `${p.value}${p.type === 'Percent' ? ' %' : ' pods'}/${p.periodSeconds} s`).join(` or (${r.selectPolicy ?? 'Max'}) `)}` : ''}`
    : undefined);
  return [rules('scale-up', b.scaleUp), rules('scale-down', b.scaleDown)].filter(Boolean).join('; ');
}

export function provenanceSection(f: ProvenanceFacts): string {
  const lines = [
    '## Provenance',
    '',
    '| what | value |',
    '| --- | --- |',
    `| generator | karma-hpa ${f.generatorVersion} |`,
    `| simulated twin | \`${f.topology}\` with scenarios ${f.scenarios.map((s) => `\`${s}\``).join(', ')}: \`${f.simulationDigest}\` |`,
  ];
  if (f.fittedTwin) {
    lines.push(`| twin fitted from traces | \`${f.fittedTwin.source}\` (${count(f.fittedTwin.files, 'file')}): \`${f.fittedTwin.digest}\` |`);
  }
  lines.push(
    `| bundle twin digest | \`${f.twinDigest}\` |`,
    `| trace digests | ${f.traceDigests.length === 0 ? 'none (built-in twin)' : `${count(f.traceDigests.length, 'file')} (listed in the bundle's provenance)`} |`,
    `| organisation | \`${f.organisation}\`: \`${f.organisationDigest}\` |`,
    `| seed | ${f.seed} |`,
    `| HPA the agents act through | ${f.hpaBase ? `tuned HPA: CPU ${f.hpaBase.cpuTargetPercent} %, ${f.hpaBase.behavior ? `behavior ${behaviorText(f.hpaBase.behavior)}` : 'default behavior'} (written beside the bundle as \`hpa/*.yaml\`)` : 'the topology\'s own HPAs'} |`,
    `| training | MAPPO, ${count(f.training.iterations, 'iteration')} × ${count(f.training.episodesPerIteration, 'episode')} (${count(f.training.calibrationEpisodes, 'calibration episode')})${f.training.candidates > 1 ? `; ${f.training.candidates} runs, seeds ${f.seed}–${f.seed + f.training.candidates - 1}, seed ${f.trainingSeed} kept by validation` : ''} |`,
    `| evaluation seeds | ${count(f.evaluationSeeds.length, 'seed')} (${f.evaluationSeeds[0]}${f.evaluationSeeds.length > 1 ? ` … ${f.evaluationSeeds[f.evaluationSeeds.length - 1]}` : ''}), disjoint from the training seeds |`,
    '',
  );
  if (f.fittedTwin) {
    lines.push('The agents were trained and evaluated in the simulated twin above; the twin fitted from the traces is recorded here and in the bundle (twin digest, trace digests) with its fidelity report.', '');
  }
  return lines.join('\n');
}
