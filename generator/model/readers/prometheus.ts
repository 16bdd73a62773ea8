/**
 * Traces from Prometheus: saved `/api/v1/query_range` responses (one file per query) or a live
 * server, with a YAML mapping saying which query is which metric of which service and in what unit.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { KarmaError } from '../../../policies/errors.ts';
import { sha256Hex } from '../../../policies/canonical.ts';
import { parseYamlDocument } from '../../../policies/documents.ts';
import { stringify as yamlStringify } from 'yaml';
import { assembleTraceSet, type AssembleOptions } from '../assemble.ts';
import { parseJsonText } from './json-text.ts';
import type { CallEdge, FaultEvent, MetricName, RawTable, TraceFile, TraceSet } from '../types.ts';
import mappingSchema from './trace-mapping.schema.json' with { type: 'json' };

export type MappingUnit = 'millicores' | 'cores' | 'MiB' | 'bytes' | 'seconds' | 'milliseconds' | 'ops/s' | 'ratio' | 'percent';

export interface SeriesMapping {
  query: string;
  unit: MappingUnit;
  file?: string;
  aggregate?: 'single' | 'sum' | 'mean';
}

export interface TraceMapping {
  stepSeconds?: number;
  services: Record<string, Partial<Record<MetricName, SeriesMapping>>>;
  callGraph?: { source: string; target: string; weight?: number }[];
  faults?: { time: number; service: string; pod?: string; type: string }[];
}

/** Factor to the canonical unit, per metric and declared unit; a unit that does not fit the metric is refused. */
const UNIT_FACTORS: Record<MetricName, Partial<Record<MappingUnit, number>>> = {
  cpu: { millicores: 1, cores: 1000 },
  memory: { MiB: 1, bytes: 1 / 1048576 },
  latencyP90: { seconds: 1, milliseconds: 0.001 },
  latencyP95: { seconds: 1, milliseconds: 0.001 },
  latencyP99: { seconds: 1, milliseconds: 0.001 },
  workload: { 'ops/s': 1 },
  successRate: { ratio: 1, percent: 0.01 },
};

export function parseTraceMapping(text: string, file: string): TraceMapping {
  const mapping = parseYamlDocument<TraceMapping>(text, file, mappingSchema, 'trace mapping', 'see generator/model/README.md for the mapping format');
  const problems: string[] = [];
  for (const [service, metrics] of Object.entries(mapping.services)) {
    for (const [metric, m] of Object.entries(metrics) as [MetricName, SeriesMapping][]) {
      if (UNIT_FACTORS[metric][m.unit] === undefined) {
        problems.push(`/services/${service}/${metric}/unit: "${m.unit}" is not a unit of ${metric}; use one of ${Object.keys(UNIT_FACTORS[metric]).join(', ')}`);
      }
    }
  }
  if (problems.length > 0) throw new KarmaError(`invalid trace mapping: ${problems.length} problem${problems.length === 1 ? '' : 's'}`, { where: file, details: problems, hint: 'give each metric a unit of its kind' });
  return mapping;
}

interface QueryRangeSample {
  times: number[];
  values: number[];
}

/** Parse one query_range response into a single series (aggregating several when the mapping says how). */
export function parseQueryRange(text: string, label: string, aggregate: SeriesMapping['aggregate'] = 'single'): QueryRangeSample {
  const doc = parseJsonText(text, label, 'Prometheus query_range response') as { status?: unknown; data?: { resultType?: unknown; result?: unknown }; error?: unknown; errorType?: unknown };
  if (typeof doc !== 'object' || doc === null) throw new KarmaError('not a Prometheus API response (expected a JSON object)', { where: label, hint: 'save the body of GET /api/v1/query_range' });
  if (doc.status !== 'success') {
    throw new KarmaError(`Prometheus answered status "${String(doc.status)}"${doc.error ? `: ${String(doc.errorType ?? '')} ${String(doc.error)}` : ''}`, { where: label, hint: 'check the query in the mapping file' });
  }
  if (doc.data?.resultType !== 'matrix' || !Array.isArray(doc.data.result)) {
    throw new KarmaError(`expected data.resultType "matrix" with a result array, got "${String(doc.data?.resultType)}"`, { where: label, hint: 'use /api/v1/query_range (not /api/v1/query) to save the series' });
  }
  const series = doc.data.result as { metric?: Record<string, string>; values?: unknown }[];
  if (series.length === 0) throw new KarmaError('the query returned no series', { where: label, hint: 'check the query and the time range; the metric may not exist for that service' });
  if (series.length > 1 && aggregate === 'single') {
    const names = series.slice(0, 3).map((s) => JSON.stringify(s.metric ?? {})).join(', ');
    throw new KarmaError(`the query returned ${series.length} series (${names}${series.length > 3 ? ', …' : ''})`, { where: label, hint: 'aggregate them in PromQL (sum by () …) or set aggregate: sum | mean in the mapping' });
  }
  const byTime = new Map<number, number[]>();
  series.forEach((s, si) => {
    if (!Array.isArray(s.values)) throw new KarmaError(`series ${si} has no values array`, { where: label, hint: 'save the unmodified query_range response' });
    s.values.forEach((pair: unknown, i: number) => {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'number' || typeof pair[1] !== 'string') {
        throw new KarmaError(`series ${si}, sample ${i}: expected [unix seconds, "value"], got ${JSON.stringify(pair)?.slice(0, 60)}`, { where: label, hint: 'save the unmodified query_range response' });
      }
      const v = /^[-+]?inf$/i.test(pair[1]) ? (pair[1].startsWith('-') ? -Infinity : Infinity) : Number(pair[1]);
      if (!byTime.has(pair[0])) byTime.set(pair[0], []);
      byTime.get(pair[0])!.push(v);
    });
  });
  const times = [...byTime.keys()].sort((a, b) => a - b);
  const values = times.map((t) => {
    const vs = byTime.get(t)!;
    const sum = vs.reduce((a, b) => a + b, 0);
    return aggregate === 'mean' ? sum / vs.length : sum;
  });
  return { times, values };
}

function tableFromSample(sample: QueryRangeSample, file: string, service: string, metric: MetricName, m: SeriesMapping): RawTable {
  const factor = UNIT_FACTORS[metric][m.unit]!;
  return {
    file,
    service,
    source: `${service} ${metric}`,
    timestamps: sample.times,
    lines: sample.times.map((_, i) => i + 1),
    columns: [{ metric, label: `${metric} (${m.query})`, values: sample.values.map((v) => v * factor), unitDeclared: true }],
  };
}

function mappingExtras(mapping: TraceMapping): { callGraph: CallEdge[]; faults: FaultEvent[] } {
  return {
    callGraph: (mapping.callGraph ?? []).map((e) => ({ source: e.source, target: e.target, weight: e.weight ?? 1 })),
    faults: (mapping.faults ?? []).map((f) => ({ time: f.time, service: f.service, pod: f.pod ?? f.service, type: f.type })),
  };
}

/** Read saved query_range responses named by a mapping file (form 2). */
export function readPrometheusExport(mappingFile: string, opts: AssembleOptions = {}): TraceSet {
  let text: string;
  try {
    text = readFileSync(mappingFile, 'utf8');
  } catch (e) {
    throw new KarmaError(`cannot read the trace mapping: ${(e as Error).message}`, { where: mappingFile, hint: 'give the path of a trace mapping YAML file' });
  }
  const mapping = parseTraceMapping(text, mappingFile);
  const base = dirname(resolve(mappingFile));
  const files: TraceFile[] = [{ path: mappingFile.split(/[\\/]/).pop()!, sha256: sha256Hex(text) }];
  const tables: RawTable[] = [];
  for (const service of Object.keys(mapping.services).sort()) {
    for (const [metric, m] of Object.entries(mapping.services[service]!).sort(([a], [b]) => (a < b ? -1 : 1)) as [MetricName, SeriesMapping][]) {
      if (!m.file) throw new KarmaError(`${service}.${metric} has no file`, { where: `${mappingFile}: /services/${service}/${metric}`, hint: 'name the saved query_range response with file:, or read live with --prometheus URL' });
      let body: Buffer;
      try {
        body = readFileSync(join(base, m.file));
      } catch (e) {
        throw new KarmaError(`cannot read ${m.file}: ${(e as Error).message}`, { where: `${mappingFile}: /services/${service}/${metric}/file`, hint: 'paths are relative to the mapping file' });
      }
      files.push({ path: m.file, sha256: sha256Hex(body) });
      tables.push(tableFromSample(parseQueryRange(body.toString('utf8'), m.file, m.aggregate), m.file, service, metric, m));
    }
  }
  const { callGraph, faults } = mappingExtras(mapping);
  return assembleTraceSet({ tables, callGraph, faults, files, findings: [], source: mappingFile }, { ...opts, ...(mapping.stepSeconds ? { stepSeconds: mapping.stepSeconds } : {}) });
}

export interface LiveRange {
  /** Unix seconds. */
  start: number;
  end: number;
  stepSeconds: number;
}

export interface LiveOptions extends AssembleOptions {
  fetch?: typeof fetch;
  /** Also write every response and a file-based mapping here (turns a live read into form 2). */
  saveTo?: string;
  mappingLabel?: string;
  timeoutMs?: number;
}

/** Read the mapped queries from a live Prometheus HTTP API (form 3). */
export async function readPrometheusLive(baseUrl: string, mapping: TraceMapping, range: LiveRange, opts: LiveOptions = {}): Promise<TraceSet> {
  const doFetch = opts.fetch ?? fetch;
  if (!(range.end > range.start) || !(range.stepSeconds > 0)) {
    throw new KarmaError(`invalid range: start ${range.start}, end ${range.end}, step ${range.stepSeconds}`, { where: baseUrl, hint: 'end must be after start and the step positive' });
  }
  const points = Math.floor((range.end - range.start) / range.stepSeconds) + 1;
  if (points > 11000) throw new KarmaError(`the range has ${points} points per query; Prometheus refuses more than 11,000`, { where: baseUrl, hint: 'use a larger --step or a shorter range' });
  const tables: RawTable[] = [];
  const files: TraceFile[] = [];
  const saved: TraceMapping = { stepSeconds: range.stepSeconds, services: {}, ...(mapping.callGraph ? { callGraph: mapping.callGraph } : {}), ...(mapping.faults ? { faults: mapping.faults } : {}) };
  if (opts.saveTo) mkdirSync(opts.saveTo, { recursive: true });
  for (const service of Object.keys(mapping.services).sort()) {
    for (const [metric, m] of Object.entries(mapping.services[service]!).sort(([a], [b]) => (a < b ? -1 : 1)) as [MetricName, SeriesMapping][]) {
      const url = new URL('api/v1/query_range', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
      url.searchParams.set('query', m.query);
      url.searchParams.set('start', String(range.start));
      url.searchParams.set('end', String(range.end));
      url.searchParams.set('step', String(range.stepSeconds));
      const label = `${service}.${metric} from ${baseUrl}`;
      let body: string;
      try {
        const res = await doFetch(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000) });
        body = await res.text();
        if (!res.ok && !body.trim().startsWith('{')) throw new Error(`HTTP ${res.status} ${res.statusText}`);
      } catch (e) {
        throw new KarmaError(`cannot query Prometheus: ${(e as Error).message}`, { where: label, hint: 'check the URL and that Prometheus is reachable' });
      }
      const name = `${service}.${metric}.json`;
      files.push({ path: `query:${service}.${metric}`, sha256: sha256Hex(body) });
      tables.push(tableFromSample(parseQueryRange(body, label, m.aggregate), label, service, metric, m));
      if (opts.saveTo) {
        writeFileSync(join(opts.saveTo, name), body);
        (saved.services[service] ??= {})[metric] = { ...m, file: name };
      }
    }
  }
  if (opts.saveTo) writeFileSync(join(opts.saveTo, 'mapping.yaml'), yamlStringify(saved, { sortMapEntries: true }));
  const { callGraph, faults } = mappingExtras(mapping);
  return assembleTraceSet({ tables, callGraph, faults, files, findings: [], source: baseUrl }, { ...opts, stepSeconds: range.stepSeconds });
}
