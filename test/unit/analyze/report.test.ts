import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { loadOrganisation } from '../../../policies/organisation.ts';
import { main } from '../../../generator/cli/main.ts';
import type { Io } from '../../../generator/cli/command.ts';
import { analyseRun, type RunArtifacts } from '../../../generator/analyze/analysis.ts';
import { renderReport } from '../../../generator/analyze/report.ts';
import { serialiseTrajectories } from '../../../generator/analyze/trajectory.ts';
import { FEATURES, SCENARIOS, syntheticRun } from '../../fixtures/analyze/synthetic-run.ts';
import { findAll, parseSvg, seriesNames } from './svg-xml.ts';

const organisation = loadOrganisation('default');
const episodes = syntheticRun({ steps: 80, seeds: [1, 2, 3, 5] });
const training = { iterations: [0, 1, 2, 3, 4], series: { meanReturn: [-9, -6, -4, -3, -2.5], entropy: [1.9, 1.7, 1.5, 1.4, 1.35] }, units: { meanReturn: 'return per episode' } };
const fidelity = {
  accuracy: { persistence: 0.61, physics: 0.72, hybrid: 0.86 },
  checks: [{ name: 'hybrid beats persistence', passed: true, detail: '0.86 > 0.61' }],
  horizons: [{ horizon: 10, replayHitRate: 0.25, meanOverServices: { cpu: { persistence: { mae: 12.5, accuracy: 0.6 }, hybrid: { mae: 4.25, accuracy: 0.9 } } } }],
};
const artifacts: RunArtifacts = { title: 'Chained services <synthetic>', episodes, organisation, training, fidelity };
const analysis = analyseRun(artifacts, { seed: 1, goals: { successThreshold: 0.98 } });
const report = renderReport(artifacts, analysis);

describe('analysis report', () => {
  it('links only plots it writes, and writes only plots it links', () => {
    const linked = [...report.markdown.matchAll(/\]\(plots\/([^)]+)\)/g)].map((m) => m[1]).sort();
    expect(linked).toEqual(Object.keys(report.plots).sort());
    expect(linked).toEqual([
      'evaluation-success.svg', 'roles-dendrogram.svg', 'rules-fidelity.svg',
      ...SCENARIOS.map((s) => `scenario-${s}.svg`).sort(), 'training.svg', 'twin-fidelity.svg',
    ].sort());
  });

  it('writes every plot as a well-formed SVG with the expected series', () => {
    for (const [name, svg] of Object.entries(report.plots)) expect(() => parseSvg(svg), name).not.toThrow();
    // Each scenario plot: four panels, each with the MAS and the baseline.
    const ddos = report.plots['scenario-ddos.svg']!;
    const panels = findAll(parseSvg(ddos), (n) => n.name === 'svg' && n.attrs.y !== undefined);
    expect(panels).toHaveLength(4);
    expect(seriesNames(ddos)).toEqual(Array(4).fill(['default-hpa', 'karma-mas']).flat());
    expect(seriesNames(report.plots['evaluation-success.svg']!)).toEqual(['default-hpa', 'karma-mas']);
    expect(seriesNames(report.plots['training.svg']!)).toEqual(['entropy', 'meanReturn']);
    expect(seriesNames(report.plots['rules-fidelity.svg']!)).toEqual(['distilled rules', 'majority baseline']);
    const leaves = findAll(parseSvg(report.plots['roles-dendrogram.svg']!), (n) => n.attrs.class === 'leaf');
    expect(leaves).toHaveLength(analysis.roles!.units.length);
    expect(new Set(leaves.map((l) => l.attrs['data-group']))).toEqual(new Set(['bottleneck-manager', 'ddos-manager', 'failure-manager', 'resource-manager']));
    // Clip-path ids stay unique inside a stacked document.
    const ids = findAll(parseSvg(ddos), (n) => n.attrs.id !== undefined).map((n) => n.attrs.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('shows role purity, alignment, fit, the evaluation table and the rule fidelity verdict', () => {
    const md = report.markdown;
    expect(md).toContain('# Chained services \\<synthetic\\>');
    expect(md).toContain(`| role purity | ${(analysis.roles!.purity * 100).toFixed(1)} % |`);
    expect(md).toMatch(/- \*\*Role purity\*\* \d+\.\d % \(chance \d+\.\d %, \d+ decision streams in 4 clusters\)\./);
    expect(md).toContain('### Role alignment');
    expect(md).toContain('| `ddos-manager` | `ddos-manager` | `pre-scale-on-surge` (hard) |');
    expect(md).toContain('## Organisational fit');
    expect(md).toMatch(/\| `ddos` \| `karma-mas` \| 4 \| \d+\.\d % \| \d+\.\d % – \d+\.\d % \|/);
    for (const r of analysis.rules) {
      expect(r.fidelity).toBeGreaterThanOrEqual(0.9);
      expect(md).toContain(`| \`${r.agent}\` | greedy | ${(r.fidelity * 100).toFixed(1)} % | yes |`);
    }
    expect(md).toContain('reproduce the policies\' decisions on held-out episodes with fidelity ≥ 90.0 % for every agent');
    expect(md).toContain('| failed pods +1 | `failedPods` |');
    expect(md).toContain('## Twin fidelity');
    expect(md).toContain('### Action profiles');
    for (const p of analysis.actionProfiles) {
      expect(Object.values(p.shares).reduce((x, y) => x + y, 0)).toBeCloseTo(1, 12);
      expect(p.decisions).toBe(episodes.flatMap((e) => e.agents).filter((st) => st.agent === p.agent).reduce((n, st) => n + st.actions.length, 0));
      expect(md).toContain(`| \`${p.agent}\` | \`${p.role}\` | ${p.decisions} |`);
    }
    expect(md).toContain('| `hybrid` | 86.0 % |');
    expect(md).toContain('Accuracy per metric at the 10-step horizon (mean over services; MAE in the metric\'s unit in brackets); 25.0 % of hybrid steps answered by replay.');
    expect(md).toContain('| `cpu` | 90.0 % (4.25) | 60.0 % (12.5) |');
  });

  it('checks the product goal per scenario against both HPA baselines and states the gap to the clairvoyant bound', () => {
    const agent = analysis.agentMethod!;
    const e = (scenario: string, method: string, successRate: number, costReplicaSeconds: number) => ({ scenario, method, seeds: 5, successRate, costReplicaSeconds });
    const withBaselines = { ...analysis, evaluation: { ...analysis.evaluation, scenarios: [
      e('bottleneck', 'default-hpa', 0.654, 4470), e('bottleneck', 'tuned-hpa', 0.968, 6600), e('bottleneck', 'clairvoyant', 0.999, 5800), e('bottleneck', agent, 0.986, 7000),
      e('ddos', 'default-hpa', 0.7, 5000), e('ddos', 'tuned-hpa', 0.919, 7000), { ...e('ddos', 'clairvoyant', 0.944, 7200), saturatedAtCeiling: [{ service: 'B', seconds: 164 }, { service: 'A', seconds: 118 }] }, e('ddos', agent, 0.922, 7500),
    ] } };
    const md = renderReport(artifacts, withBaselines).markdown;
    expect(md).toContain('### Goal');
    expect(md).toContain('Goal met on 1 of 2 scenarios (bottleneck); where missed, the clairvoyant bound fails more than the goal allows too on ddos (at the replica ceiling of B, A).');
    expect(md).toContain('held back even the best plan: only a higher ceiling adds that capacity.');
    expect(md).toContain(`| bottleneck | ${agent} | 1.4 | 1.60 | 1.06 | met | 0.1 | +1.3 | none |`);
    expect(md).toContain(`| ddos | ${agent} | 7.8 | 4.05 | 1.07 | missed (failed share) | 5.6 (above the goal) | +2.2 | B 164, A 118 |`);
    // The synthetic run alone has no tuned HPA: no goal to check, no section.
    expect(report.markdown).not.toContain('### Goal');
  });
  it('says plainly when the rules do not reach the fidelity target', () => {
    const shallow = analyseRun({ ...artifacts, training: undefined, fidelity: undefined }, { seed: 1, rules: { maxDepth: 1 }, fidelityTarget: 0.999 });
    const md = renderReport(artifacts, shallow).markdown;
    const below = shallow.rules.filter((r) => r.fidelity < 0.999);
    expect(below.length).toBeGreaterThan(0);
    expect(md).toContain(`**Distilled rules do not reach 99.9 % fidelity for ${below.map((r) => `\`${r.agent}\``).join(', ')}**`);
    expect(md).toContain('read them as a summary of the policy, not as the policy');
  });

  it('renders a run without agent streams (baselines only) and says what is missing', () => {
    const baselines = episodes.filter((e) => e.method === 'default-hpa');
    const a = analyseRun({ episodes: baselines });
    const r = renderReport({ episodes: baselines }, a);
    expect(r.markdown).toContain('No agent decision streams were recorded, so roles cannot be inferred.');
    expect(Object.keys(r.plots)).toContain('scenario-ddos.svg');
    for (const svg of Object.values(r.plots)) parseSvg(svg);
  });

  it('is byte-identical for the same inputs', () => {
    const again = renderReport(artifacts, analyseRun(artifacts, { seed: 1, goals: { successThreshold: 0.98 } }));
    expect(again.markdown).toBe(report.markdown);
    expect(again.plots).toEqual(report.plots);
  });
});

function capture(cwd: string): Io & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => void (out += t), err: (t) => void (err += t), isTty: false, cwd, env: {}, now: () => 0, stdout: () => out, stderr: () => err };
}

describe('karma-hpa analyze', () => {
  it('reads a run directory and writes report.md, plots and analysis.json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'karma-analyze-'));
    mkdirSync(join(dir, 'run', 'trajectories', 'karma-mas'), { recursive: true });
    mkdirSync(join(dir, 'run', 'trajectories', 'default-hpa'), { recursive: true });
    const small = syntheticRun({ steps: 40, seeds: [1, 2], scenarios: ['ddos', 'mixed'] });
    writeFileSync(join(dir, 'run', 'trajectories', 'karma-mas', 'all.json'), serialiseTrajectories(small.filter((e) => e.method === 'karma-mas')));
    writeFileSync(join(dir, 'run', 'trajectories', 'default-hpa', 'all.json'), serialiseTrajectories(small.filter((e) => e.method === 'default-hpa')));
    writeFileSync(join(dir, 'run', 'training.json'), JSON.stringify(training));
    writeFileSync(join(dir, 'run', 'organisation.yaml'), toYaml(organisation));
    const io = capture(dir);
    expect(await main(['analyze', '--run', 'run', '--out', 'report'], io)).toBe(0);
    expect(io.stdout()).toMatch(/wrote \d+ files/);
    const md = readFileSync(join(dir, 'report', 'report.md'), 'utf8');
    expect(md).toContain('## Inferred roles');
    expect(md).toContain('### Role alignment');
    const plots = readdirSync(join(dir, 'report', 'plots')).sort();
    expect(plots).toEqual(['evaluation-success.svg', 'roles-dendrogram.svg', 'rules-fidelity.svg', 'scenario-ddos.svg', 'scenario-mixed.svg', 'training.svg']);
    for (const p of plots) parseSvg(readFileSync(join(dir, 'report', 'plots', p), 'utf8'));
    const summary = JSON.parse(readFileSync(join(dir, 'report', 'analysis.json'), 'utf8'));
    expect(summary.agents.map((a: { name: string }) => a.name)).toEqual(['bottleneck-manager', 'ddos-manager', 'failure-manager', 'resource-manager']);
    expect(summary.agents[0].rules.every((r: { conditions: { feature: string }[] }) => r.conditions.every((c) => FEATURES.includes(c.feature)))).toBe(true);
  });

  it('explains a bad run directory instead of failing with a stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'karma-analyze-bad-'));
    const io = capture(dir);
    expect(await main(['analyze', '--run', 'nowhere', '--out', 'x'], io)).toBe(2);
    expect(io.stderr()).toMatch(/nowhere: run directory does not exist[\s\S]*hint: a run directory holds trajectories/);
    mkdirSync(join(dir, 'r', 'trajectories'), { recursive: true });
    writeFileSync(join(dir, 'r', 'trajectories', 'x.json'), '{"apiVersion":"karma-hpa.io/v1alpha1","kind":"TrajectorySet","episodes":[{"scenario":"s"}]}');
    const bad = capture(dir);
    expect(await main(['analyze', '--run', 'r', '--out', 'x'], bad)).toBe(2);
    expect(bad.stderr()).toMatch(/x\.json: invalid TrajectorySet[\s\S]*\/episodes\/0/);
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });
});

describe('karma-hpa analyze on a training directory', () => {
  it('records trajectories in the twin from policies.json, reads curves.json and summary.json, and analyses them', async () => {
    const { chainedServicesExample } = await import('../../../generator/bundle/example.ts');
    const bundle = chainedServicesExample();
    const dir = mkdtempSync(join(tmpdir(), 'karma-analyze-train-'));
    mkdirSync(join(dir, 'train'));
    writeFileSync(join(dir, 'train', 'policies.json'), JSON.stringify({ method: 'mas', roleMode: 'hard', organisation: bundle.spec.organisation, agents: bundle.spec.agents }));
    writeFileSync(join(dir, 'train', 'curves.json'), JSON.stringify({ converged: false, iterations: [
      { iteration: 0, meanReturn: 100, stdReturn: 5, policyLoss: -0.02, valueLoss: 300, entropy: 1.9, approxKl: 0.01, clipFraction: 0.1, envSteps: 40, summary: { successRate: 0.7 } },
      { iteration: 1, meanReturn: 120, stdReturn: 4, policyLoss: -0.03, valueLoss: 250, entropy: 1.8, approxKl: 0.01, clipFraction: 0.08, envSteps: 80, summary: { successRate: 0.8 },
        validation: { meanFailedShare: 0.062, meanCostRatio: 1.08, scenarios: [{ scenario: 'ddos', failedShare: 0.062, costRatio: 1.08 }] } },
    ] }));
    writeFileSync(join(dir, 'train', 'summary.json'), JSON.stringify({ topology: 'chained-services', summary: [
      { scenario: 'ddos', method: 'mas', seeds: 2, successRate: { mean: 0.9, halfWidth: 0.05 }, recoverySeconds: { mean: 40, halfWidth: 3 }, replicaSeconds: { mean: 9000, halfWidth: 10 } },
      { scenario: 'ddos', method: 'default-hpa', seeds: 2, successRate: { mean: 0.7, halfWidth: 0.02 } },
      { scenario: 'ddos', method: 'tuned-hpa', seeds: 2, successRate: { mean: 0.92, halfWidth: 0.01 }, replicaSeconds: { mean: 8500, halfWidth: 10 } },
      // A malformed entry is left out; the rest reaches the goal table.
      { scenario: 'ddos', method: 'clairvoyant', seeds: 2, successRate: { mean: 0.944, halfWidth: 0.01 }, replicaSeconds: { mean: 8600, halfWidth: 10 },
        saturatedAtCeiling: [{ service: 'B', seconds: 164 }, { service: 'A' }] },
    ] }));
    const io = capture(dir);
    expect(await main(['analyze', '--run', 'train', '--topology', 'chained-services', '--scenarios', 'ddos', '--seeds', '2', '--out', 'report'], io)).toBe(0);
    expect(io.stderr()).toMatch(/recorded 1 scenario × 2 seeds into .*recorded\.json/);
    const md = readFileSync(join(dir, 'report', 'report.md'), 'utf8');
    expect(md).toContain('Source: `summary.json`');
    expect(md).toContain('| `ddos` | `mas` | 2 | 90.0 % | 85.0 % – 95.0 % | 40.0 | 9000 |');
    expect(md).toContain('the clairvoyant bound fails more than the goal allows too on ddos (at the replica ceiling of B).');
    expect(md).toMatch(/\| ddos \| mas \| 10\.0 \| 4\.00 \| 1\.06 \| missed \(failed share\) \| 5\.6 \(above the goal\) \| \+4\.4 \| B 164 \|/);
    expect(md).toMatch(/\| `ddos-manager` \| policy \| /);
    expect(md).toContain('![training curves](plots/training.svg)');
    // Only iteration 1 was validated: its own panels, and one sentence with the last validation.
    expect(seriesNames(readFileSync(join(dir, 'report', 'plots', 'training.svg'), 'utf8'))).toEqual(['approxKl', 'clipFraction', 'entropy', 'meanReturn', 'policyLoss', 'training successRate', 'valueLoss', 'validation cost ÷ tuned HPA', 'validation failed share']);
    expect(md).toContain('after iteration 2: 6.2 % of requests failed, at 1.08 × the tuned HPA\'s replica-seconds.');
    expect(seriesNames(readFileSync(join(dir, 'report', 'plots', 'scenario-ddos.svg'), 'utf8'))).toEqual(Array(4).fill(['default-hpa', 'mas']).flat());
    // The distilled rules go into the bundle as they are: the sealed bundle validates.
    const { sealBundle, validateBundle } = await import('../../../policies/bundle.ts');
    const summary = JSON.parse(readFileSync(join(dir, 'report', 'analysis.json'), 'utf8')) as { agents: { name: string; rules: unknown[]; ruleFidelity: number }[] };
    const withRules = structuredClone(bundle);
    for (const a of withRules.spec.agents) {
      const distilled = summary.agents.find((x) => x.name === a.name)!;
      a.rules = distilled.rules as typeof a.rules;
      a.ruleFidelity = Math.round(distilled.ruleFidelity * 1000) / 1000;
    }
    expect(withRules.spec.agents.some((a) => (a.rules ?? []).length > 0)).toBe(true);
    const verdict = validateBundle(sealBundle(withRules));
    expect(verdict.ok ? [] : verdict.errors).toEqual([]);
  });
});
