import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { canonicalPrettyJson } from '../../policies/canonical.ts';
import { KarmaError } from '../../policies/errors.ts';
import { intOpt, stringOpt, type Command } from '../cli/command.ts';
import { createSimulation, type AutoscalerMode } from '../twin/simulation.ts';
import { builtinScenarioNames, loadScenario, topologyOfScenario } from '../twin/scenario.ts';
import { builtinTopologyNames, loadTopology } from '../twin/topology.ts';
import type { EpisodeMetrics } from '../twin/metrics.ts';

const AUTOSCALERS: AutoscalerMode[] = ['hpa', 'none', 'static-max'];

export const simulateCommand: Command = {
  name: 'simulate',
  summary: 'run one seeded episode of the digital twin and print its quality metrics',
  usage: '--scenario NAME|FILE [--topology NAME|FILE] [--autoscaler hpa|none|static-max] [--seed N] [--duration S] [--out FILE.csv|FILE.json] [--json]',
  options: {
    scenario: { type: 'string', description: `built-in scenario (${builtinScenarioNames().join(', ')}) or scenario YAML file`, valueName: 'NAME|FILE' },
    topology: { type: 'string', description: `built-in topology (${builtinTopologyNames().join(', ')}) or topology YAML file; default: the scenario's`, valueName: 'NAME|FILE' },
    autoscaler: { type: 'string', description: 'hpa: emulated HPA as the topology defines it; none: fixed at minReplicas; static-max: fixed at maxReplicas', default: 'hpa', valueName: 'MODE' },
    seed: { type: 'string', description: 'random seed (same seed, same output bytes)', default: '1', valueName: 'N' },
    duration: { type: 'string', description: "episode length in seconds (default: the scenario's)", valueName: 'S' },
    out: { type: 'string', description: 'write the per-second, per-service time series (.csv or .json)', valueName: 'FILE' },
    json: { type: 'boolean', description: 'print the metrics as JSON instead of a table' },
  },
  details: `Examples:
  karma-hpa simulate --scenario ddos --seed 3
  karma-hpa simulate --topology online-boutique --scenario node-loss --autoscaler static-max --out run.csv
The metrics are defined in generator/twin/metrics.ts; scenarios and topologies in generator/twin/README.md.`,
  run: async (args, io) => {
    const cmd = 'simulate';
    const scenarioRef = stringOpt(args, 'scenario', cmd, true);
    const autoscaler = stringOpt(args, 'autoscaler', cmd) ?? 'hpa';
    if (!AUTOSCALERS.includes(autoscaler as AutoscalerMode)) {
      throw new KarmaError(`--autoscaler must be one of ${AUTOSCALERS.join(', ')}, got "${autoscaler}"`, { where: `karma-hpa ${cmd}` });
    }
    const seed = intOpt(args, 'seed', cmd, 1, 0, 0xffffffff);
    const out = stringOpt(args, 'out', cmd);
    if (out !== undefined && !/\.(csv|json)$/i.test(out)) {
      throw new KarmaError(`--out must name a .csv or .json file, got "${out}"`, { where: `karma-hpa ${cmd}` });
    }
    const scenario = loadScenario(scenarioRef, io.cwd);
    if (args.values.duration !== undefined) scenario.durationSeconds = intOpt(args, 'duration', cmd, scenario.durationSeconds, 1, 86_400);
    const topologyRef = stringOpt(args, 'topology', cmd);
    const topology = topologyRef !== undefined ? loadTopology(topologyRef, io.cwd) : topologyOfScenario(scenario);
    const sim = createSimulation({ topology, scenario, seed, autoscaler: autoscaler as AutoscalerMode, env: io.env });
    sim.run();
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
  lines.push('', `  ${'service'.padEnd(w)}  success  latency-ok  pending  avail  mean-replicas  max-p95-ms`);
  for (const n of names) {
    const s = m.services[n]!;
    lines.push(`  ${n.padEnd(w)}  ${pct(s.successRate).padStart(7)}  ${pct(s.latencyCompliance).padStart(10)}  ${pct(s.pendingRatio).padStart(7)}  ${pct(s.availability).padStart(5)}  ${s.meanReplicas.toFixed(2).padStart(13)}  ${s.maxP95LatencyMs.toFixed(0).padStart(10)}`);
  }
  return `${lines.join('\n')}\n`;
}
