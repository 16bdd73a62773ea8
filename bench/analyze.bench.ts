/**
 * Analysis of a typical run: 4 agents × 5 scenarios × 5 seeds × 600 decisions (plus the default-HPA
 * baseline episodes), from trajectories to report.md and plots. Target: under 60 s.
 */
import { loadOrganisation } from '../policies/organisation.ts';
import { analyseRun } from '../generator/analyze/analysis.ts';
import { renderReport } from '../generator/analyze/report.ts';
import { parseTrajectories, serialiseTrajectories } from '../generator/analyze/trajectory.ts';
import { syntheticRun } from '../test/fixtures/analyze/synthetic-run.ts';
import { recordEpisodes } from '../generator/analyze/record.ts';
import { chainedServicesExample } from '../generator/bundle/example.ts';
import { policiesOf } from '../generator/analyze/run-directory.ts';
import { loadScenario } from '../generator/twin/scenario.ts';
import { loadTopology } from '../generator/twin/topology.ts';

type Emit = (record: Record<string, unknown>) => void;

export async function run(emit: Emit): Promise<void> {
  const generated = syntheticRun({ steps: 600, seeds: [1, 2, 3, 4, 5] });
  const t0 = performance.now();
  const text = serialiseTrajectories(generated);
  const episodes = parseTrajectories(text, 'bench.json');
  const t1 = performance.now();
  const artifacts = { title: 'bench', episodes, organisation: loadOrganisation('default') };
  const analysis = analyseRun(artifacts, { seed: 1 });
  const t2 = performance.now();
  const report = renderReport(artifacts, analysis);
  const t3 = performance.now();
  const context = {
    agents: new Set(episodes.flatMap((e) => e.agents.map((s) => s.agent))).size,
    streams: episodes.reduce((n, e) => n + e.agents.length, 0),
    episodes: episodes.length,
    decisionsPerStream: 600,
  };
  emit({ bench: 'analyze.trajectory-io', unit: 's', value: round((t1 - t0) / 1000), bytes: text.length, ...context });
  emit({ bench: 'analyze.analysis', unit: 's', value: round((t2 - t1) / 1000), ...context });
  emit({ bench: 'analyze.report', unit: 's', value: round((t3 - t2) / 1000), plots: Object.keys(report.plots).length, markdownBytes: report.markdown.length });
  emit({ bench: 'analyze.total', unit: 's', value: round((t3 - t0) / 1000), target: 60, ...context });
  emit({ bench: 'analyze.role-purity', unit: 'ratio', value: round(analysis.roles!.purity), chance: round(analysis.roles!.chancePurity), streamsClustered: analysis.roles!.units.length });
  // The same pipeline on episodes recorded in the twin (chained services, the example bundle's agents).
  const bundle = chainedServicesExample();
  const t4 = performance.now();
  const recorded = recordEpisodes({
    topology: loadTopology('chained-services'),
    scenarios: ['bottleneck', 'ddos', 'pod-failures', 'resource-contention', 'mixed'].map((s) => loadScenario(s)),
    seeds: [1, 2, 3, 4, 5],
    trained: [{ name: 'mas', organisation: bundle.spec.organisation, agents: bundle.spec.agents, roleMode: 'hard' }],
  });
  const t5 = performance.now();
  const twinArtifacts = { title: 'twin', episodes: recorded, organisation: bundle.spec.organisation, policies: policiesOf(bundle) };
  renderReport(twinArtifacts, analyseRun(twinArtifacts, { seed: 1 }));
  const t6 = performance.now();
  emit({ bench: 'analyze.twin-record', unit: 's', value: round((t5 - t4) / 1000), episodes: recorded.length, streams: recorded.reduce((n, e) => n + e.agents.length, 0) });
  emit({ bench: 'analyze.twin-analysis', unit: 's', value: round((t6 - t5) / 1000), target: 60 });
  emit({ bench: 'analyze.rule-fidelity-min', unit: 'ratio', value: round(Math.min(...analysis.rules.map((r) => r.fidelity))), perAgent: Object.fromEntries(analysis.rules.map((r) => [r.agent, round(r.fidelity)])) });
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
