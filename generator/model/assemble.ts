import { KarmaError } from '../../policies/errors.ts';
import { type CallEdge, type DataFinding, type FaultEvent, type MetricName, type RawColumn, type RawTable, type ServiceTrace, type TraceFile, type TraceSet } from './types.ts';

export interface AssembleOptions {
  /** Refuse (KarmaError) instead of repairing data with a warning. */
  strict?: boolean;
  /** Force the grid step (seconds); otherwise the median sampling interval. */
  stepSeconds?: number;
}

export interface AssembleInput {
  tables: RawTable[];
  callGraph: CallEdge[];
  faults: FaultEvent[];
  files: TraceFile[];
  /** Findings the reader made before assembly (unknown services, unit conversions, …). */
  findings: DataFinding[];
  /** Label of the trace source for messages about the whole set. */
  source: string;
}

/** How far a file's median time may sit from the others' before it counts as a shifted clock. */
const SHIFT_MIN_STEPS = 100;
/** A metric whose typical value is this many times off the other services' is a unit mistake. */
const UNIT_RATIO = 100;
const LIST_LIMIT = 5;

/**
 * Check and align raw tables into a TraceSet. Every problem becomes a DataFinding; problems that
 * change data (shifted clocks, sorted or dropped rows, interpolated gaps, converted units) are
 * warnings with `repaired: true`, and `strict` turns those into a refusal.
 */
export function assembleTraceSet(input: AssembleInput, opts: AssembleOptions = {}): TraceSet {
  const findings: DataFinding[] = [...input.findings];
  const tables = input.tables.map((t) => cloneTable(t)).filter((t) => dropBadTimestamps(t, findings));
  if (tables.length === 0) throw new KarmaError('no usable time series in the traces', { where: input.source, hint: 'check that the files contain data rows with timestamps' });

  const provisionalStep = opts.stepSeconds ?? medianStep(tables);
  repairClockShifts(tables, provisionalStep, findings);
  for (const t of tables) repairAgainstWallClock(t, provisionalStep, findings);
  for (const t of tables) repairOrder(t, findings);
  const step = opts.stepSeconds ?? medianStep(tables);
  if (!(step > 0)) throw new KarmaError('cannot determine the sampling step: every file has a single row', { where: input.source, hint: 'give at least two samples per series' });

  const starts = tables.map((t) => t.timestamps[0]!).sort((a, b) => a - b);
  const ends = tables.map((t) => t.timestamps[t.timestamps.length - 1]!).sort((a, b) => a - b);
  const t0 = median(starts);
  const count = Math.max(1, Math.round((median(ends) - t0) / step) + 1);
  const timestamps = Array.from({ length: count }, (_, k) => t0 + k * step);

  const candidates = new Map<string, { table: RawTable; column: RawColumn; values: Float64Array }[]>();
  const sources = new Map<string, string>();
  for (const t of tables) {
    const slotOf = alignToGrid(t, t0, step, count, findings);
    for (const c of t.columns) {
      const values = new Float64Array(count).fill(NaN);
      for (let r = 0; r < t.timestamps.length; r++) {
        const k = slotOf[r]!;
        if (k >= 0) values[k] = c.values[r]!;
      }
      reportMissing(t, c, values, findings);
      const key = `${t.service}\u0000${c.metric}`;
      if (!candidates.has(key)) candidates.set(key, []);
      candidates.get(key)!.push({ table: t, column: c, values });
    }
    if (!sources.has(t.service)) sources.set(t.service, t.source);
  }

  const services: Record<string, ServiceTrace> = {};
  for (const name of [...sources.keys()].sort()) services[name] = { name, source: sources.get(name)!, metrics: {} };
  for (const [key, list] of [...candidates.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const [service, metric] = key.split('\u0000') as [string, MetricName];
    const chosen = chooseCandidate(service, metric, list, findings);
    if (chosen) services[service]!.metrics[metric] = chosen;
  }
  for (const name of Object.keys(services)) {
    if (Object.keys(services[name]!.metrics).length === 0) {
      findings.push({ severity: 'warning', kind: 'missing-metric', file: services[name]!.source, message: `service ${name} has no usable metric and is left out`, repaired: true });
      delete services[name];
    }
  }
  repairUnits(services, tables, findings);

  const known = new Set(Object.keys(services));
  const callGraph = input.callGraph.filter((e) => known.has(e.source) && known.has(e.target));
  const callers = new Set(callGraph.map((e) => e.target));
  const entryPoints = [...known].filter((s) => !callers.has(s) && callGraph.some((e) => e.source === s)).sort();
  if (entryPoints.length === 0 && known.size > 0) entryPoints.push([...known].sort()[0]!);

  const set: TraceSet = {
    stepSeconds: step,
    timestamps,
    services,
    callGraph,
    entryPoints,
    faults: input.faults.filter((f) => known.has(f.service)).sort((a, b) => a.time - b.time || (a.service < b.service ? -1 : 1)),
    findings,
    files: [...input.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
  };
  if (opts.strict) refuseRepairs(findings, input.source);
  return set;
}

/** `file:line:column`, or `file (column N)` when a finding concerns a whole column. */
export function findingPlace(f: DataFinding): string {
  if (f.line !== undefined) return `${f.file}:${f.line}${f.column !== undefined ? `:${f.column}` : ''}`;
  return f.column !== undefined ? `${f.file} (column ${f.column})` : f.file;
}

function refuseRepairs(findings: DataFinding[], source: string): void {
  const repairs = findings.filter((f) => f.repaired && f.severity !== 'info');
  if (repairs.length === 0) return;
  throw new KarmaError(`the traces need ${repairs.length} repair${repairs.length === 1 ? '' : 's'} and --strict refuses to make them`, {
    where: source,
    details: repairs.map((f) => `${findingPlace(f)}: [${f.kind}] ${f.message}`),
    hint: 'fix the files, or run without --strict to load them with the repairs flagged in the data findings',
  });
}

function cloneTable(t: RawTable): RawTable {
  return {
    ...t,
    timestamps: [...t.timestamps],
    lines: [...t.lines],
    ...(t.wallClock ? { wallClock: [...t.wallClock] } : {}),
    columns: t.columns.map((c) => ({ ...c, values: [...c.values] })),
  };
}

function keepRows(t: RawTable, keep: (i: number) => boolean): void {
  const idx = t.timestamps.map((_, i) => i).filter(keep);
  t.timestamps = idx.map((i) => t.timestamps[i]!);
  t.lines = idx.map((i) => t.lines[i]!);
  if (t.wallClock) t.wallClock = idx.map((i) => t.wallClock![i]);
  for (const c of t.columns) c.values = idx.map((i) => c.values[i]!);
}

function reorderRows(t: RawTable, order: number[]): void {
  t.timestamps = order.map((i) => t.timestamps[i]!);
  t.lines = order.map((i) => t.lines[i]!);
  if (t.wallClock) t.wallClock = order.map((i) => t.wallClock![i]);
  for (const c of t.columns) c.values = order.map((i) => c.values[i]!);
}

function lineList(lines: number[]): string {
  const shown = lines.slice(0, LIST_LIMIT).join(', ');
  return lines.length > LIST_LIMIT ? `${shown} and ${lines.length - LIST_LIMIT} more` : shown;
}

function dropBadTimestamps(t: RawTable, findings: DataFinding[]): boolean {
  const bad = t.timestamps.map((ts, i) => (Number.isFinite(ts) ? -1 : i)).filter((i) => i >= 0);
  if (bad.length > 0) {
    findings.push({ severity: 'warning', kind: 'missing-value', file: t.file, line: t.lines[bad[0]!], message: `${bad.length} row(s) have no valid timestamp (lines ${lineList(bad.map((i) => t.lines[i]!))}); dropped`, repaired: true });
    keepRows(t, (i) => Number.isFinite(t.timestamps[i]!));
  }
  if (t.timestamps.length === 0) {
    findings.push({ severity: 'warning', kind: 'missing-value', file: t.file, message: 'no data rows; file ignored', repaired: true });
    return false;
  }
  return true;
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function medianStep(tables: RawTable[]): number {
  const diffs: number[] = [];
  for (const t of tables) {
    for (let i = 1; i < t.timestamps.length; i++) {
      const d = t.timestamps[i]! - t.timestamps[i - 1]!;
      if (d > 0) diffs.push(d);
    }
  }
  const m = median(diffs);
  return m >= 2 ? Math.round(m) : m;
}

/** The offset with the most trailing zeros within half a step of `estimate`: shifts come from digit slips or zone errors, which are round. */
function roundestOffset(estimate: number, step: number): number {
  const lo = Math.ceil(estimate - step / 2);
  const hi = Math.floor(estimate + step / 2);
  let best = Math.round(estimate);
  let bestZeros = trailingZeros(best);
  for (let v = lo; v <= hi; v++) {
    const z = trailingZeros(v);
    if (z > bestZeros || (z === bestZeros && Math.abs(v - estimate) < Math.abs(best - estimate))) {
      best = v;
      bestZeros = z;
    }
  }
  return best;
}

function trailingZeros(v: number): number {
  if (v === 0) return 0;
  let n = 0;
  let x = Math.abs(v);
  while (x % 10 === 0) {
    x /= 10;
    n++;
  }
  return n;
}

function isoSeconds(t: number): string {
  const d = new Date(t * 1000);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString().replace('.000Z', 'Z');
}

/**
 * A file whose whole time span sits far from the others' is a shifted clock, not a different
 * period: the offset comes from its own wall-clock column when it has one, else from the others.
 */
function repairClockShifts(tables: RawTable[], step: number, findings: DataFinding[]): void {
  if (tables.length < 2 || !(step > 0)) return;
  const medians = tables.map((t) => median(t.timestamps));
  const consensus = median(medians);
  for (let i = 0; i < tables.length; i++) {
    const t = tables[i]!;
    const others = tables.filter((_, j) => j !== i && Math.abs(medians[j]! - consensus) < SHIFT_MIN_STEPS * step);
    if (others.length === 0) continue;
    const span = t.timestamps[t.timestamps.length - 1]! - t.timestamps[0]!;
    const distance = medians[i]! - consensus;
    if (Math.abs(distance) < Math.max(SHIFT_MIN_STEPS * step, span)) continue;
    let offset: number;
    let basis: string;
    const wall = (t.wallClock ?? []).map((w, r) => (w === undefined ? NaN : t.timestamps[r]! - w)).filter((d) => Number.isFinite(d));
    if (wall.length >= t.timestamps.length / 2 && Math.abs(median(wall) - distance) < Math.max(span, SHIFT_MIN_STEPS * step)) {
      offset = roundestOffset(median(wall), 2);
      basis = "its own wall-clock column";
    } else {
      const otherStarts = median(others.map((o) => o.timestamps[0]!));
      offset = roundestOffset(t.timestamps[0]! - otherStarts, step);
      basis = 'the start of the other files';
    }
    const otherLo = Math.min(...others.map((o) => o.timestamps[0]!));
    const otherHi = Math.max(...others.map((o) => o.timestamps[o.timestamps.length - 1]!));
    t.timestamps = t.timestamps.map((ts) => ts - offset);
    const years = Math.abs(offset) / (365.25 * 86400);
    findings.push({
      severity: 'warning',
      kind: 'clock-shift',
      file: t.file,
      line: t.lines[0],
      message: `timestamps are shifted by ${offset > 0 ? '+' : ''}${offset} s (${years >= 1 ? `${years.toFixed(2)} years` : `${(Math.abs(offset) / 3600).toFixed(2)} h`}) against the other ${others.length} file(s): this file spans ${isoSeconds(t.timestamps[0]! + offset)} – ${isoSeconds(t.timestamps[t.timestamps.length - 1]! + offset)}, the others ${isoSeconds(otherLo)} – ${isoSeconds(otherHi)}; offset measured against ${basis} and subtracted`,
      repaired: true,
    });
  }
}

/** Rows whose timestamp disagrees with the row's own wall-clock column take the wall clock. */
function repairAgainstWallClock(t: RawTable, step: number, findings: DataFinding[]): void {
  if (!t.wallClock) return;
  const tolerance = Math.max(2, step / 2);
  const bad: number[] = [];
  for (let r = 0; r < t.timestamps.length; r++) {
    const w = t.wallClock[r];
    if (w === undefined) continue;
    if (Math.abs(t.timestamps[r]! - w) > tolerance) {
      bad.push(r);
      t.timestamps[r] = Math.floor(w);
    }
  }
  if (bad.length === 0) return;
  findings.push({
    severity: 'warning',
    kind: 'timestamp-mismatch',
    file: t.file,
    line: t.lines[bad[0]!],
    message: `${bad.length} row(s) have a TimeStamp that disagrees with the same row's Time column by more than ${tolerance} s (lines ${lineList(bad.map((r) => t.lines[r]!))}); replaced by the Time column`,
    repaired: true,
  });
}

function repairOrder(t: RawTable, findings: DataFinding[]): void {
  const backwards: number[] = [];
  for (let i = 1; i < t.timestamps.length; i++) if (t.timestamps[i]! < t.timestamps[i - 1]!) backwards.push(i);
  if (backwards.length > 0) {
    findings.push({
      severity: 'warning',
      kind: 'non-monotonic',
      file: t.file,
      line: t.lines[backwards[0]!],
      message: `timestamps go backwards at ${backwards.length} row(s) (lines ${lineList(backwards.map((i) => t.lines[i]!))}); rows sorted by time`,
      repaired: true,
    });
    const order = t.timestamps.map((_, i) => i).sort((a, b) => t.timestamps[a]! - t.timestamps[b]! || a - b);
    reorderRows(t, order);
  }
  const dup: number[] = [];
  for (let i = 1; i < t.timestamps.length; i++) if (t.timestamps[i] === t.timestamps[i - 1]) dup.push(i);
  if (dup.length > 0) {
    findings.push({
      severity: 'warning',
      kind: 'duplicate-timestamp',
      file: t.file,
      line: t.lines[dup[0]!],
      message: `${dup.length} row(s) repeat the previous row's timestamp (lines ${lineList(dup.map((i) => t.lines[i]!))}); the first row of each timestamp is kept`,
      repaired: true,
    });
    const drop = new Set(dup);
    keepRows(t, (i) => !drop.has(i));
  }
}

/** Grid slot of each row (−1 when outside the grid or a second sample in one slot). */
function alignToGrid(t: RawTable, t0: number, step: number, count: number, findings: DataFinding[]): number[] {
  const slots: number[] = [];
  const taken = new Uint8Array(count);
  const crowded: number[] = [];
  let outside = 0;
  for (let r = 0; r < t.timestamps.length; r++) {
    const k = Math.round((t.timestamps[r]! - t0) / step);
    if (k < 0 || k >= count) {
      slots.push(-1);
      outside++;
    } else if (taken[k]) {
      slots.push(-1);
      crowded.push(r);
    } else {
      taken[k] = 1;
      slots.push(k);
    }
  }
  if (crowded.length > 0) {
    findings.push({ severity: 'warning', kind: 'duplicate-timestamp', file: t.file, line: t.lines[crowded[0]!], message: `${crowded.length} row(s) fall into a time step that already has a sample (lines ${lineList(crowded.map((r) => t.lines[r]!))}); the earlier sample is kept`, repaired: true });
  }
  if (outside > 0) {
    findings.push({ severity: 'info', kind: 'gap', file: t.file, message: `${outside} row(s) lie outside the common time range of the traces and are not used`, repaired: false });
  }
  const runs: [number, number][] = [];
  for (let k = 0; k < count; k++) {
    if (taken[k]) continue;
    const start = k;
    while (k + 1 < count && !taken[k + 1]) k++;
    runs.push([start, k]);
  }
  if (runs.length > 0) {
    const missing = runs.reduce((n, [a, b]) => n + b - a + 1, 0);
    const shown = runs.slice(0, LIST_LIMIT).map(([a, b]) => (a === b ? isoSeconds(t0 + a * step) : `${isoSeconds(t0 + a * step)} – ${isoSeconds(t0 + b * step)}`)).join(', ');
    findings.push({
      severity: 'warning',
      kind: 'gap',
      file: t.file,
      message: `${missing} of ${count} time steps (${step} s each) have no row, in ${runs.length} gap(s): ${shown}${runs.length > LIST_LIMIT ? ` and ${runs.length - LIST_LIMIT} more` : ''}; filled by linear interpolation`,
      repaired: true,
    });
  }
  return slots;
}

function reportMissing(t: RawTable, c: RawColumn, values: Float64Array, findings: DataFinding[]): void {
  const nanRows: number[] = [];
  const infRows: number[] = [];
  for (let r = 0; r < c.values.length; r++) {
    const v = c.values[r]!;
    if (Number.isNaN(v)) nanRows.push(r);
    else if (!Number.isFinite(v)) infRows.push(r);
  }
  for (let k = 0; k < values.length; k++) if (!Number.isFinite(values[k]!)) values[k] = NaN;
  const where = c.column !== undefined ? ` (column ${c.column})` : '';
  if (infRows.length > 0) {
    findings.push({ severity: 'warning', kind: 'non-finite', file: t.file, line: t.lines[infRows[0]!], ...(c.column !== undefined ? { column: c.column } : {}), message: `${c.label}${where}: ${infRows.length} infinite value(s) (lines ${lineList(infRows.map((r) => t.lines[r]!))}); treated as missing and interpolated`, repaired: true });
  }
  if (nanRows.length > 0) {
    const all = nanRows.length === c.values.length;
    findings.push({
      severity: 'warning',
      kind: 'missing-value',
      file: t.file,
      line: t.lines[nanRows[0]!],
      ...(c.column !== undefined ? { column: c.column } : {}),
      message: all
        ? `${c.label}${where}: every cell is empty or NaN; the metric is unavailable for ${t.service}`
        : `${c.label}${where}: ${nanRows.length} empty or NaN cell(s) (lines ${lineList(nanRows.map((r) => t.lines[r]!))}); filled by linear interpolation`,
      repaired: true,
    });
  }
}

/** Fill NaN by linear interpolation between neighbours (nearest value at the ends). False when nothing is known. */
export function interpolateMissing(values: Float64Array): boolean {
  let prev = -1;
  for (let k = 0; k < values.length; k++) {
    if (Number.isNaN(values[k]!)) continue;
    if (prev === -1) for (let j = 0; j < k; j++) values[j] = values[k]!;
    else if (k - prev > 1) {
      const a = values[prev]!;
      const b = values[k]!;
      for (let j = prev + 1; j < k; j++) values[j] = a + ((b - a) * (j - prev)) / (k - prev);
    }
    prev = k;
  }
  if (prev === -1) return false;
  for (let j = prev + 1; j < values.length; j++) values[j] = values[prev]!;
  return true;
}

/**
 * Pick the series for one metric of one service. A column that never changes is reported; a
 * success rate stuck at 0 while the service serves requests cannot be true and is replaced by
 * another source of the same metric when there is one.
 */
function chooseCandidate(service: string, metric: MetricName, list: { table: RawTable; column: RawColumn; values: Float64Array }[], findings: DataFinding[]): Float64Array | undefined {
  const usable: { table: RawTable; column: RawColumn; values: Float64Array }[] = [];
  for (const cand of list) {
    if (!interpolateMissing(cand.values)) continue;
    const first = cand.values[0]!;
    const constant = cand.values.every((v) => v === first);
    if (constant && cand.values.length > 2) {
      const impossible = metric === 'successRate' && first === 0;
      findings.push({
        severity: impossible ? 'warning' : 'info',
        kind: 'constant-column',
        file: cand.table.file,
        ...(cand.column.column !== undefined ? { column: cand.column.column } : {}),
        message: impossible
          ? `${cand.column.label}: every value is ${first}, which cannot be a success rate of a service that serves requests; treated as unavailable`
          : `${cand.column.label}: every value is ${first} (constant column); it carries no information for fitting`,
        repaired: impossible,
      });
      if (impossible) continue;
    }
    usable.push(cand);
  }
  const chosen = usable[0];
  if (!chosen) return undefined;
  if (chosen !== list[0]) {
    findings.push({ severity: 'info', kind: 'substitution', file: chosen.table.file, message: `${metric} of ${service} taken from ${chosen.column.label} in ${chosen.table.file} because ${list[0]!.table.file} has no usable ${list[0]!.column.label}`, repaired: false });
  }
  return chosen.values;
}

interface UnitRule {
  metric: MetricName;
  /** Factor that turns the suspected wrong unit into the canonical one. */
  factor: number;
  wrong: string;
  right: string;
}

const UNIT_RULES: UnitRule[] = [
  { metric: 'cpu', factor: 1000, wrong: 'cores', right: 'millicores' },
  { metric: 'latencyP90', factor: 0.001, wrong: 'milliseconds', right: 'seconds' },
  { metric: 'latencyP95', factor: 0.001, wrong: 'milliseconds', right: 'seconds' },
  { metric: 'latencyP99', factor: 0.001, wrong: 'milliseconds', right: 'seconds' },
  { metric: 'memory', factor: 1 / 1048576, wrong: 'bytes', right: 'MiB' },
  { metric: 'successRate', factor: 0.01, wrong: 'percent', right: 'ratio' },
];

/**
 * A service whose typical value sits ≥ 100× off the other services' in exactly the direction of a
 * common unit slip (cores for millicores, ms for s, bytes for MiB) and lands among them once
 * converted, was written in the wrong unit: convert it and say so.
 */
function repairUnits(services: Record<string, ServiceTrace>, tables: RawTable[], findings: DataFinding[]): void {
  for (const rule of UNIT_RULES) {
    const typical = new Map<string, number>();
    for (const [name, s] of Object.entries(services)) {
      const v = s.metrics[rule.metric];
      if (!v) continue;
      const positive = Array.from(v).filter((x) => x > 0);
      if (positive.length > 0) typical.set(name, median(positive));
    }
    const names = [...typical.keys()];
    for (const name of names) {
      const own = typical.get(name)!;
      let suspicious: boolean;
      let reference: number;
      if (rule.metric === 'successRate') {
        reference = 1;
        suspicious = own > 1.5 && own <= 100;
      } else {
        const others = names.filter((n) => n !== name).map((n) => typical.get(n)!);
        if (others.length < 2) {
          // Too few services to compare: only a latency above a minute per request is surely not seconds.
          reference = NaN;
          suspicious = rule.factor === 0.001 && own > 60;
        } else {
          reference = median(others);
          const ratio = own / reference;
          suspicious = rule.factor > 1 ? ratio <= 1 / UNIT_RATIO : ratio >= UNIT_RATIO;
          const converted = own * rule.factor;
          suspicious &&= Math.abs(Math.log10(converted / reference)) < Math.abs(Math.log10(own / reference));
        }
      }
      if (!suspicious) continue;
      const values = services[name]!.metrics[rule.metric]!;
      for (let k = 0; k < values.length; k++) values[k] = values[k]! * rule.factor;
      const table = tables.find((t) => t.service === name && t.columns.some((c) => c.metric === rule.metric));
      const column = table?.columns.find((c) => c.metric === rule.metric);
      findings.push({
        severity: 'warning',
        kind: 'unit-mismatch',
        file: table?.file ?? services[name]!.source,
        ...(column?.column !== undefined ? { column: column.column } : {}),
        message: `${column?.label ?? rule.metric} of ${name} looks like ${rule.wrong}, not ${rule.right}: typical value ${fmt(own)}${Number.isFinite(reference) ? ` against ${fmt(reference)} for the other services` : ''}; converted (×${rule.factor >= 1 ? rule.factor : `1/${Math.round(1 / rule.factor)}`})`,
        repaired: true,
      });
    }
  }
}

function fmt(v: number): string {
  return Math.abs(v) >= 1000 || Math.abs(v) < 0.001 ? v.toExponential(2) : String(Number(v.toPrecision(3)));
}

