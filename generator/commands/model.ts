import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve, basename } from 'node:path';
import { KarmaError } from '../../policies/errors.ts';
import { intOpt, listOpt, stringOpt, type Command, type Io, type ParsedArgs } from '../cli/command.ts';
import { Progress } from '../cli/progress.ts';
import { readCsvTraceDirectory } from '../model/readers/csv-directory.ts';
import { findingPlace } from '../model/assemble.ts';
import { parseTraceMapping, readPrometheusExport, readPrometheusLive } from '../model/readers/prometheus.ts';
import { buildTwin, predictionSeries, serialiseTwin, type TwinDocument } from '../model/twin.ts';
import { fidelityPlot } from '../model/plot.ts';
import { DEFAULT_TRANSITION_CONFIG, type TransitionConfig } from '../model/transition.ts';
import { PREDICTORS } from '../model/fidelity.ts';
import type { TraceSet } from '../model/types.ts';

const NAME = 'model';

function parseTime(raw: string, option: string): number {
  const n = Number(raw);
  if (Number.isFinite(n)) return n;
  const ms = Date.parse(raw);
  if (Number.isNaN(ms)) throw new KarmaError(`--${option} must be unix seconds or an RFC 3339 time, got "${raw}"`, { where: `karma-hpa ${NAME}` });
  return ms / 1000;
}

async function loadTraces(args: ParsedArgs, io: Io, strict: boolean): Promise<{ trace: TraceSet; source: string }> {
  const traces = stringOpt(args, 'traces', NAME);
  const url = stringOpt(args, 'prometheus', NAME);
  if (url) {
    const mappingPath = resolve(io.cwd, stringOpt(args, 'mapping', NAME, true));
    let text: string;
    try {
      text = readFileSync(mappingPath, 'utf8');
    } catch (e) {
      throw new KarmaError(`cannot read the trace mapping: ${(e as Error).message}`, { where: mappingPath });
    }
    const mapping = parseTraceMapping(text, mappingPath);
    const start = parseTime(stringOpt(args, 'start', NAME, true), 'start');
    const end = parseTime(stringOpt(args, 'end', NAME, true), 'end');
    const step = intOpt(args, 'step', NAME, 60, 1, 86400);
    const saveTo = stringOpt(args, 'save-responses', NAME);
    const trace = await readPrometheusLive(url, mapping, { start, end, stepSeconds: step }, { strict, ...(saveTo ? { saveTo: resolve(io.cwd, saveTo) } : {}) });
    return { trace, source: url };
  }
  if (!traces) throw new KarmaError('give --traces DIR (metric CSVs) or MAPPING.yaml (saved query_range responses), or --prometheus URL --mapping FILE', { where: `karma-hpa ${NAME}`, hint: `run 'karma-hpa ${NAME} --help'` });
  const path = resolve(io.cwd, traces);
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    throw new KarmaError(`--traces ${traces} does not exist`, { where: `karma-hpa ${NAME}`, hint: 'give a directory of <pod>_metric.csv files or a trace mapping YAML file' });
  }
  const trace = isDir ? readCsvTraceDirectory(path, { strict }) : readPrometheusExport(path, { strict });
  return { trace, source: basename(path) };
}

function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1000 || a < 0.001 ? v.toExponential(2) : v.toPrecision(3);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

export function fidelityText(twin: TwinDocument): string {
  const out: string[] = [];
  const f = twin.fidelity;
  const iso = (t: number): string => new Date(t * 1000).toISOString().replace('.000Z', 'Z');
  out.push(`Fidelity on the held-back slice ${iso(f.evaluation.fromTime)} – ${iso(f.evaluation.toTime)} (${f.evaluation.starts} start steps; fit on the first ${Math.round(twin.provenance.trainFraction * 100)} %)`);
  out.push('Inputs known at prediction time: each service\'s workload and the fault schedule for every predicted step; the state is predicted.');
  for (const h of f.horizons) {
    out.push('', `${h.horizon}-step-ahead (${h.horizon * twin.topology.stepSeconds} s); MAE in the metric's unit, MAPE excludes real zeros, replay answered ${(h.replayHitRate * 100).toFixed(1)} % of hybrid steps`);
    const rows: string[][] = [['service', 'metric', 'MAE persist', 'MAE physics', 'MAE hybrid', 'MAPE hybrid', 'R² hybrid', 'acc persist', 'acc hybrid']];
    for (const service of twin.topology.services) {
      for (const metric of ['cpu', 'latencyP90'] as const) {
        const s = h.services[service]?.[metric];
        if (!s) continue;
        rows.push([service, metric, fmt(s.persistence.mae), fmt(s.physics.mae), fmt(s.hybrid.mae), fmt(s.hybrid.mape), fmt(s.hybrid.r2), fmt(s.persistence.accuracy), fmt(s.hybrid.accuracy)]);
      }
    }
    for (const [metric, m] of Object.entries(h.meanOverServices)) {
      rows.push(['(mean over services)', metric, fmt(m.persistence.mae), fmt(m.physics.mae), fmt(m.hybrid.mae), '', '', fmt(m.persistence.accuracy), fmt(m.hybrid.accuracy)]);
    }
    out.push(table(rows));
  }
  out.push('', `Accuracy (share of ${f.horizons[f.horizons.length - 1]!.horizon}-step predictions within ±10 % of max(|real|, training IQR), all services and metrics): ${PREDICTORS.map((p) => `${p} ${(f.accuracy[p] * 100).toFixed(1)} %`).join(', ')}`);
  out.push('', 'Checks:');
  for (const c of f.checks) out.push(`  ${c.passed ? 'PASS' : 'FAIL'}  ${c.name} (${c.detail})`);
  const effects = twin.model.faultEffects;
  if (effects.length > 0) {
    out.push('', 'Fault effects on the injected service (mean after − before, window ' + twin.model.config.faultWindowSeconds + ' s):');
    const rows: string[][] = [['fault type', 'n', 'Δ cpu (m)', 'Δ P90 (s)', 'P90 ratio', 'Δ success']];
    for (const e of effects) rows.push([e.type, String(e.injections), fmt(e.metrics.cpu?.change), fmt(e.metrics.latencyP90?.change), fmt(e.metrics.latencyP90?.ratio), fmt(e.metrics.successRate?.change)]);
    out.push(table(rows));
  }
  const counts = { error: 0, warning: 0, info: 0 };
  for (const d of twin.findings) counts[d.severity]++;
  out.push('', `Data findings: ${counts.warning} warning(s), ${counts.info} info (all in twin.json under "findings")`);
  for (const d of twin.findings.filter((x) => x.severity !== 'info')) out.push(`  ${d.severity} [${d.kind}] ${findingPlace(d)}: ${d.message}`);
  return `${out.join('\n')}\n`;
}

export const modelCommand: Command = {
  name: NAME,
  summary: 'fit the twin (physics + replay + MLP ensemble) on traces and measure its fidelity',
  usage: '--traces DIR|MAPPING.yaml --out twin.json [--json] [--plot FILE.svg] [--seed N] [--strict]',
  options: {
    traces: { type: 'string', description: 'directory of <pod>_metric.csv files, or a mapping YAML naming saved query_range responses', valueName: 'PATH' },
    prometheus: { type: 'string', description: 'read live from this Prometheus base URL (with --mapping, --start, --end)', valueName: 'URL' },
    mapping: { type: 'string', description: 'trace mapping YAML for --prometheus', valueName: 'FILE' },
    start: { type: 'string', description: 'range start (unix seconds or RFC 3339) for --prometheus', valueName: 'TIME' },
    end: { type: 'string', description: 'range end for --prometheus', valueName: 'TIME' },
    step: { type: 'string', description: 'query step in seconds for --prometheus (default 60)', valueName: 'SECONDS' },
    'save-responses': { type: 'string', description: 'with --prometheus: also save each response and a file mapping here', valueName: 'DIR' },
    out: { type: 'string', description: 'where to write twin.json', valueName: 'FILE' },
    json: { type: 'boolean', description: 'print the fidelity report and findings as JSON instead of tables' },
    plot: { type: 'string', description: 'write an SVG of predicted vs real series', valueName: 'FILE.svg' },
    seed: { type: 'string', description: 'seed for the MLP ensemble (default 1)', valueName: 'N' },
    strict: { type: 'boolean', description: 'refuse traces that need repairs instead of repairing them with a warning' },
    ensemble: { type: 'string', description: `MLP ensemble size (default ${DEFAULT_TRANSITION_CONFIG.ensembleSize})`, valueName: 'N' },
    epochs: { type: 'string', description: `maximum training epochs per member (default ${DEFAULT_TRANSITION_CONFIG.train.epochs})`, valueName: 'N' },
    hidden: { type: 'string', description: `hidden layer widths (default ${DEFAULT_TRANSITION_CONFIG.hidden.join(',')})`, valueName: 'W,W,W' },
  },
  details: `Fits on the first 75 % of the trace in time and evaluates 1- and 10-step-ahead predictions on the rest
against a persistence baseline. Definitions of every number: generator/model/README.md.
example: karma-hpa model --traces shared/data/traces/online-boutique-nezha --out twin.json --plot fidelity.svg`,
  async run(args, io) {
    const outPath = resolve(io.cwd, stringOpt(args, 'out', NAME, true));
    const strict = args.values.strict === true;
    const seed = intOpt(args, 'seed', NAME, 1, 0, 2 ** 32 - 1);
    const hiddenRaw = listOpt(args, 'hidden');
    const hidden = hiddenRaw.length > 0 ? hiddenRaw.map((h) => Number(h)) : DEFAULT_TRANSITION_CONFIG.hidden;
    if (hidden.some((h) => !Number.isInteger(h) || h < 1 || h > 1024)) throw new KarmaError(`--hidden must be widths between 1 and 1024, got "${hiddenRaw.join(',')}"`, { where: `karma-hpa ${NAME}` });
    const config: Partial<TransitionConfig> = {
      hidden,
      ensembleSize: intOpt(args, 'ensemble', NAME, DEFAULT_TRANSITION_CONFIG.ensembleSize, 0, 32),
      train: { ...DEFAULT_TRANSITION_CONFIG.train, epochs: intOpt(args, 'epochs', NAME, DEFAULT_TRANSITION_CONFIG.train.epochs, 0, 10000) },
    };
    const started = io.now();
    const { trace, source } = await loadTraces(args, io, strict);
    io.err(`loaded ${Object.keys(trace.services).length} services × ${trace.timestamps.length} steps of ${trace.stepSeconds} s from ${source}; ${trace.findings.filter((f) => f.severity !== 'info').length} data finding(s) need attention\n`);
    const bars = new Map<string, Progress>();
    const { twin, model } = buildTwin(trace, {
      seed,
      source,
      config,
      progress: (stage, done, total, note) => {
        if (!bars.has(stage)) bars.set(stage, new Progress(io, `fit ${stage}`, total));
        bars.get(stage)!.update(done, note ?? '');
      },
    });
    mkdirSync(dirname(outPath), { recursive: true });
    writeFileSync(outPath, serialiseTwin(twin));
    const plotPath = stringOpt(args, 'plot', NAME);
    if (plotPath) {
      const entry = trace.entryPoints[0] ?? model.services[0]!;
      const horizon = twin.fidelity.horizons[twin.fidelity.horizons.length - 1]!.horizon;
      const series = (['cpu', 'latencyP90'] as const).filter((m) => trace.services[entry]?.metrics[m]).map((m) => predictionSeries(model, trace, entry, m, horizon));
      const full = resolve(io.cwd, plotPath);
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, fidelityPlot(series, `karma-hpa twin fidelity: ${entry}, ${horizon}-step-ahead`));
    }
    io.err(`fit and evaluation took ${((io.now() - started) / 1000).toFixed(1)} s; wrote ${outPath} (${twin.digest})\n`);
    if (args.values.json === true) {
      io.out(`${JSON.stringify({ twin: outPath, digest: twin.digest, fidelity: twin.fidelity, faultEffects: twin.model.faultEffects, findings: twin.findings }, null, 2)}\n`);
    } else {
      io.out(fidelityText(twin));
    }
    return 0;
  },
};
