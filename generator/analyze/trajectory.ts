/**
 * The trajectory format: what a run recorded, per episode and per agent decision stream. On disk a
 * `TrajectorySet` JSON document (schema: schema/trajectory-set.schema.json) whose numeric arrays are
 * columns — base64 of little-endian float32 / int8 / uint8 values, row-major — so 600 decisions × 16
 * features take 51 kB instead of a megabyte of decimal text, and decode into typed arrays directly.
 */
import { readFileSync } from 'node:fs';
import schema from './schema/trajectory-set.schema.json' with { type: 'json' };
import { assertValid } from '../../policies/documents.ts';
import { canonicalJson } from '../../policies/canonical.ts';
import { KarmaError } from '../../policies/errors.ts';

export const TRAJECTORY_API_VERSION = 'karma-hpa.io/v1alpha1';
export const TRAJECTORY_KIND = 'TrajectorySet';
export { schema as trajectorySetSchema };

/** One agent deciding for one service over one episode. Row t of every array is decision t. */
export interface AgentStream {
  agent: string;
  role: string;
  service: string;
  features: string[];
  /** Replica change per action index (the network's outputs). */
  actionSet: number[];
  /** steps × features, raw units (row-major). */
  observations: Float32Array;
  /** steps × actionSet.length, 1 = allowed; absent when nothing was masked. */
  masks?: Uint8Array;
  /** Replica change taken at each decision. */
  actions: Int8Array;
  /** The policy's greedy (most probable allowed) replica change at each decision, when recorded. */
  greedyActions?: Int8Array;
  rewards: Float32Array;
}

export interface FaultEvent {
  atSeconds: number;
  kind: string;
  service?: string;
}

/** Cluster-level series over time, for plots; names are free, the report knows a few (see README). */
export interface Timeline {
  timeSeconds: Float32Array;
  series: Record<string, Float32Array>;
}

export interface Episode {
  scenario: string;
  method: string;
  seed: number;
  decisionPeriodSeconds: number;
  outcome?: Record<string, number>;
  faults?: FaultEvent[];
  timeline?: Timeline;
  agents: AgentStream[];
}

export function streamSteps(s: AgentStream): number {
  return s.actions.length;
}

/** Row t of a stream's observations (a view, not a copy). */
export function observationRow(s: AgentStream, t: number): Float32Array {
  const n = s.features.length;
  return s.observations.subarray(t * n, (t + 1) * n);
}

// ---- on-disk form -------------------------------------------------------------------------------

type Dtype = 'float32' | 'int8' | 'uint8';
interface Column {
  dtype: Dtype;
  shape: number[];
  data: string;
}

interface StoredStream {
  agent: string;
  role: string;
  service: string;
  features: string[];
  actionSet: number[];
  observations: Column;
  masks?: Column;
  actions: Column;
  greedyActions?: Column;
  rewards: Column;
}

interface StoredEpisode {
  scenario: string;
  method: string;
  seed: number;
  decisionPeriodSeconds: number;
  outcome?: Record<string, number>;
  faults?: FaultEvent[];
  timeline?: { timeSeconds: Column; series: Record<string, Column> };
  agents: StoredStream[];
}

interface StoredSet {
  apiVersion: typeof TRAJECTORY_API_VERSION;
  kind: typeof TRAJECTORY_KIND;
  description?: string;
  episodes: StoredEpisode[];
}

function encodeColumn(values: Float32Array | Int8Array | Uint8Array, shape: number[]): Column {
  const dtype: Dtype = values instanceof Float32Array ? 'float32' : values instanceof Int8Array ? 'int8' : 'uint8';
  const bytes = Buffer.alloc(values.byteLength);
  if (dtype === 'float32') for (let i = 0; i < values.length; i++) bytes.writeFloatLE(values[i]!, i * 4);
  else bytes.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  return { dtype, shape, data: bytes.toString('base64') };
}

function decodeColumn(col: Column, expected: Dtype, expectedShape: (number | undefined)[], at: string, where: string): Float32Array | Int8Array | Uint8Array {
  if (col.dtype !== expected) throw new KarmaError(`${at}: dtype is ${col.dtype}, expected ${expected}`, { where, hint: 'see generator/analyze/README.md, "Trajectory format"' });
  expectedShape.forEach((n, i) => {
    if (n !== undefined && col.shape[i] !== n) throw new KarmaError(`${at}/shape/${i}: is ${col.shape[i]}, expected ${n}`, { where, hint: 'every column of a stream has one row per decision' });
  });
  if (col.shape.length !== expectedShape.length) throw new KarmaError(`${at}/shape: has ${col.shape.length} dimensions, expected ${expectedShape.length}`, { where });
  const count = col.shape.reduce((a, b) => a * b, 1);
  const bytes = Buffer.from(col.data, 'base64');
  const width = expected === 'float32' ? 4 : 1;
  if (bytes.length !== count * width) throw new KarmaError(`${at}/data: holds ${bytes.length} bytes; shape [${col.shape.join(', ')}] of ${expected} needs ${count * width}`, { where, hint: 'the file was truncated or written with another shape' });
  if (expected === 'float32') {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = bytes.readFloatLE(i * 4);
    return out;
  }
  const copy = new Uint8Array(bytes);
  return expected === 'int8' ? new Int8Array(copy.buffer, 0, count) : copy;
}

/** The JSON document for a list of episodes (canonical: same episodes → same bytes). */
export function serialiseTrajectories(episodes: readonly Episode[], description?: string): string {
  const stored: StoredSet = {
    apiVersion: TRAJECTORY_API_VERSION,
    kind: TRAJECTORY_KIND,
    description,
    episodes: episodes.map((e) => ({
      scenario: e.scenario,
      method: e.method,
      seed: e.seed,
      decisionPeriodSeconds: e.decisionPeriodSeconds,
      outcome: e.outcome,
      faults: e.faults,
      timeline: e.timeline && {
        timeSeconds: encodeColumn(e.timeline.timeSeconds, [e.timeline.timeSeconds.length]),
        series: Object.fromEntries(Object.entries(e.timeline.series).map(([k, v]) => {
          if (v.length !== e.timeline!.timeSeconds.length) throw new RangeError(`episode ${e.scenario}/${e.method}/${e.seed}: timeline series "${k}" has ${v.length} points for ${e.timeline!.timeSeconds.length} times`);
          return [k, encodeColumn(v, [v.length])];
        })),
      },
      agents: e.agents.map((s) => {
        const steps = streamSteps(s);
        if (s.observations.length !== steps * s.features.length) throw new RangeError(`stream ${s.agent}/${s.service}: ${s.observations.length} observation values for ${steps} steps × ${s.features.length} features`);
        return {
          agent: s.agent,
          role: s.role,
          service: s.service,
          features: s.features,
          actionSet: s.actionSet,
          observations: encodeColumn(s.observations, [steps, s.features.length]),
          masks: s.masks && encodeColumn(s.masks, [steps, s.actionSet.length]),
          actions: encodeColumn(s.actions, [steps]),
          greedyActions: s.greedyActions && encodeColumn(s.greedyActions, [steps]),
          rewards: encodeColumn(s.rewards, [steps]),
        };
      }),
    })),
  };
  return `${canonicalJson(stored)}\n`;
}

/** Parse and validate a TrajectorySet document; errors name the file and the field path. */
export function parseTrajectories(text: string, fileName: string): Episode[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new KarmaError(`not valid JSON: ${(e as Error).message}`, { where: fileName, hint: 'trajectory files are JSON TrajectorySet documents; see generator/analyze/README.md' });
  }
  const set = assertValid<StoredSet>(value, schema, { name: fileName }, 'TrajectorySet', 'see generator/analyze/README.md, "Trajectory format"');
  return set.episodes.map((e, ei) => {
    const at = `/episodes/${ei}`;
    let timeline: Timeline | undefined;
    if (e.timeline) {
      const timeSeconds = decodeColumn(e.timeline.timeSeconds, 'float32', [undefined], `${at}/timeline/timeSeconds`, fileName) as Float32Array;
      const series: Record<string, Float32Array> = {};
      for (const [k, col] of Object.entries(e.timeline.series)) series[k] = decodeColumn(col, 'float32', [timeSeconds.length], `${at}/timeline/series/${k}`, fileName) as Float32Array;
      timeline = { timeSeconds, series };
    }
    const agents = e.agents.map((s, si): AgentStream => {
      const sat = `${at}/agents/${si}`;
      const actions = decodeColumn(s.actions, 'int8', [undefined], `${sat}/actions`, fileName) as Int8Array;
      const steps = actions.length;
      const stream: AgentStream = {
        agent: s.agent,
        role: s.role,
        service: s.service,
        features: s.features,
        actionSet: s.actionSet,
        observations: decodeColumn(s.observations, 'float32', [steps, s.features.length], `${sat}/observations`, fileName) as Float32Array,
        actions,
        rewards: decodeColumn(s.rewards, 'float32', [steps], `${sat}/rewards`, fileName) as Float32Array,
      };
      if (s.masks) stream.masks = decodeColumn(s.masks, 'uint8', [steps, s.actionSet.length], `${sat}/masks`, fileName) as Uint8Array;
      if (s.greedyActions) stream.greedyActions = decodeColumn(s.greedyActions, 'int8', [steps], `${sat}/greedyActions`, fileName) as Int8Array;
      for (let t = 0; t < steps; t++) {
        if (!s.actionSet.includes(actions[t]!)) throw new KarmaError(`${sat}/actions: decision ${t} is ${actions[t]}, not in actionSet [${s.actionSet.join(', ')}]`, { where: fileName });
      }
      return stream;
    });
    return { scenario: e.scenario, method: e.method, seed: e.seed, decisionPeriodSeconds: e.decisionPeriodSeconds, outcome: e.outcome, faults: e.faults, timeline, agents };
  });
}

export function readTrajectoryFile(path: string): Episode[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new KarmaError(`cannot read trajectory file: ${(e as Error).message}`, { where: path });
  }
  return parseTrajectories(text, path);
}
