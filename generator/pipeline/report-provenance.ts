/**
 * The "Provenance" section `karma-hpa generate` appends to the analysis report, so a reviewer sees in
 * the pull request what the bundle was made from and can reproduce it. Pure.
 */
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
  training: TrainingBudget;
  evaluationSeeds: number[];
}

const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

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
    `| training | MAPPO, ${count(f.training.iterations, 'iteration')} × ${count(f.training.episodesPerIteration, 'episode')} (${count(f.training.calibrationEpisodes, 'calibration episode')}) |`,
    `| evaluation seeds | ${count(f.evaluationSeeds.length, 'seed')} (${f.evaluationSeeds[0]}${f.evaluationSeeds.length > 1 ? ` … ${f.evaluationSeeds[f.evaluationSeeds.length - 1]}` : ''}), disjoint from the training seeds |`,
    '',
  );
  if (f.fittedTwin) {
    lines.push('The agents were trained and evaluated in the simulated twin above; the twin fitted from the traces is recorded here and in the bundle (twin digest, trace digests) with its fidelity report.', '');
  }
  return lines.join('\n');
}
