import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { KarmaError } from '../../../policies/errors.ts';
import { sha256Hex } from '../../../policies/canonical.ts';
import { assertValid } from '../../../policies/documents.ts';
import { parseCsv, parseNumberCell, type CsvTable } from '../csv.ts';
import { serviceOfPod } from '../pods.ts';
import { assembleTraceSet, type AssembleOptions } from '../assemble.ts';
import { parseJsonText } from './json-text.ts';
import type { CallEdge, DataFinding, FaultEvent, MetricName, RawColumn, RawTable, TraceFile, TraceSet } from '../types.ts';
import faultListSchema from './fault-list.schema.json' with { type: 'json' };

interface ColumnMeaning {
  metric: MetricName;
  /** Multiply by this to reach the canonical unit. */
  factor: number;
  declared: boolean;
}

/** What a metric CSV header means, with the unit it declares in parentheses. */
export function columnMeaning(header: string): ColumnMeaning | undefined {
  const h = header.trim();
  let m = /^(?:Pod)?CpuUsage(?:\((m|millicores?|cores?)\))?$/i.exec(h);
  if (m) return { metric: 'cpu', factor: m[1] && /^cores?$/i.test(m[1]) ? 1000 : 1, declared: m[1] !== undefined };
  m = /^(?:Pod)?MemoryUsage(?:\((Mi|MiB|Ki|KiB|bytes|B)\))?$/i.exec(h);
  if (m) {
    const unit = (m[1] ?? 'Mi').toLowerCase();
    return { metric: 'memory', factor: unit.startsWith('mi') ? 1 : unit.startsWith('ki') ? 1 / 1024 : 1 / 1048576, declared: m[1] !== undefined };
  }
  m = /^(?:Pod)?ServerLatencyP(90|95|99)(?:\((s|ms)\))?$/i.exec(h);
  if (m) return { metric: `latencyP${m[1]}` as MetricName, factor: m[2]?.toLowerCase() === 'ms' ? 0.001 : 1, declared: m[2] !== undefined };
  m = /^(?:Pod)?Workload(?:\((ops|ops\/s|rps)\))?$/i.exec(h);
  if (m) return { metric: 'workload', factor: 1, declared: m[1] !== undefined };
  m = /^(?:Pod)?SuccessRate(?:\((%|ratio)\))?$/i.exec(h);
  if (m) return { metric: 'successRate', factor: m[1] === '%' ? 0.01 : 1, declared: m[1] !== undefined };
  return undefined;
}

/** Parse a wall-clock cell such as `2022-08-22 03:51:19.799087274 +0000 UTC m=+0.305` to unix seconds. */
export function parseWallClock(cell: string): number | undefined {
  const m = /^\s*(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(\.\d+)?\s*(Z|[+-]\d\d:?\d\d)?/.exec(cell);
  if (!m) return undefined;
  const base = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) / 1000;
  if (!Number.isFinite(base)) return undefined;
  const frac = m[7] ? Number(m[7]) : 0;
  let zone = 0;
  if (m[8] && m[8] !== 'Z') {
    const z = m[8].replace(':', '');
    zone = (z.startsWith('-') ? -1 : 1) * (Number(z.slice(1, 3)) * 3600 + Number(z.slice(3, 5)) * 60);
  }
  return base + frac - zone;
}

function findColumn(table: CsvTable, pattern: RegExp): number {
  return table.header.findIndex((h) => pattern.test(h));
}

/** One metric CSV (a pod's, or an entry service's end-to-end file) as a raw table. */
export function metricTableFromCsv(text: string, file: string, fallbackPod: string | undefined, findings: DataFinding[]): RawTable | undefined {
  const table = parseCsv(text, file);
  const tsCol = findColumn(table, /^timestamp$/i);
  if (tsCol < 0) {
    throw new KarmaError(`no TimeStamp column (header: ${table.header.slice(0, 8).join(', ')}${table.header.length > 8 ? ', …' : ''})`, { where: `${file}:1`, hint: 'metric files need a TimeStamp column of unix seconds' });
  }
  const timeCol = findColumn(table, /^time$/i);
  const podCol = findColumn(table, /^podname$/i);
  const serviceCol = findColumn(table, /^servicename$/i);
  const columns: (RawColumn & { index: number; factor: number })[] = [];
  table.header.forEach((h, index) => {
    const meaning = columnMeaning(h);
    if (!meaning) return;
    if (columns.some((c) => c.metric === meaning.metric)) return;
    columns.push({ metric: meaning.metric, label: h, column: index + 1, values: [], unitDeclared: meaning.declared, index, factor: meaning.factor });
  });
  if (columns.length === 0) {
    findings.push({ severity: 'info', kind: 'missing-metric', file, message: `no column of a modelled metric (CPU, memory, server latency, workload, success rate); file not used`, repaired: false });
    return undefined;
  }
  const firstRow = table.rows[0];
  const pod = podCol >= 0 && firstRow ? firstRow.fields[podCol]!.trim() : serviceCol >= 0 && firstRow ? firstRow.fields[serviceCol]!.trim() : fallbackPod;
  if (!pod) throw new KarmaError('cannot tell which pod or service the file belongs to', { where: file, hint: 'add a PodName column or name the file <pod>_metric.csv' });
  const service = serviceCol >= 0 && podCol < 0 ? pod.toLowerCase() : serviceOfPod(pod);
  const timestamps: number[] = [];
  const lines: number[] = [];
  const wallClock: (number | undefined)[] = [];
  for (const row of table.rows) {
    const ts = parseNumberCell(row.fields[tsCol]!, { file, line: row.line, column: tsCol + 1, header: table.header[tsCol]! });
    timestamps.push(ts);
    lines.push(row.line);
    wallClock.push(timeCol >= 0 ? parseWallClock(row.fields[timeCol]!) : undefined);
    for (const c of columns) {
      c.values.push(parseNumberCell(row.fields[c.index]!, { file, line: row.line, column: c.index + 1, header: c.label }) * c.factor);
    }
  }
  // Unix milliseconds are 1000× unix seconds; a value above 1e11 s would be the year 5138.
  const finite = timestamps.filter((t) => Number.isFinite(t));
  if (finite.length > 0 && finite[Math.floor(finite.length / 2)]! > 1e11) {
    for (let i = 0; i < timestamps.length; i++) timestamps[i] = timestamps[i]! / 1000;
    findings.push({ severity: 'info', kind: 'unit-converted', file, column: tsCol + 1, message: `${table.header[tsCol]} is in unix milliseconds; converted to seconds`, repaired: true });
  }
  for (const c of columns) {
    if (c.factor !== 1) findings.push({ severity: 'info', kind: 'unit-converted', file, column: c.column!, message: `${c.label} converted to ${c.metric === 'successRate' ? 'a ratio' : 'the canonical unit'} (×${c.factor})`, repaired: false });
  }
  return {
    file,
    service,
    source: pod,
    timestamps,
    lines,
    ...(timeCol >= 0 && wallClock.some((w) => w !== undefined) ? { wallClock } : {}),
    columns: columns.map(({ index: _i, factor: _f, ...c }) => c),
  };
}

export function callGraphFromCsv(text: string, file: string): CallEdge[] {
  const table = parseCsv(text, file);
  const src = findColumn(table, /^source$/i);
  const dst = findColumn(table, /^target$/i);
  const weight = findColumn(table, /^weight$/i);
  if (src < 0 || dst < 0) throw new KarmaError(`the call graph needs Source and Target columns (header: ${table.header.join(', ')})`, { where: `${file}:1`, hint: 'write the header as Source,Target,Weight' });
  const edges: CallEdge[] = [];
  for (const row of table.rows) {
    const w = weight >= 0 ? parseNumberCell(row.fields[weight]!, { file, line: row.line, column: weight + 1, header: 'Weight' }) : 1;
    if (!Number.isFinite(w) || w < 0) throw new KarmaError(`Weight must be a non-negative number`, { where: `${file}:${row.line}:${weight + 1}`, hint: 'give each call edge a weight ≥ 0 (1 when unknown)' });
    edges.push({ source: row.fields[src]!.trim(), target: row.fields[dst]!.trim(), weight: w });
  }
  return edges;
}

export function faultsFromJson(text: string, file: string): FaultEvent[] {
  const value = parseJsonText(text, file, 'fault list');
  type Raw = { inject_timestamp: string | number; inject_pod: string; inject_type: string };
  const doc = assertValid<Raw[] | Record<string, Raw[]>>(value, faultListSchema, { name: file }, 'fault list', 'each fault needs inject_timestamp (unix seconds), inject_pod and inject_type');
  const all = Array.isArray(doc) ? doc : Object.keys(doc).sort().flatMap((k) => doc[k]!);
  return all.map((f) => ({ time: Number(f.inject_timestamp), pod: f.inject_pod, service: serviceOfPod(f.inject_pod), type: f.inject_type }));
}

export type ReadOptions = AssembleOptions;

/**
 * Read a directory of per-pod metric CSVs (`<pod>_metric.csv`), an optional entry-service file
 * (`front_service.csv`), the call graph (`dependency.csv`) and the fault list (`fault_list.json` or
 * `*fault_list.json`) into a TraceSet.
 */
export function readCsvTraceDirectory(dir: string, opts: ReadOptions = {}): TraceSet {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    names = readdirSync(dir).sort();
  } catch (e) {
    throw new KarmaError(`cannot read the trace directory: ${(e as Error).message}`, { where: dir, hint: 'give --traces a directory of <pod>_metric.csv files' });
  }
  const findings: DataFinding[] = [];
  const files: TraceFile[] = [];
  const read = (name: string): string => {
    const bytes = readFileSync(join(dir, name));
    files.push({ path: name, sha256: sha256Hex(bytes) });
    return bytes.toString('utf8');
  };
  const tables: RawTable[] = [];
  const metricFiles = names.filter((n) => /_metric\.csv$/i.test(n));
  if (metricFiles.length === 0) throw new KarmaError('no <pod>_metric.csv files in the trace directory', { where: dir, hint: 'give --traces a directory of per-pod metric CSVs (one <pod>_metric.csv per pod)' });
  for (const name of metricFiles) {
    const t = metricTableFromCsv(read(name), name, name.replace(/_metric\.csv$/i, ''), findings);
    if (t) tables.push(t);
  }
  const entryFile = names.find((n) => /^front_service\.csv$/i.test(n));
  if (entryFile) {
    const t = metricTableFromCsv(read(entryFile), entryFile, undefined, findings);
    if (t) tables.push(t);
  }
  let callGraph: CallEdge[] = [];
  const depFile = names.find((n) => /^dependency\.csv$/i.test(n));
  if (depFile) callGraph = callGraphFromCsv(read(depFile), depFile);
  else findings.push({ severity: 'warning', kind: 'missing-metric', file: dir, message: 'no dependency.csv: the call graph is unknown, every service is treated as an entry point', repaired: false });
  let faults: FaultEvent[] = [];
  const faultFile = names.find((n) => /fault_list\.json$/i.test(n));
  if (faultFile) faults = faultsFromJson(read(faultFile), faultFile);

  const services = new Set(tables.map((t) => t.service));
  const foreign = [...new Set(callGraph.flatMap((e) => [e.source, e.target]).filter((s) => !services.has(s)))].sort();
  if (depFile && foreign.length > 0) {
    findings.push({ severity: 'info', kind: 'unknown-service', file: depFile, message: `call edges to or from ${foreign.length} name(s) without metrics (${foreign.slice(0, 6).join(', ')}${foreign.length > 6 ? ', …' : ''}) are left out of the call graph`, repaired: false });
  }
  const strayFaults = faults.filter((f) => !services.has(f.service));
  if (faultFile && strayFaults.length > 0) {
    findings.push({ severity: 'warning', kind: 'unknown-service', file: faultFile, message: `${strayFaults.length} fault(s) name pods of no known service (${[...new Set(strayFaults.map((f) => f.pod))].slice(0, 4).join(', ')}); ignored`, repaired: false });
  }
  const unused = names.filter((n) => !files.some((f) => f.path === n));
  if (unused.length > 0) findings.push({ severity: 'info', kind: 'missing-metric', file: dir, message: `not used: ${unused.join(', ')}`, repaired: false });
  return assembleTraceSet({ tables, callGraph, faults, files, findings, source: dir }, opts);
}
