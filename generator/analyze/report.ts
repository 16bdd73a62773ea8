/**
 * The analysis report a reviewer reads in a pull request: `report.md` (GitHub-flavoured Markdown,
 * tables, relative links to plots/*.svg) and the plots themselves. Pure: artifacts + analysis in,
 * file name → content out; the command writes them.
 */
import type { ScenarioEvaluation } from '../../policies/bundle.ts';
import type { Analysis, RunArtifacts } from './analysis.ts';
import { actionText, conditionText, featureLabel } from './rules.ts';
import { barChart, dendrogramChart, formatValue, lineChart, stackCharts, type LineSeries } from './svg/index.ts';
import type { Episode } from './trajectory.ts';
import { CEILING_NOTE, formatGoalChecks, goalChecks, goalDescription, goalSentence } from '../train/goal.ts';

export interface RenderedReport {
  markdown: string;
  /** File name under plots/ → SVG document. */
  plots: Record<string, string>;
}

/** Series the behaviour plots know, in panel order, with axis labels. */
export const TIMELINE_PANELS: readonly { series: string; label: string; title: string }[] = [
  { series: 'offeredRate', label: 'requests/s', title: 'offered load' },
  { series: 'replicas', label: 'replicas', title: 'replicas (all services)' },
  { series: 'p95LatencyMs', label: 'ms', title: 'p95 latency at the entry' },
  { series: 'successRate', label: 'share', title: 'success rate per decision period' },
];

export function renderReport(artifacts: RunArtifacts, analysis: Analysis): RenderedReport {
  const plots: Record<string, string> = {};
  const md: string[] = [];
  const title = artifacts.title ?? 'Analysis report';
  md.push(`# ${escapeMd(title)}`, '');
  md.push(...summary(artifacts, analysis), '');

  md.push('## Evaluation', '');
  md.push(...evaluationSection(analysis, plots), '');

  const behaviour = behaviourPlots(artifacts.episodes, analysis);
  if (behaviour.length > 0) {
    md.push('## Behaviour over time', '');
    md.push('Mean over seeds (line) and the range over seeds (band); dashed vertical lines mark injected faults.', '');
    for (const b of behaviour) {
      plots[b.file] = b.svg;
      md.push(`### ${escapeMd(b.scenario)}`, '', `![${escapeMd(b.scenario)}: load, replicas, latency and success over time](plots/${b.file})`, '');
    }
  }

  if (artifacts.training && artifacts.training.iterations.length > 0) {
    md.push('## Training', '');
    plots['training.svg'] = trainingPlot(artifacts);
    md.push('![training curves](plots/training.svg)', '');
    const v = artifacts.training.validation;
    if (v && v.iterations.length > 0) {
      const k = v.iterations.length - 1;
      const failed = v.series['validation failed share']?.[k];
      const cost = v.series['validation cost ÷ tuned HPA']?.[k];
      if (failed !== undefined && cost !== undefined) {
        md.push(`Validated as deployed (greedy, on the training scenarios and the validation seeds, never the evaluation's) after iteration ${v.iterations[k]! + 1}: ${(100 * failed).toFixed(1)} % of requests failed, at ${cost.toFixed(2)} × the tuned HPA's replica-seconds.`, '');
      }
    }
  }

  md.push(...rolesSection(analysis, plots), '');
  md.push(...goalsSection(analysis), '');
  md.push(...fitSection(analysis), '');
  md.push(...rulesSection(analysis, plots), '');
  if (artifacts.fidelity) md.push(...fidelitySection(artifacts, plots), '');
  md.push(...definitions(), '');
  return { markdown: `${md.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`, plots };
}

// ---- sections -----------------------------------------------------------------------------------

function summary(artifacts: RunArtifacts, a: Analysis): string[] {
  const seeds = new Set(artifacts.episodes.map((e) => e.seed)).size;
  const agents = a.rules.map((r) => r.agent);
  const lines = [
    `- **Run**: ${artifacts.episodes.length} episodes — scenarios ${a.scenarios.map(code).join(', ') || '(none)'}; methods ${a.methods.map(code).join(', ') || '(none)'}; ${seeds} seed${seeds === 1 ? '' : 's'}.`,
  ];
  if (agents.length > 0) lines.push(`- **Agents** (${code(a.agentMethod ?? '')}): ${agents.map(code).join(', ')}.`);
  const baseline = a.evaluation.baseline;
  const mas = a.agentMethod;
  if (mas && baseline) {
    const m = overallSuccess(a.evaluation.scenarios, mas);
    const b = overallSuccess(a.evaluation.scenarios, baseline);
    if (m !== undefined && b !== undefined) lines.push(`- **Success rate** (mean over scenarios): ${code(mas)} ${pct(m)} vs ${code(baseline)} ${pct(b)} (${signedPoints(m - b)}).`);
  }
  if (a.roles) lines.push(`- **Role purity** ${pct(a.roles.purity)} (chance ${pct(a.roles.chancePurity)}, ${a.roles.units.length} decision streams in ${a.roles.k} clusters).`);
  if (a.alignment?.overall !== undefined) lines.push(`- **Role alignment** ${pct(a.alignment.overall)} of Action Guide activations followed.`);
  if (a.fit.overall !== undefined) lines.push(`- **Organisational fit** ${fmt(a.fit.overall)} (structural ${fmtOpt(a.fit.structural)}, functional ${fmtOpt(a.fit.functional)}; 0 = chance, 1 = perfect).`);
  if (a.rules.length > 0) {
    const below = a.rules.filter((r) => !(r.fidelity >= a.fidelityTarget));
    lines.push(below.length === 0
      ? `- **Distilled rules** reproduce the policies' decisions on held-out episodes with fidelity ≥ ${pct(a.fidelityTarget)} for every agent (depth ≤ ${Math.max(...a.rules.map((r) => r.depth))}).`
      : `- **Distilled rules do not reach ${pct(a.fidelityTarget)} fidelity for ${below.map((r) => code(r.agent)).join(', ')}** (${below.map((r) => pct(r.fidelity)).join(', ')}): their rule lists are approximations; the bundle should keep the network evaluator for them.`);
  }
  return lines;
}

function evaluationSection(a: Analysis, plots: Record<string, string>): string[] {
  const rows = a.evaluation.scenarios;
  if (rows.length === 0) return ['No evaluation results (no episode carried an outcome).'];
  const optional: { key: keyof ScenarioEvaluation; label: string; format: (v: number) => string }[] = [
    { key: 'latencyCompliance', label: 'latency compliance', format: pct },
    { key: 'pendingRatio', label: 'pending ratio', format: pct },
    { key: 'recoveryTimeSeconds', label: 'recovery (s)', format: (v) => v.toFixed(1) },
    { key: 'availability', label: 'availability', format: pct },
    { key: 'costReplicaSeconds', label: 'cost (replica·s)', format: (v) => formatValue(v, 4) },
    { key: 'resilience', label: 'resilience', format: (v) => v.toFixed(3) },
  ];
  const present = optional.filter((o) => rows.some((r) => typeof r[o.key] === 'number'));
  const out = [
    `Source: ${a.evaluationSource === 'trajectories' ? 'episode outcomes in the trajectories' : code(a.evaluationSource)}. Success rate = requests served within the latency SLO / requests offered; mean over seeds with a 95 % confidence interval (Student t).`,
    '',
    table(['scenario', 'method', 'seeds', 'success rate', '95 % CI', ...present.map((p) => p.label)], rows.map((r) => [
      code(r.scenario), code(r.method), r.seeds === undefined ? '' : String(r.seeds), pct(r.successRate),
      r.successRateCi95 ? `${pct(r.successRateCi95[0])} – ${pct(r.successRateCi95[1])}` : '',
      ...present.map((p) => (typeof r[p.key] === 'number' ? p.format(r[p.key] as number) : '')),
    ])),
  ];
  if (a.agentMethod) {
    const checks = goalChecks(rows.map((r) => ({
      scenario: r.scenario, method: r.method, failedShare: 1 - r.successRate,
      ...(r.costReplicaSeconds !== undefined ? { replicaSeconds: r.costReplicaSeconds } : {}),
      ...(r.saturatedAtCeiling ? { saturatedAtCeiling: r.saturatedAtCeiling } : {}),
    })), a.agentMethod);
    if (checks.length > 0) {
      out.push('', '### Goal', '', `The product's goal per scenario for ${code(a.agentMethod)}: ${goalDescription()} (replica-seconds); the clairvoyant bound (a planner that knows the future load and faults) shows how far from the best possible it is. Goal ${goalSentence(checks)}. ${CEILING_NOTE}`, '', formatGoalChecks(checks).trimEnd());
    }
  }
  const scenarios = [...new Set(rows.map((r) => r.scenario))].sort();
  const methods = [...new Set(rows.map((r) => r.method))].sort();
  plots['evaluation-success.svg'] = barChart({
    title: 'Success rate by scenario (mean over seeds, 95 % CI)',
    categories: scenarios,
    groups: methods.map((m) => {
      const find = (s: string) => rows.find((r) => r.scenario === s && r.method === m);
      return { name: m, values: scenarios.map((s) => find(s)?.successRate ?? Number.NaN), intervals: scenarios.map((s) => find(s)?.successRateCi95) };
    }),
    yLabel: 'success rate',
    yDomain: [0, 1],
  });
  out.push('', '![success rate by scenario](plots/evaluation-success.svg)');
  return out;
}

function rolesSection(a: Analysis, plots: Record<string, string>): string[] {
  const out = ['## Inferred roles', ''];
  const r = a.roles;
  if (!r) return [...out, 'No agent decision streams were recorded, so roles cannot be inferred.'];
  out.push(
    `Each decision stream (agent × service × episode; ${r.units.length} streams${r.skippedUnits > 0 ? `, a stratified sample — ${r.skippedUnits} more not clustered` : ''}) is compared with every other by dynamic time warping of its ${r.actionSource} replica changes (Sakoe–Chiba band ${r.band} decisions), clustered with average linkage, and the tree is cut at k = ${r.k}, the number of assigned roles.`,
    '',
    table(['measure', 'value'], [
      ['role purity', pct(r.purity)],
      ['chance purity (shuffled roles)', pct(r.chancePurity)],
      ['structural fit (chance-corrected purity)', fmt(r.structuralFit)],
    ]),
    '',
    `The same tree cut finer — roles that split into several behaviours (e.g. busy and quiet episodes) show here: ${r.finerCuts.map((c) => `${c.clusters} clusters: purity ${pct(c.purity)} (chance ${pct(c.chancePurity)})`).join('; ')}.`,
    '',
    table(['cluster', 'streams', 'assigned roles in it', 'scale up', 'hold', 'scale down', 'mean change'], r.clusterSummaries.map((c) => [
      String(c.cluster), String(c.size),
      Object.entries(c.roles).sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).map(([role, n]) => `${code(role)} ${n}`).join(', '),
      pct(c.upShare), pct(c.holdShare), pct(c.downShare), signed(c.meanChange),
    ])),
  );
  const cutHeight = cutHeightFor(r.tree.merges.map((m) => m.height), r.k);
  plots['roles-dendrogram.svg'] = dendrogramChart({
    title: `Decision streams clustered by behaviour (DTW, average linkage), cut at k = ${r.k}`,
    merges: r.tree.merges,
    leafLabels: r.units.map((u) => `${u.agent}/${u.service} ${u.scenario}#${u.seed}`),
    leafGroups: r.units.map((u) => u.role),
    cutHeight,
    cutLabel: `k = ${r.k}`,
    yLabel: 'DTW distance (replicas)',
  });
  out.push('', '![dendrogram of decision streams, leaves coloured by assigned role](plots/roles-dendrogram.svg)');
  if (a.actionProfiles.length > 0) {
    const changes = [...new Set(a.actionProfiles.flatMap((p) => Object.keys(p.shares).map(Number)))].sort((x, y) => x - y);
    out.push('', '### Action profiles', '', `Share of each agent's ${a.actionProfiles[0]!.source} decisions by replica change, over all its services and episodes.`, '');
    out.push(table(['agent', 'role', 'decisions', ...changes.map((c) => (c > 0 ? `+${c}` : String(c))), 'mean change'], a.actionProfiles.map((p) => [
      code(p.agent), code(p.role), String(p.decisions), ...changes.map((c) => (p.shares[c] ? pct(p.shares[c]!) : '')), signed(p.meanChange),
    ])));
  }
  const al = a.alignment;
  out.push('', '### Role alignment', '');
  if (!al) out.push('Not computed: the run has no organisation (`organisation.yaml` or a bundle), so the Action Guides are unknown.');
  else {
    out.push(`For every decision at which a rule of the agent's Role Action Guide applied, whether the replica change was one the rule allows. Overall: **${al.overall === undefined ? 'n/a (no rule ever applied)' : pct(al.overall)}**; agents at or above ${pct(al.agentThreshold)}: ${al.alignedAgentShare === undefined ? 'n/a' : pct(al.alignedAgentShare)}.`, '');
    const rows: string[][] = [];
    for (const ag of al.agents) {
      for (const rule of ag.rules) {
        rows.push([code(ag.agent), code(ag.role), `${code(rule.rule)} (${rule.kind})`,
          rule.evaluable ? String(rule.activations) : '—',
          rule.evaluable ? (rule.activations > 0 ? pct(rule.followed / rule.activations) : 'never applied') : `not evaluable: observation lacks ${rule.missingFeatures.map(code).join(', ')}`]);
      }
    }
    out.push(table(['agent', 'role', 'rule', 'decisions it applied', 'followed'], rows));
  }
  return out;
}

function goalsSection(a: Analysis): string[] {
  const out = ['## Inferred goals', ''];
  const g = a.goals;
  if (!g) return [...out, 'No agent decision streams were recorded.'];
  out.push(`States each agent visited, clustered with k-means++ on standardised observations. An episode is successful when its success rate ≥ ${pct(g.successThreshold)}; a state cluster is an **inferred goal** when successful trajectories spend at least ${pct(g.goalVisitProbability)} of their decisions in it, and no less than trajectories overall do.`, '');
  for (const ag of g.agents) {
    out.push(`### ${code(ag.agent)} (${code(ag.role)})`, '');
    out.push(`${ag.trajectories} trajectories: ${ag.successful} successful, ${ag.failed} not. Functional fit: ${ag.functionalFit === undefined ? (ag.failed === 0 || ag.successful === 0 ? 'n/a — needs both successful and unsuccessful episodes' : 'n/a — no goal state') : `**${fmt(ag.functionalFit)}** (time in goal states, successful − unsuccessful trajectories: ${signedPoints(ag.separation ?? Number.NaN)}; chance ${signedPoints(ag.chanceSeparation ?? Number.NaN)})`}.`, '');
    const states = [...ag.states].sort((x, y) => Number(y.isGoal) - Number(x.isGoal) || (y.pSuccess ?? 0) - (x.pSuccess ?? 0) || x.cluster - y.cluster);
    out.push(table(['state', 'goal', 'characterised by', 'share of all decisions', 'time share, successful', 'time share, unsuccessful', 'time share, all'], states.map((s) => [
      String(s.cluster), s.isGoal ? '**yes**' : '', escapeMd(s.description), pct(s.occupancy), pctOpt(s.pSuccess), pctOpt(s.pFailure), pct(s.pAll),
    ])), '');
  }
  return out;
}

function fitSection(a: Analysis): string[] {
  return [
    '## Organisational fit', '',
    'How well the learned behaviour matches the organisation, each score corrected for chance with a null model from the data (shuffled role labels; shuffled success labels): 1 = perfect, 0 = what chance gives, below 0 = worse than chance.', '',
    table(['fit', 'score', 'meaning'], [
      ['structural', fmtOpt(a.fit.structural), 'agents with the same role behave alike (role purity vs shuffled roles)'],
      ['functional', fmtOpt(a.fit.functional), 'successful episodes reach the inferred goal states more than failed ones (vs shuffled outcomes)'],
      ['overall', fmtOpt(a.fit.overall), 'mean of the defined scores'],
    ]),
  ];
}

function rulesSection(a: Analysis, plots: Record<string, string>): string[] {
  const out = ['## Distilled rules', ''];
  if (a.rules.length === 0) return [...out, 'No agent decision streams were recorded.'];
  out.push(`Per agent a CART decision tree (Gini, depth ≤ ${Math.max(...a.rules.map((r) => r.depth), 1)}) imitates the policy's decisions on the recorded states; fidelity is the share of decisions in held-out episodes that the exported rule list (as the sidecar evaluates it) reproduces. The majority baseline is what always answering the most common decision would score.`, '');
  const depths = [...new Set(a.rules.flatMap((r) => r.fidelityByDepth.map((f) => f.maxDepth)))].sort((x, y) => x - y);
  out.push(table(['agent', 'decisions imitated', 'fidelity', `≥ ${pct(a.fidelityTarget)}?`, 'majority baseline', 'depth', 'rules', 'held-out decisions', ...depths.map((k) => `fidelity, depth ≤ ${k}`)], a.rules.map((r) => [
    code(r.agent), r.source, pct(r.fidelity), r.fidelity >= a.fidelityTarget ? 'yes' : '**no**', pct(r.majorityBaseline), String(r.depth), String(r.rules.length), String(r.testSamples),
    ...depths.map((k) => {
      const f = r.fidelityByDepth.find((x) => x.maxDepth === k);
      return f ? pct(f.fidelity) : '';
    }),
  ])));
  plots['rules-fidelity.svg'] = barChart({
    title: 'Rule fidelity on held-out episodes',
    categories: a.rules.map((r) => r.agent),
    groups: [
      { name: 'distilled rules', values: a.rules.map((r) => r.fidelity) },
      { name: 'majority baseline', values: a.rules.map((r) => r.majorityBaseline), color: '#999999' },
    ],
    yLabel: 'share of decisions reproduced',
    yDomain: [0, 1],
    showValues: true,
    referenceLines: [{ y: a.fidelityTarget, label: `target ${pct(a.fidelityTarget)}` }],
  });
  out.push('', '![rule fidelity per agent](plots/rules-fidelity.svg)', '');
  for (const r of a.rules) {
    out.push(`### ${code(r.agent)} (${code(r.role)})`, '');
    if (!(r.fidelity >= a.fidelityTarget)) out.push(`> **These rules reproduce only ${pct(r.fidelity)} of the held-out decisions** (target ${pct(a.fidelityTarget)}); read them as a summary of the policy, not as the policy.`, '');
    out.push(...r.rules.map((rule, i) => `${i + 1}. if ${rule.conditions.length === 0 ? 'always' : rule.conditions.map((c) => escapeMd(conditionText(c))).join(' **and** ')} → **${actionText(rule.action)}** (support ${pct(rule.support)})`));
    out.push(`${r.rules.length + 1}. otherwise → **hold**`, '');
    if (r.importance.length > 0) {
      out.push(`Top features (share of the impurity decrease): ${r.importance.slice(0, 5).map((f) => `${escapeMd(featureLabel(f.feature).label)} (${code(f.feature)}) ${pct(f.importance)}`).join('; ')}.`, '');
    }
    const cf = a.counterfactuals.find((c) => c.agent === r.agent);
    if (cf) {
      out.push(`Counterfactual checks on ${cf.rows[0]?.states ?? 0} recorded states (decisions of the ${cf.decider}):`, '');
      out.push(table(['what changes', 'features moved', 'mean change before', 'after', 'decides more', 'decides less', 'unchanged'], cf.rows.map((row) => [
        escapeMd(row.perturbation), row.features.length > 0 ? row.features.map(code).join(', ') : 'not observed', signed(row.meanBefore), signed(row.meanAfter), pct(row.up), pct(row.down), pct(row.same),
      ])), '');
    }
  }
  return out;
}

function fidelitySection(artifacts: RunArtifacts, plots: Record<string, string>): string[] {
  const f = artifacts.fidelity!;
  const out = ['## Twin fidelity', ''];
  if (f.accuracy && Object.keys(f.accuracy).length > 0) {
    const names = Object.keys(f.accuracy).sort();
    out.push('Share of multi-step predictions within tolerance on the held-back slice of the traces, per predictor.', '');
    out.push(table(['predictor', 'accuracy'], names.map((n) => [code(n), pct(f.accuracy![n]!)])), '');
    plots['twin-fidelity.svg'] = barChart({ title: 'Twin prediction accuracy on held-back traces', categories: names, groups: [{ name: 'accuracy', values: names.map((n) => f.accuracy![n]!) }], yDomain: [0, 1], yLabel: 'accuracy', showValues: true });
    out.push('![twin accuracy per predictor](plots/twin-fidelity.svg)', '');
  }
  const last = f.horizons?.[f.horizons.length - 1];
  if (last?.meanOverServices && Object.keys(last.meanOverServices).length > 0) {
    const metrics = Object.keys(last.meanOverServices).sort();
    const predictors = [...new Set(metrics.flatMap((m) => Object.keys(last.meanOverServices![m]!)))].sort();
    out.push(`Accuracy per metric at the ${last.horizon}-step horizon (mean over services; MAE in the metric's unit in brackets)${last.replayHitRate !== undefined ? `; ${pct(last.replayHitRate)} of hybrid steps answered by replay` : ''}.`, '');
    out.push(table(['metric', ...predictors], metrics.map((m) => [code(m), ...predictors.map((p) => {
      const v = last.meanOverServices![m]![p];
      return v ? `${pct(v.accuracy)} (${formatValue(v.mae)})` : '';
    })])), '');
  }
  if (f.checks && f.checks.length > 0) out.push(table(['check', 'passed', 'detail'], f.checks.map((c) => [escapeMd(c.name), c.passed ? 'yes' : '**no**', escapeMd(c.detail)])));
  if (out.length === 2) out.push('The fidelity report holds no accuracy figures or checks.');
  return out;
}

function definitions(): string[] {
  return [
    '## Definitions', '',
    '- **Role purity** = Σ over clusters of the count of its most frequent assigned role / number of decision streams.',
    '- **Chance purity** = mean purity of the same clusters against randomly permuted role labels; **structural fit** = (purity − chance) / (1 − chance).',
    '- **Role alignment** = decisions at which an Action Guide rule applied and the replica change was one it allows / decisions at which a rule applied (rules whose features the agent does not observe are left out and listed).',
    '- **Inferred goal** = a state cluster in which successful trajectories spend at least ε of their decisions, and no less than trajectories overall; **functional fit** = (time in goal states of successful − unsuccessful trajectories − chance) / (1 − chance), chance from permuted success labels.',
    '- **Rule fidelity** = share of decisions in held-out episodes for which the exported rule list gives the same replica change as the policy.',
    '- **Counterfactual check**: the same recorded states with one aspect changed; "decides more/less" = share of states whose replica change went up/down.',
    '',
    'Details and the reasoning behind each choice: `generator/analyze/README.md` in karma-hpa.',
  ];
}

// ---- plots --------------------------------------------------------------------------------------

function behaviourPlots(episodes: readonly Episode[], a: Analysis): { scenario: string; file: string; svg: string }[] {
  const out: { scenario: string; file: string; svg: string }[] = [];
  for (const scenario of a.scenarios) {
    const inScenario = episodes.filter((e) => e.scenario === scenario && e.timeline);
    if (inScenario.length === 0) continue;
    const panels: string[] = [];
    TIMELINE_PANELS.forEach((panel, pi) => {
      const series: LineSeries[] = [];
      for (const method of a.methods) {
        const eps = inScenario.filter((e) => e.method === method && e.timeline!.series[panel.series]);
        if (eps.length === 0) continue;
        const agg = aggregateSeries(eps, panel.series);
        series.push({ name: method, x: agg.x, y: agg.mean, band: eps.length > 1 ? { lo: agg.lo, hi: agg.hi } : undefined, step: panel.series === 'replicas', dashed: method === a.evaluation.baseline });
      }
      if (series.length === 0) return;
      const faults = inScenario[0]!.faults ?? [];
      panels.push(lineChart({
        title: `${scenario}: ${panel.title}`,
        series,
        xLabel: 'time (s)',
        yLabel: panel.label,
        height: 170,
        yDomain: panel.series === 'successRate' ? [0, 1] : undefined,
        markers: faults.map((f) => ({ x: f.atSeconds, label: f.service ? `${f.kind} (${f.service})` : f.kind })),
        idPrefix: `p${pi}-`,
      }));
    });
    if (panels.length > 0) out.push({ scenario, file: `scenario-${fileSafe(scenario)}.svg`, svg: stackCharts(`${scenario}: MAS vs baseline over time`, panels) });
  }
  return out;
}

/** Mean, min and max over episodes at each time index (episodes may differ in length: the shortest wins). */
function aggregateSeries(eps: readonly Episode[], name: string): { x: Float32Array; mean: Float64Array; lo: Float64Array; hi: Float64Array } {
  const n = Math.min(...eps.map((e) => e.timeline!.timeSeconds.length));
  const x = eps[0]!.timeline!.timeSeconds.subarray(0, n);
  const mean = new Float64Array(n);
  const lo = new Float64Array(n).fill(Infinity);
  const hi = new Float64Array(n).fill(-Infinity);
  for (const e of eps) {
    const s = e.timeline!.series[name]!;
    for (let t = 0; t < n; t++) {
      const v = s[t]!;
      mean[t]! += v / eps.length;
      if (v < lo[t]!) lo[t] = v;
      if (v > hi[t]!) hi[t] = v;
    }
  }
  return { x, mean, lo, hi };
}

function trainingPlot(artifacts: RunArtifacts): string {
  const t = artifacts.training!;
  // One panel per series; the deployed agents' validations have their own x: the iterations that had one.
  const panelsOf = (curves: { iterations: number[]; series: Record<string, number[]>; units?: Record<string, string> }, prefix: string): string[] =>
    Object.keys(curves.series).sort().map((name, i) => lineChart({
      title: name,
      series: [{ name, x: curves.iterations, y: curves.series[name]! }],
      xLabel: 'iteration',
      yLabel: curves.units?.[name] ?? name,
      height: 150,
      idPrefix: `${prefix}${i}-`,
    }));
  return stackCharts('Training curves', [...panelsOf(t, 't'), ...(t.validation ? panelsOf(t.validation, 'v') : [])]);
}

/** A height between the (n−k)-th and (n−k+1)-th merge: where cutting leaves k clusters. */
function cutHeightFor(heights: readonly number[], k: number): number | undefined {
  const n = heights.length + 1;
  const idx = n - k;
  if (idx <= 0 || idx >= n) return undefined;
  const below = heights[idx - 1]!;
  const above = heights[idx]!;
  return Number.isFinite(above) ? (below + above) / 2 : below;
}

// ---- Markdown helpers ---------------------------------------------------------------------------

function overallSuccess(rows: readonly ScenarioEvaluation[], method: string): number | undefined {
  const xs = rows.filter((r) => r.method === method).map((r) => r.successRate).filter(Number.isFinite);
  return xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined;
}

export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|').replace(/\n/g, ' ')).join(' | ')} |`;
  return [line(header), `|${header.map(() => ' --- ').join('|')}|`, ...rows.map(line)].join('\n');
}

export function escapeMd(text: string): string {
  return text.replace(/([\\`*_[\]<>|])/g, '\\$1');
}

function code(text: string): string {
  return `\`${text.replace(/`/g, "'")}\``;
}

export function pct(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  return `${(v * 100).toFixed(1)} %`;
}

function pctOpt(v: number | undefined): string {
  return v === undefined ? 'n/a' : pct(v);
}

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toFixed(3) : 'n/a';
}

function fmtOpt(v: number | undefined): string {
  return v === undefined ? 'n/a' : fmt(v);
}

function signed(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  const s = v.toFixed(2);
  return v > 0 ? `+${s}` : s === '-0.00' ? '0.00' : s;
}

function signedPoints(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  return `${v >= 0 ? '+' : '−'}${Math.abs(v * 100).toFixed(1)} points`;
}

function fileSafe(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'scenario';
}
