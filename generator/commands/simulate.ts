import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { canonicalPrettyJson } from '../../policies/canonical.ts';
import { KarmaError } from '../../policies/errors.ts';
import { intOpt, stringOpt, type Command } from '../cli/command.ts';
import { createSimulation, type AutoscalerMode } from '../twin/simulation.ts';
import { builtinScenarioNames, builtinScenarioTopologies, loadScenario, topologyOfScenario } from '../twin/scenario.ts';
import { builtinTopologyNames, loadTopology } from '../twin/topology.ts';
import { meanConfidence95, SATURATION_SHARE, type EpisodeMetrics } from '../twin/metrics.ts';

const AUTOSCALERS: AutoscalerMode[] = ['hpa', 'none', 'static-max'];

export const simulateCommand: Command = {
  name: 'simulate',
  summary: 'run one seeded episode of the digital twin and print its quality metrics',
  usage: '--scenario NAME|FILE [--topology NAME|FILE] [--autoscaler hpa|none|static-max] [--seed N | --seeds LIST] [--duration S] [--out FILE.csv|FILE.json] [--json]',
  options: {
    scenario: { type: 'string', description: `built-in scenario (${builtinScenarioNames().join(', ')}), <topology>/<name> (topologies ${builtinScenarioTopologies().join(', ')}), or scenario YAML file; a plain name takes the --topology's variant when it has one`, valueName: 'NAME|FILE' },
    topology: { type: 'string', description: `built-in topology (${builtinTopologyNames().join(', ')}) or topology YAML file; default: the scenario's`, valueName: 'NAME|FILE' },
    autoscaler: { type: 'string', description: 'hpa: emulated HPA as the topology defines it; none: fixed at minReplicas; static-max: fixed at maxReplicas', default: 'hpa', valueName: 'MODE' },
    seed: { type: 'string', description: 'random seed, default 1 (same seed, same output bytes)', valueName: 'N' },
    seeds: { type: 'string', description: 'run one episode per seed (e.g. 1-5 or 1,4,9) and print each plus mean ± 95 % confidence interval', valueName: 'LIST' },
    duration: { type: 'string', description: "episode length in seconds (default: the scenario's)", valueName: 'S' },
    out: { type: 'string', description: 'write the per-second, per-service time series (.csv or .json)', valueName: 'FILE' },
    json: { type: 'boolean', description: 'print the metrics as JSON instead of a table' },
  },
  details: `Examples:
  karma-hpa simulate --scenario ddos --seed 3
  karma-hpa simulate --topology online-boutique --scenario node-loss --autoscaler static-max --out run.csv
  karma-hpa simulate --scenario online-boutique/mixed --seeds 1-5
The metrics are defined in generator/twin/metrics.ts; scenarios and topologies in generator/twin/README.md.`,
  run: async (args, io) => {
    const cmd = 'simulate';
    const scenarioRef = stringOpt(args, 'scenario', cmd, true);
    const autoscaler = stringOpt(args, 'autoscaler', cmd) ?? 'hpa';
    if (!AUTOSCALERS.includes(autoscaler as AutoscalerMode)) {
      throw new KarmaError(`--autoscaler must be one of ${AUTOSCALERS.join(', ')}, got "${autoscaler}"`, { where: `karma-hpa ${cmd}` });
    }
    const seed = intOpt(args, 'seed', cmd, 1, 0, 0xffffffff);
    const seedList = stringOpt(args, 'seeds', cmd);
    const seeds = seedList !== undefined ? parseSeedList(seedList, cmd) : undefined;
    if (seeds !== undefined && args.values.seed !== undefined) {
      throw new KarmaError('give either --seed or --seeds, not both', { where: `karma-hpa ${cmd}` });
    }
    const out = stringOpt(args, 'out', cmd);
    if (out !== undefined && !/\.(csv|json)$/i.test(out)) {
      throw new KarmaError(`--out must name a .csv or .json file, got "${out}"`, { where: `karma-hpa ${cmd}` });
    }
    if (out !== undefined && seeds !== undefined) {
      throw new KarmaError('--out writes the series of one episode; it cannot be combined with --seeds', { where: `karma-hpa ${cmd}`, hint: 'use --seed N --out FILE per episode' });
    }
    // The topology first: a built-in scenario name then resolves to that topology's variant.
    const topologyRef = stringOpt(args, 'topology', cmd);
    const explicitTopology = topologyRef !== undefined ? loadTopology(topologyRef, io.cwd) : undefined;
    const scenario = loadScenario(scenarioRef, io.cwd, { topology: explicitTopology?.name });
    if (args.values.duration !== undefined) scenario.durationSeconds = intOpt(args, 'duration', cmd, scenario.durationSeconds, 1, 86_400);
    const topology = explicitTopology ?? topologyOfScenario(scenario);
    const runOne = (s: number) => createSimulation({ topology, scenario, seed: s, autoscaler: autoscaler as AutoscalerMode, env: io.env }).run();
    if (seeds !== undefined) {
      const episodes = seeds.map((s) => ({ seed: s, metrics: runOne(s).episodeMetrics() }));
      const header = { topology: topology.name, scenario: scenario.name, autoscaler, seeds, durationSeconds: scenario.durationSeconds };
      const summary = summariseSeeds(episodes.map((e) => e.metrics));
      if (args.values.json) io.out(canonicalPrettyJson({ ...header, summary: roundDeep(summary), episodes: roundDeep(episodes) }));
      else io.out(seedsTable(header, episodes, summary));
      return 0;
    }
    const sim = runOne(seed);
    const metrics = sim.episodeMetrics();
    if (out !== undefined) {
      const path = resolve(io.cwd, out);
      writeFileSync(path, out.toLowerCase().endsWith('.json') ? sim.series.toJson() : sim.series.toCsv());
    }
    const header = { topology: topology.name, scenario: scenario.name, autoscaler, seed, durationSeconds: scenario.durationSeconds };
    if (args.values.json) io.out(canonicalPrettyJson({ ...header, metrics: roundDeep(metrics) }));
    else io.out(metricsTable(header, metrics));
    return 0;
  },
};

function roundDeep(v: unknown): unknown {
  if (typeof v === 'number') return Math.round(v * 1e6) / 1e6;
  if (Array.isArray(v)) return v.map(roundDeep);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, roundDeep(x)]));
  return v;
}

const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;

/** A plain-text summary: episode metrics, fault recoveries, then one line per service. */
export function metricsTable(header: { topology: string; scenario: string; autoscaler: string; seed: number; durationSeconds: number }, m: EpisodeMetrics): string {
  const lines = [
    `${header.scenario} on ${header.topology}, autoscaler ${header.autoscaler}, seed ${header.seed}, ${header.durationSeconds} s`,
    '',
    `  success rate          ${pct(m.successRate)}`,
    `  end-to-end success    ${pct(m.endToEndSuccessRate)}`,
    `  latency compliance    ${pct(m.latencyCompliance)}`,
    `  pending ratio         ${pct(m.pendingRatio)}`,
    `  availability          ${pct(m.availability)}`,
    `  entry availability    ${pct(m.entryAvailability)}`,
    `  pod failure rate      ${pct(m.podFailureRate)}`,
    `  mean recovery         ${m.meanRecoverySeconds === null ? 'n/a (no faults)' : `${m.meanRecoverySeconds.toFixed(0)} s`}`,
    `  replica-seconds       ${m.replicaSeconds.toFixed(0)}`,
    `  CPU request-seconds   ${m.cpuRequestSeconds.toFixed(1)} core·s`,
    `  resilience reward     ${m.resilience.toFixed(4)}`,
  ];
  if (m.recovery.length > 0) {
    lines.push('', '  fault onsets:');
    for (const r of m.recovery) {
      lines.push(`    ${String(r.onsetSeconds).padStart(5)} s  ${r.kind.padEnd(20)} ${r.target.padEnd(16)} ${r.recoverySeconds === null ? `not recovered (≥ ${r.censoredSeconds} s)` : `recovered in ${r.recoverySeconds} s`}`);
    }
  }
  const names = Object.keys(m.services);
  const w = Math.max(7, ...names.map((n) => n.length));
  lines.push('', `  ${'service'.padEnd(w)}  success  latency-ok  pending  avail  mean-replicas  max-p95-ms  saturated-s  at-ceiling-s`);
  for (const n of names) {
    const s = m.services[n]!;
    lines.push(`  ${n.padEnd(w)}  ${pct(s.successRate).padStart(7)}  ${pct(s.latencyCompliance).padStart(10)}  ${pct(s.pendingRatio).padStart(7)}  ${pct(s.availability).padStart(5)}  ${s.meanReplicas.toFixed(2).padStart(13)}  ${s.maxP95LatencyMs.toFixed(0).padStart(10)}  ${String(s.saturatedSeconds).padStart(11)}  ${String(s.saturatedAtCeilingSeconds).padStart(12)}`);
  }
  lines.push('', `  saturated-s: seconds with offered load ≥ ${100 * SATURATION_SHARE} % of what the ready pods serve; at-ceiling-s: of those, at maxReplicas`);
  return `${lines.join('\n')}\n`;
}

/** `1-5`, `1,4,9`, `1-3,8` → seeds in the given order; at most 1000, each a valid seed, no repeats. */
export function parseSeedList(text: string, cmdName = 'simulate'): number[] {
  const seeds: number[] = [];
  const fail = (why: string): never => {
    throw new KarmaError(`--seeds ${why}, got "${text}"`, { where: `karma-hpa ${cmdName}`, hint: 'e.g. --seeds 1-5 or --seeds 1,4,9' });
  };
  for (const part of text.split(',').map((p) => p.trim())) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) fail('must be seeds or ranges separated by commas');
    const from = Number(m![1]);
    const to = m![2] !== undefined ? Number(m![2]) : from;
    if (to < from) fail(`has a decreasing range ${part}`);
    if (to > 0xffffffff) fail('has a seed above 4294967295');
    if (seeds.length + (to - from + 1) > 1000) fail('lists more than 1000 seeds');
    for (let x = from; x <= to; x++) {
      if (seeds.includes(x)) fail(`repeats seed ${x}`);
      seeds.push(x);
    }
  }
  return seeds;
}

/** The episode metrics summarised over seeds (mean ± 95 % CI, metrics.ts meanConfidence95). */
const SUMMARY_FIELDS = ['successRate', 'endToEndSuccessRate', 'latencyCompliance', 'pendingRatio', 'availability', 'meanRecoverySeconds', 'replicaSeconds', 'resilience'] as const;
type SummaryField = (typeof SUMMARY_FIELDS)[number];
export type SeedSummary = Record<SummaryField, ReturnType<typeof meanConfidence95> | null>;

export function summariseSeeds(metrics: readonly EpisodeMetrics[]): SeedSummary {
  const out = {} as SeedSummary;
  for (const f of SUMMARY_FIELDS) {
    const values = metrics.map((m) => m[f]).filter((v): v is number => v !== null);
    // Recovery is null when the scenario injects nothing.
    out[f] = values.length === metrics.length && values.length > 0 ? meanConfidence95(values) : null;
  }
  return out;
}

/** One row per seed, then the mean and the 95 % confidence half-width of each column. */
export function seedsTable(header: { topology: string; scenario: string; autoscaler: string; seeds: number[]; durationSeconds: number }, episodes: { seed: number; metrics: EpisodeMetrics }[], summary: SeedSummary): string {
  const columns: { field: SummaryField; label: string; percent: boolean }[] = [
    { field: 'successRate', label: 'success', percent: true },
    { field: 'endToEndSuccessRate', label: 'e2e-success', percent: true },
    { field: 'latencyCompliance', label: 'latency-ok', percent: true },
    { field: 'pendingRatio', label: 'pending', percent: true },
    { field: 'availability', label: 'avail', percent: true },
    { field: 'meanRecoverySeconds', label: 'recovery-s', percent: false },
    { field: 'replicaSeconds', label: 'replica-s', percent: false },
    { field: 'resilience', label: 'resilience', percent: false },
  ];
  const fmt = (field: SummaryField, v: number | null): string => {
    if (v === null || Number.isNaN(v)) return 'n/a';
    if (columns.find((c) => c.field === field)!.percent) return (v * 100).toFixed(1);
    return field === 'resilience' ? v.toFixed(4) : v.toFixed(0);
  };
  const labels = columns.map((c) => (c.percent ? `${c.label} %` : c.label));
  const widths = labels.map((l) => Math.max(l.length, 8));
  const row = (first: string, cells: string[]): string => `  ${first.padEnd(6)}${cells.map((c, i) => c.padStart(widths[i]! + 2)).join('')}`;
  const lines = [
    `${header.scenario} on ${header.topology}, autoscaler ${header.autoscaler}, ${header.seeds.length} seed${header.seeds.length === 1 ? '' : 's'} (${header.seeds.join(', ')}), ${header.durationSeconds} s each`,
    '',
    row('seed', labels),
  ];
  for (const e of episodes) lines.push(row(String(e.seed), columns.map((c) => fmt(c.field, e.metrics[c.field]))));
  lines.push(row('mean', columns.map((c) => fmt(c.field, summary[c.field]?.mean ?? null))));
  lines.push(row('±95%', columns.map((c) => fmt(c.field, summary[c.field]?.halfWidth ?? null))));
  const sr = summary.successRate!;
  lines.push('', `  success rate ${(sr.mean * 100).toFixed(1)} % ± ${Number.isNaN(sr.halfWidth) ? 'n/a' : (sr.halfWidth * 100).toFixed(1)} (mean ± 95 % CI over ${sr.n} seeds, Student t)`);
  return `${lines.join('\n')}\n`;
}
