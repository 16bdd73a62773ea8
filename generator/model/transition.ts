/**
 * KARMA's hybrid transition model, per service and step:
 *   state  x_t = (cpu, memory, latency P90/P95/P99, success rate)   (absent metrics are masked)
 *   inputs u_t = (workload of the step, active fault type)           (known: the scenario drives them)
 *   x̂_{t+1} = replay(x_t, u_{t+1})                      when a recorded transition has the same quantised key
 *           = physics(x_t, u_t, u_{t+1}) + scale ⊙ mean_k MLP_k(features)   otherwise
 * The traces hold no autoscaler actions (one replica per service throughout), so the "action" inputs
 * are the fault injections and the load.
 */
import { Rng } from '../../policies/random.ts';
import { decodeWeights, encodeWeights } from '../../policies/network.ts';
import { initMlp, mlpOf, predict, trainMlp, type Dataset, type MlpTrainConfig, type TrainReport } from './mlp.ts';
import type { TrainableMlp } from '../train/nn.ts';
import { equilibrium, fitRelaxation, fitServicePhysics, STATE_METRICS, type ServicePhysics, type StateMetric } from './physics.ts';
import { faultActivity, faultEventEffects, faultTypeEffects, DEFAULT_FAULT_WINDOW_SECONDS, type FaultEventEffect, type FaultTypeEffect } from './faults.ts';
import { iqr, medianOf } from './robust.ts';
import type { TraceSet } from './types.ts';

export const STATE_SIZE = STATE_METRICS.length;
/** Normalised inputs and targets are clipped so that one fault spike cannot dominate a gradient. */
const INPUT_CLIP = 10;
const TARGET_CLIP = 5;

export interface Normalisation {
  center: number[];
  scale: number[];
  present: boolean[];
  workloadCenter: number;
  workloadScale: number;
}

export interface ReplayTable {
  /** Bin width in units of each metric's training IQR. */
  tolerance: number;
  /** Minimum recorded transitions behind a key before it is replayed. */
  minCount: number;
  /** key → [count, mean normalised Δstate…], sorted by key. */
  entries: Record<string, number[]>;
}

export interface MlpMember {
  seed: number;
  weights: string;
  report: TrainReport;
}

export interface TransitionConfig {
  seed: number;
  trainFraction: number;
  hidden: number[];
  ensembleSize: number;
  train: MlpTrainConfig;
  /** Share of the training window (its end) held out for early stopping. */
  validationFraction: number;
  replayTolerance: number;
  replayMinCount: number;
  faultWindowSeconds: number;
  /** Horizon (steps) over which the learned correction's gain is calibrated on validation rollouts. */
  calibrationHorizon: number;
}

/** Defaults measured to fit the 12-hour Online Boutique trace in well under 60 s on one core (see README). */
export const DEFAULT_TRANSITION_CONFIG: TransitionConfig = {
  seed: 1,
  trainFraction: 0.75,
  hidden: [64, 64, 64],
  ensembleSize: 5,
  train: { epochs: 40, batchSize: 64, learningRate: 1e-3, patience: 6, weightDecay: 1e-4 },
  validationFraction: 0.15,
  replayTolerance: 0.5,
  replayMinCount: 6,
  faultWindowSeconds: DEFAULT_FAULT_WINDOW_SECONDS,
  calibrationHorizon: 10,
};

export interface TransitionModel {
  stepSeconds: number;
  services: string[];
  faultTypes: string[];
  /** Grid index where the evaluation slice begins (fit on [0, trainEnd)). */
  trainEnd: number;
  physics: Record<string, ServicePhysics>;
  faultEffects: FaultTypeEffect[];
  faultEvents: FaultEventEffect[];
  normalisation: Record<string, Normalisation>;
  replay: ReplayTable;
  mlp: {
    sizes: number[];
    members: MlpMember[];
    config: MlpTrainConfig;
    inputs: string[];
    /**
     * service → per state metric, the least-squares gain (clipped to 0..1) of the ensemble's correction
     * on the validation rows: 0 where the correction did not help physics on unseen data.
     */
    gain: Record<string, number[]>;
  };
  config: TransitionConfig;
}

/** The per-step inputs of one service, known ahead (scenario load and fault schedule). */
export interface ServiceInputs {
  workload: Float64Array;
  fault: Int8Array;
}

export function stateOf(trace: TraceSet, service: string, k: number): number[] {
  const m = trace.services[service]!.metrics;
  return STATE_METRICS.map((name) => m[name]?.[k] ?? 0);
}

export function inputsOf(trace: TraceSet, model: Pick<TransitionModel, 'faultTypes' | 'config'>): Record<string, ServiceInputs> {
  const activity = faultActivity(trace, model.faultTypes, model.config.faultWindowSeconds);
  const out: Record<string, ServiceInputs> = {};
  for (const [name, s] of Object.entries(trace.services)) {
    out[name] = { workload: s.metrics.workload ?? new Float64Array(trace.timestamps.length), fault: activity[name]! };
  }
  return out;
}

function normalisationOf(trace: TraceSet, service: string, trainEnd: number): Normalisation {
  const m = trace.services[service]!.metrics;
  const center: number[] = [];
  const scale: number[] = [];
  const present: boolean[] = [];
  const robustScale = (v: Float64Array): [number, number] => {
    const slice = v.subarray(0, trainEnd);
    const c = medianOf(slice);
    let s = iqr(slice);
    if (!(s > 0)) {
      const mean = slice.reduce((a, b) => a + b, 0) / slice.length;
      s = Math.sqrt(slice.reduce((a, b) => a + (b - mean) ** 2, 0) / slice.length);
    }
    // A near-constant series would make tiny noise look huge: the scale never drops below 5 % of the level.
    s = Math.max(s, Math.abs(c) * 0.05, 1e-9);
    return [c, s];
  };
  for (const name of STATE_METRICS) {
    const v = m[name];
    present.push(v !== undefined);
    const [c, s] = v ? robustScale(v) : [0, 1];
    center.push(c);
    scale.push(s);
  }
  const [wc, ws] = m.workload ? robustScale(m.workload) : [0, 1];
  return { center, scale, present, workloadCenter: wc, workloadScale: ws };
}

const clip = (v: number, c: number): number => (v > c ? c : v < -c ? -c : v);

/** Physics prediction of x_{t+1} from x_t: relax the deviation from equilibrium by φ. */
export function physicsStep(model: TransitionModel, service: string, x: number[], wNow: number, fNow: number, wNext: number, fNext: number): number[] {
  const p = model.physics[service]!;
  const faultNow = fNow > 0 ? model.faultEffects.find((e) => e.type === model.faultTypes[fNow - 1]) : undefined;
  const faultNext = fNext > 0 ? model.faultEffects.find((e) => e.type === model.faultTypes[fNext - 1]) : undefined;
  const eqNow = equilibrium(p, wNow, faultNow);
  const eqNext = equilibrium(p, wNext, faultNext);
  const present = model.normalisation[service]!.present;
  return STATE_METRICS.map((name, i) => {
    if (!present[i]) return 0;
    const a = eqNow[name];
    const b = eqNext[name];
    if (a === undefined || b === undefined) return x[i]!;
    const phi = p.relaxation[name] ?? 0;
    return clampMetric(name, b + phi * (x[i]! - a));
  });
}

function clampMetric(name: StateMetric, v: number): number {
  if (name === 'successRate') return Math.min(1, Math.max(0, v));
  return Math.max(0, v);
}

export function featureNames(model: Pick<TransitionModel, 'faultTypes' | 'services'>): string[] {
  return [
    ...STATE_METRICS.map((m) => `state.${m}`),
    'workload.now',
    'workload.next',
    ...STATE_METRICS.map((m) => `physicsDelta.${m}`),
    ...model.faultTypes.map((f) => `fault.${f}`),
    ...model.services.map((s) => `service.${s}`),
  ];
}

function writeFeatures(model: TransitionModel, service: string, x: number[], wNow: number, wNext: number, fNext: number, phys: number[], out: Float32Array, offset: number): void {
  const n = model.normalisation[service]!;
  let o = offset;
  for (let i = 0; i < STATE_SIZE; i++) out[o++] = n.present[i] ? clip((x[i]! - n.center[i]!) / n.scale[i]!, INPUT_CLIP) : 0;
  out[o++] = clip((wNow - n.workloadCenter) / n.workloadScale, INPUT_CLIP);
  out[o++] = clip((wNext - n.workloadCenter) / n.workloadScale, INPUT_CLIP);
  for (let i = 0; i < STATE_SIZE; i++) out[o++] = n.present[i] ? clip((phys[i]! - x[i]!) / n.scale[i]!, INPUT_CLIP) : 0;
  for (let f = 0; f < model.faultTypes.length; f++) out[o++] = fNext === f + 1 ? 1 : 0;
  const si = model.services.indexOf(service);
  for (let s = 0; s < model.services.length; s++) out[o++] = s === si ? 1 : 0;
}

export function replayKey(model: Pick<TransitionModel, 'normalisation' | 'replay'>, service: string, x: number[], wNext: number, fNext: number): string {
  const n = model.normalisation[service]!;
  const tol = model.replay.tolerance;
  const parts: number[] = [];
  for (let i = 0; i < STATE_SIZE; i++) if (n.present[i]) parts.push(Math.floor((x[i]! - n.center[i]!) / n.scale[i]! / tol));
  parts.push(Math.floor((wNext - n.workloadCenter) / n.workloadScale / tol));
  return `${service}|${fNext}|${parts.join(',')}`;
}

export interface FitProgress {
  (stage: string, done: number, total: number, note?: string): void;
}

/** Fit physics, fault effects, replay table and MLP ensemble on the first `trainFraction` of the trace. */
export function fitTransitionModel(trace: TraceSet, config: TransitionConfig, progress: FitProgress = () => {}): TransitionModel {
  const services = Object.keys(trace.services).sort();
  const steps = trace.timestamps.length;
  const trainEnd = Math.max(3, Math.floor(steps * config.trainFraction));
  const trainUntil = trace.timestamps[trainEnd - 1]! + trace.stepSeconds / 2;
  const faultEvents = faultEventEffects(trace, config.faultWindowSeconds, trainUntil);
  const faultEffects = faultTypeEffects(faultEvents);
  const faultTypes = faultEffects.map((e) => e.type);
  const skeleton = { faultTypes, config };
  const inputs = inputsOf(trace, skeleton);
  const entryWorkload = new Float64Array(steps);
  for (const e of trace.entryPoints) {
    const w = trace.services[e]?.metrics.workload;
    if (w) for (let k = 0; k < steps; k++) entryWorkload[k] = entryWorkload[k]! + w[k]!;
  }

  const physics: Record<string, ServicePhysics> = {};
  const normalisation: Record<string, Normalisation> = {};
  services.forEach((name, i) => {
    const fault = inputs[name]!.fault;
    const calm: number[] = [];
    for (let k = 0; k < trainEnd; k++) if (fault[k] === 0) calm.push(k);
    const fitted = fitServicePhysics({ metrics: trace.services[name]!.metrics, calm: calm.length >= 3 ? calm : Array.from({ length: trainEnd }, (_, k) => k), entryWorkload });
    physics[name] = { ...fitted, relaxation: {} };
    normalisation[name] = normalisationOf(trace, name, trainEnd);
    progress('physics', i + 1, services.length, name);
  });

  const model: TransitionModel = {
    stepSeconds: trace.stepSeconds,
    services,
    faultTypes,
    trainEnd,
    physics,
    faultEffects,
    faultEvents,
    normalisation,
    replay: { tolerance: config.replayTolerance, minCount: config.replayMinCount, entries: {} },
    mlp: { sizes: [], members: [], config: config.train, inputs: [], gain: {} },
    config,
  };

  // Relaxation: regress the deviation from equilibrium at t+1 on the one at t.
  for (const name of services) {
    const p = physics[name]!;
    const inp = inputs[name]!;
    const faultOf = (k: number): FaultTypeEffect | undefined => (inp.fault[k]! > 0 ? faultEffects[inp.fault[k]! - 1] : undefined);
    const eqs = Array.from({ length: trainEnd }, (_, k) => equilibrium(p, inp.workload[k]!, faultOf(k)));
    STATE_METRICS.forEach((metric) => {
      const v = trace.services[name]!.metrics[metric];
      if (!v || eqs[0]![metric] === undefined) return;
      const dev: number[] = [];
      const next: number[] = [];
      for (let k = 0; k + 1 < trainEnd; k++) {
        dev.push(v[k]! - eqs[k]![metric]!);
        next.push(v[k + 1]! - eqs[k + 1]![metric]!);
      }
      // Memory is a level that moves in steps (allocation, restarts), not towards a load equilibrium.
      p.relaxation[metric] = metric === 'memory' ? 1 : fitRelaxation(dev, next);
    });
  }

  // Transitions of the training window: replay table and MLP dataset.
  const names = featureNames(model);
  const transitions: { service: string; k: number }[] = [];
  for (const name of services) for (let k = 0; k + 1 < trainEnd; k++) transitions.push({ service: name, k });
  const data: Dataset = {
    inputs: new Float32Array(transitions.length * names.length),
    targets: new Float32Array(transitions.length * STATE_SIZE),
    mask: new Float32Array(transitions.length * STATE_SIZE),
    count: transitions.length,
    inputSize: names.length,
    outputSize: STATE_SIZE,
  };
  const replaySums = new Map<string, number[]>();
  transitions.forEach(({ service, k }, row) => {
    const inp = inputs[service]!;
    const n = normalisation[service]!;
    const x = stateOf(trace, service, k);
    const xNext = stateOf(trace, service, k + 1);
    const phys = physicsStep(model, service, x, inp.workload[k]!, inp.fault[k]!, inp.workload[k + 1]!, inp.fault[k + 1]!);
    writeFeatures(model, service, x, inp.workload[k]!, inp.workload[k + 1]!, inp.fault[k + 1]!, phys, data.inputs, row * names.length);
    for (let i = 0; i < STATE_SIZE; i++) {
      data.targets[row * STATE_SIZE + i] = n.present[i] ? clip((xNext[i]! - phys[i]!) / n.scale[i]!, TARGET_CLIP) : 0;
      data.mask[row * STATE_SIZE + i] = n.present[i] ? 1 : 0;
    }
    const key = replayKey(model, service, x, inp.workload[k + 1]!, inp.fault[k + 1]!);
    const sums = replaySums.get(key) ?? new Array<number>(STATE_SIZE + 1).fill(0);
    sums[0] = sums[0]! + 1;
    for (let i = 0; i < STATE_SIZE; i++) sums[i + 1] = sums[i + 1]! + (n.present[i] ? (xNext[i]! - x[i]!) / n.scale[i]! : 0);
    replaySums.set(key, sums);
  });
  for (const key of [...replaySums.keys()].sort()) {
    const s = replaySums.get(key)!;
    if (s[0]! < config.replayMinCount) continue;
    model.replay.entries[key] = [s[0]!, ...s.slice(1).map((v) => Number((v / s[0]!).toPrecision(7)))];
  }

  // Time-ordered split: the end of the training window validates (early stopping).
  const valStart = Math.floor(trainEnd * (1 - config.validationFraction));
  const fitRows: number[] = [];
  const valRows: number[] = [];
  transitions.forEach(({ k }, row) => (k + 1 < valStart ? fitRows : valRows).push(row));
  const validation = subset(data, valRows);
  const sizes = [names.length, ...config.hidden, STATE_SIZE];
  const root = new Rng(config.seed);
  model.mlp = { sizes, members: [], config: config.train, inputs: names, gain: {} };
  if (config.ensembleSize > 0 && config.train.epochs > 0) {
    for (let e = 0; e < config.ensembleSize; e++) {
      const rng = root.fork(e);
      const seed = rng.nextUint32();
      const memberRng = new Rng(seed);
      const net = initMlp(sizes, memberRng);
      // Bootstrap: each member sees a resample of the training rows (the first member sees them all).
      const rows = e === 0 ? fitRows : fitRows.map(() => fitRows[memberRng.int(fitRows.length)]!);
      const report = trainMlp(net, data, rows, validation, config.train, memberRng);
      model.mlp.members.push({ seed, weights: encodeWeights(net.params), report: roundReport(report) });
      progress('mlp', e + 1, config.ensembleSize, `member ${e + 1}: ${report.bestEpoch}/${report.epochs} epochs, validation MSE ${report.validationLoss.toFixed(4)}`);
    }
  }
  model.mlp.gain = correctionGains(model, validation, valRows.map((r) => transitions[r]!.service));
  if (model.mlp.members.length > 0) calibrateGainsForRollouts(model, trace, inputs, valStart, trainEnd);
  return model;
}

function correctionGains(model: TransitionModel, validation: Dataset, serviceOfRow: string[]): Record<string, number[]> {
  const nets: TrainableMlp[] = model.mlp.members.map((m) => mlpOf(model.mlp.sizes, decodeWeights(m.weights)));
  const gains: Record<string, number[]> = {};
  const py: Record<string, number[]> = {};
  const pp: Record<string, number[]> = {};
  for (const s of model.services) {
    py[s] = new Array<number>(STATE_SIZE).fill(0);
    pp[s] = new Array<number>(STATE_SIZE).fill(0);
  }
  if (nets.length > 0 && validation.count > 0) {
    const outs = nets.map((net) => predict(net, validation.inputs, validation.count));
    for (let r = 0; r < validation.count; r++) {
      const s = serviceOfRow[r]!;
      for (let j = 0; j < STATE_SIZE; j++) {
        if (!validation.mask[r * STATE_SIZE + j]) continue;
        let p = 0;
        for (const o of outs) p += o[r * STATE_SIZE + j]!;
        p /= outs.length;
        py[s]![j] = py[s]![j]! + p * validation.targets[r * STATE_SIZE + j]!;
        pp[s]![j] = pp[s]![j]! + p * p;
      }
    }
  }
  for (const s of model.services) gains[s] = py[s]!.map((v, j) => (pp[s]![j]! > 0 ? Number(Math.min(1, Math.max(0, v / pp[s]![j]!)).toPrecision(6)) : 0));
  return gains;
}

/** Multipliers of the one-step gains tried on multi-step rollouts over the validation window. */
const ROLLOUT_GAIN_MULTIPLIERS = [0, 0.25, 0.5, 1];

/**
 * A correction that helps one step ahead can still compound over a rollout. Per service and metric,
 * keep the multiple of the one-step gain whose rollouts over the validation window (still inside
 * the fit window) have the lowest MAE averaged over horizons 1 … calibrationHorizon.
 */
function calibrateGainsForRollouts(model: TransitionModel, trace: TraceSet, inputs: Record<string, ServiceInputs>, valStart: number, trainEnd: number): void {
  const horizon = model.config.calibrationHorizon;
  const starts: number[] = [];
  for (let t = valStart; t + horizon < trainEnd; t++) starts.push(t);
  if (starts.length === 0 || horizon < 1) return;
  const base = model.mlp.gain;
  const requests = model.services.flatMap((service) => starts.map((start) => ({ service, start })));
  const errors = ROLLOUT_GAIN_MULTIPLIERS.map((m) => {
    model.mlp.gain = Object.fromEntries(Object.entries(base).map(([s, g]) => [s, g.map((v) => v * m)]));
    const out = rollout(model, trace, requests, horizon, 'hybrid', inputs);
    const err: Record<string, number[]> = {};
    model.services.forEach((service, si) => {
      err[service] = new Array<number>(STATE_SIZE).fill(0);
      for (let h = 0; h < horizon; h++) {
        starts.forEach((t, i) => {
          const predicted = out.predictions[h]![si * starts.length + i]!;
          const real = stateOf(trace, service, t + h + 1);
          for (let j = 0; j < STATE_SIZE; j++) err[service]![j] = err[service]![j]! + Math.abs(predicted[j]! - real[j]!);
        });
      }
    });
    return err;
  });
  model.mlp.gain = Object.fromEntries(
    model.services.map((service) => [
      service,
      base[service]!.map((g, j) => {
        let best = 0;
        ROLLOUT_GAIN_MULTIPLIERS.forEach((_, k) => {
          if (errors[k]![service]![j]! < errors[best]![service]![j]! - 1e-12) best = k;
        });
        return Number((g * ROLLOUT_GAIN_MULTIPLIERS[best]!).toPrecision(6));
      }),
    ]),
  );
}

function roundReport(r: TrainReport): TrainReport {
  return { epochs: r.epochs, bestEpoch: r.bestEpoch, trainLoss: Number(r.trainLoss.toPrecision(6)), validationLoss: Number(r.validationLoss.toPrecision(6)) };
}

function subset(data: Dataset, rows: number[]): Dataset {
  const out: Dataset = {
    inputs: new Float32Array(rows.length * data.inputSize),
    targets: new Float32Array(rows.length * data.outputSize),
    mask: new Float32Array(rows.length * data.outputSize),
    count: rows.length,
    inputSize: data.inputSize,
    outputSize: data.outputSize,
  };
  rows.forEach((r, i) => {
    out.inputs.set(data.inputs.subarray(r * data.inputSize, (r + 1) * data.inputSize), i * data.inputSize);
    out.targets.set(data.targets.subarray(r * data.outputSize, (r + 1) * data.outputSize), i * data.outputSize);
    out.mask.set(data.mask.subarray(r * data.outputSize, (r + 1) * data.outputSize), i * data.outputSize);
  });
  return out;
}

export type Predictor = 'persistence' | 'physics' | 'hybrid';

export interface RolloutRequest {
  service: string;
  /** Grid index of the known starting state. */
  start: number;
}

export interface RolloutResult {
  /** [horizon-1][request] → predicted state. */
  predictions: number[][][];
  /** Ensemble standard deviation per step and request (hybrid only). */
  spread: number[][][];
  /** Share of hybrid steps answered by exact replay. */
  replayHits: number;
  steps: number;
}

/**
 * Roll a predictor forward `horizon` steps from recorded states, feeding the known inputs of each
 * step. All requests advance together so the ensemble runs on one batch per step.
 */
export function rollout(model: TransitionModel, trace: TraceSet, requests: RolloutRequest[], horizon: number, predictor: Predictor, inputs = inputsOf(trace, model)): RolloutResult {
  const nets: TrainableMlp[] = predictor === 'hybrid' ? model.mlp.members.map((m) => mlpOf(model.mlp.sizes, decodeWeights(m.weights))) : [];
  let states = requests.map((r) => stateOf(trace, r.service, r.start));
  const predictions: number[][][] = [];
  const spread: number[][][] = [];
  let hits = 0;
  let total = 0;
  const width = model.mlp.inputs.length;
  for (let h = 0; h < horizon; h++) {
    const next: number[][] = [];
    const sd: number[][] = [];
    if (predictor === 'persistence') {
      predictions.push(states.map((s) => [...s]));
      spread.push(states.map(() => new Array<number>(STATE_SIZE).fill(0)));
      continue;
    }
    const phys = requests.map((r, i) => {
      const k = r.start + h;
      const inp = inputs[r.service]!;
      return physicsStep(model, r.service, states[i]!, inp.workload[k]!, inp.fault[k]!, inp.workload[k + 1]!, inp.fault[k + 1]!);
    });
    if (predictor === 'physics' || nets.length === 0) {
      predictions.push(phys);
      spread.push(phys.map(() => new Array<number>(STATE_SIZE).fill(0)));
      states = phys;
      continue;
    }
    const features = new Float32Array(requests.length * width);
    requests.forEach((r, i) => {
      const k = r.start + h;
      const inp = inputs[r.service]!;
      writeFeatures(model, r.service, states[i]!, inp.workload[k]!, inp.workload[k + 1]!, inp.fault[k + 1]!, phys[i]!, features, i * width);
    });
    const outs = nets.map((net) => predict(net, features, requests.length));
    requests.forEach((r, i) => {
      const k = r.start + h;
      const inp = inputs[r.service]!;
      const n = model.normalisation[r.service]!;
      total++;
      const entry = model.replay.entries[replayKey(model, r.service, states[i]!, inp.workload[k + 1]!, inp.fault[k + 1]!)];
      const x = states[i]!;
      const row: number[] = [];
      const rowSd: number[] = [];
      for (let j = 0; j < STATE_SIZE; j++) {
        if (!n.present[j]) {
          row.push(0);
          rowSd.push(0);
          continue;
        }
        let mean = 0;
        for (const o of outs) mean += o[i * STATE_SIZE + j]!;
        mean /= outs.length;
        let v = 0;
        for (const o of outs) v += (o[i * STATE_SIZE + j]! - mean) ** 2;
        rowSd.push(Math.sqrt(v / outs.length) * n.scale[j]! * (model.mlp.gain[r.service]?.[j] ?? 1));
        const gain = model.mlp.gain[r.service]?.[j] ?? 1;
        const value = entry ? x[j]! + entry[j + 1]! * n.scale[j]! : phys[i]![j]! + gain * mean * n.scale[j]!;
        row.push(clampMetric(STATE_METRICS[j]!, value));
      }
      if (entry) hits++;
      next.push(row);
      sd.push(rowSd);
    });
    predictions.push(next);
    spread.push(sd);
    states = next;
  }
  return { predictions, spread, replayHits: total > 0 ? hits / total : 0, steps: total };
}
