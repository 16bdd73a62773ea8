/**
 * The in-memory form of every trace source (CSV directory, Prometheus export, live Prometheus):
 * per service, series aligned on one time grid in fixed units, plus the call graph, the fault list
 * and everything found wrong with the data on the way in.
 */

/** Metrics the twin models, in their canonical units. */
export const METRICS = ['cpu', 'memory', 'latencyP90', 'latencyP95', 'latencyP99', 'workload', 'successRate'] as const;
export type MetricName = (typeof METRICS)[number];

/** Canonical unit of each metric: what every loader converts to. */
export const METRIC_UNITS: Record<MetricName, string> = {
  cpu: 'millicores',
  memory: 'MiB',
  latencyP90: 'seconds',
  latencyP95: 'seconds',
  latencyP99: 'seconds',
  workload: 'ops/s',
  successRate: 'ratio 0..1',
};

export type FindingSeverity = 'info' | 'warning' | 'error';

export type FindingKind =
  | 'clock-shift'
  | 'timestamp-mismatch'
  | 'duplicate-timestamp'
  | 'non-monotonic'
  | 'gap'
  | 'missing-value'
  | 'constant-column'
  | 'unit-mismatch'
  | 'unit-converted'
  | 'missing-metric'
  | 'substitution'
  | 'unknown-service'
  | 'non-finite';

/** One problem (or notable fact) about the input data. `repaired` says whether the loader changed data. */
export interface DataFinding {
  severity: FindingSeverity;
  kind: FindingKind;
  file: string;
  line?: number;
  column?: number;
  message: string;
  repaired: boolean;
}

export interface CallEdge {
  source: string;
  target: string;
  weight: number;
}

export interface FaultEvent {
  /** Unix seconds of the injection. */
  time: number;
  service: string;
  pod: string;
  type: string;
}

export interface ServiceTrace {
  name: string;
  /** Pod (or source) the series came from, for messages. */
  source: string;
  /** One value per grid step, canonical units; every value finite after loading. */
  metrics: Partial<Record<MetricName, Float64Array>>;
}

export interface TraceFile {
  /** Path relative to the trace root (or as given). */
  path: string;
  sha256: string;
}

export interface TraceSet {
  /** Sampling step in seconds. */
  stepSeconds: number;
  /** Unix seconds of each grid point. */
  timestamps: number[];
  /** Services by name; iteration order is sorted by name. */
  services: Record<string, ServiceTrace>;
  callGraph: CallEdge[];
  /** Services that receive external load (no caller among the services). */
  entryPoints: string[];
  faults: FaultEvent[];
  findings: DataFinding[];
  files: TraceFile[];
}

/** One file's (or one query's) rows before checks and alignment: what the data says, unrepaired. */
export interface RawTable {
  file: string;
  service: string;
  source: string;
  /** Unix seconds per row as written in the data. */
  timestamps: number[];
  /** 1-based line of each row in its file (for messages), or the sample index for JSON sources. */
  lines: number[];
  /** A second, independent clock per row when the data carries one (the wall-clock `Time` column). */
  wallClock?: (number | undefined)[];
  columns: RawColumn[];
}

export interface RawColumn {
  metric: MetricName;
  /** Header or query label, for messages. */
  label: string;
  /** 1-based column in the file, when the source is a table. */
  column?: number;
  /** Values in canonical units; NaN marks a missing or empty cell. */
  values: number[];
  /** True when the unit came from the source's own declaration (header or mapping), false when assumed. */
  unitDeclared: boolean;
}
