/**
 * A small multilayer perceptron trained with Adam on mean squared error, on Float32Arrays.
 * Parameters are one flat array; per layer W (out × in, row-major) then b, the layout the policy
 * bundle uses for networks, so the same base64 little-endian float32 encoding carries both.
 */
import type { Rng } from '../../policies/random.ts';

export interface Mlp {
  sizes: number[];
  params: Float32Array;
}

export interface MlpTrainConfig {
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Stop when the validation loss has not improved for this many epochs (best weights are kept). */
  patience: number;
  /** L2 penalty added to the gradient of weights (not biases). */
  weightDecay: number;
}

export interface Dataset {
  inputs: Float32Array;
  targets: Float32Array;
  /** 1 where the target is known, 0 where a metric is absent (masked out of the loss). */
  mask: Float32Array;
  count: number;
  inputSize: number;
  outputSize: number;
}

export function parameterCount(sizes: number[]): number {
  let n = 0;
  for (let l = 0; l + 1 < sizes.length; l++) n += sizes[l + 1]! * sizes[l]! + sizes[l + 1]!;
  return n;
}

/** He-initialised weights (ReLU), zero biases; the last layer is scaled down so a fresh net predicts ≈ 0. */
export function initMlp(sizes: number[], rng: Rng): Mlp {
  const params = new Float32Array(parameterCount(sizes));
  let o = 0;
  for (let l = 0; l + 1 < sizes.length; l++) {
    const fanIn = sizes[l]!;
    const fanOut = sizes[l + 1]!;
    const std = Math.sqrt(2 / fanIn) * (l + 2 === sizes.length ? 0.1 : 1);
    for (let i = 0; i < fanOut * fanIn; i++) params[o++] = rng.normal() * std;
    o += fanOut;
  }
  return { sizes: [...sizes], params };
}

/** Forward pass for `n` rows; returns the activations of every layer (index 0 = input). */
function forwardAll(net: Mlp, x: Float32Array, n: number): Float32Array[] {
  const acts: Float32Array[] = [x];
  let o = 0;
  for (let l = 0; l + 1 < net.sizes.length; l++) {
    const nin = net.sizes[l]!;
    const nout = net.sizes[l + 1]!;
    const last = l + 2 === net.sizes.length;
    const input = acts[l]!;
    const out = new Float32Array(n * nout);
    const p = net.params;
    const bOff = o + nout * nin;
    for (let r = 0; r < n; r++) {
      const ib = r * nin;
      const ob = r * nout;
      for (let j = 0; j < nout; j++) {
        let s = p[bOff + j]!;
        const wb = o + j * nin;
        for (let i = 0; i < nin; i++) s += p[wb + i]! * input[ib + i]!;
        out[ob + j] = last || s > 0 ? s : 0;
      }
    }
    acts.push(out);
    o = bOff + nout;
  }
  return acts;
}

export function predict(net: Mlp, x: Float32Array, n: number): Float32Array {
  const acts = forwardAll(net, x, n);
  return acts[acts.length - 1]!;
}

/** Masked MSE of a net on a dataset. */
export function datasetLoss(net: Mlp, data: Dataset): number {
  const out = predict(net, data.inputs, data.count);
  let s = 0;
  let m = 0;
  for (let i = 0; i < out.length; i++) {
    const d = (out[i]! - data.targets[i]!) * data.mask[i]!;
    s += d * d;
    m += data.mask[i]!;
  }
  return m > 0 ? s / m : 0;
}

/** Gradient of the masked MSE over a batch, accumulated into `grad`. */
function backward(net: Mlp, x: Float32Array, y: Float32Array, mask: Float32Array, n: number, grad: Float32Array): void {
  const acts = forwardAll(net, x, n);
  const layers = net.sizes.length - 1;
  const offsets: number[] = [];
  let o = 0;
  for (let l = 0; l < layers; l++) {
    offsets.push(o);
    o += net.sizes[l + 1]! * net.sizes[l]! + net.sizes[l + 1]!;
  }
  const nOutAll = net.sizes[layers]!;
  let active = 0;
  for (let i = 0; i < n * nOutAll; i++) active += mask[i]!;
  const norm = active > 0 ? 2 / active : 0;
  const top = acts[layers]!;
  let delta = new Float32Array(n * nOutAll);
  for (let i = 0; i < delta.length; i++) delta[i] = (top[i]! - y[i]!) * mask[i]! * norm;
  const p = net.params;
  for (let l = layers - 1; l >= 0; l--) {
    const nin = net.sizes[l]!;
    const nout = net.sizes[l + 1]!;
    const wOff = offsets[l]!;
    const bOff = wOff + nout * nin;
    const input = acts[l]!;
    const prevDelta = l > 0 ? new Float32Array(n * nin) : undefined;
    for (let r = 0; r < n; r++) {
      const ib = r * nin;
      const ob = r * nout;
      for (let j = 0; j < nout; j++) {
        const d = delta[ob + j]!;
        if (d === 0) continue;
        grad[bOff + j] = grad[bOff + j]! + d;
        const wb = wOff + j * nin;
        for (let i = 0; i < nin; i++) grad[wb + i] = grad[wb + i]! + d * input[ib + i]!;
        if (prevDelta) for (let i = 0; i < nin; i++) prevDelta[ib + i] = prevDelta[ib + i]! + d * p[wb + i]!;
      }
    }
    if (prevDelta) {
      // ReLU derivative: the unit passed gradient only where its activation was positive.
      for (let i = 0; i < prevDelta.length; i++) if (input[i]! <= 0) prevDelta[i] = 0;
      delta = prevDelta;
    }
  }
}

/** Gradient of the masked MSE over a whole dataset (for checks against finite differences). */
export function lossGradient(net: Mlp, data: Dataset): Float32Array {
  const grad = new Float32Array(net.params.length);
  backward(net, data.inputs, data.targets, data.mask, data.count, grad);
  return grad;
}

export interface TrainReport {
  epochs: number;
  bestEpoch: number;
  trainLoss: number;
  validationLoss: number;
}

/**
 * Adam (β1 0.9, β2 0.999, ε 1e-8) on minibatches in a seeded shuffled order, with early stopping
 * on the validation set. `rows` selects (with repetition, for bootstrap) the training rows.
 */
export function trainMlp(net: Mlp, data: Dataset, rows: number[], validation: Dataset, cfg: MlpTrainConfig, rng: Rng): TrainReport {
  const nParams = net.params.length;
  const m = new Float32Array(nParams);
  const v = new Float32Array(nParams);
  const grad = new Float32Array(nParams);
  const weightMask = new Uint8Array(nParams);
  {
    let o = 0;
    for (let l = 0; l + 1 < net.sizes.length; l++) {
      const w = net.sizes[l + 1]! * net.sizes[l]!;
      weightMask.fill(1, o, o + w);
      o += w + net.sizes[l + 1]!;
    }
  }
  const bx = new Float32Array(cfg.batchSize * data.inputSize);
  const by = new Float32Array(cfg.batchSize * data.outputSize);
  const bm = new Float32Array(cfg.batchSize * data.outputSize);
  let step = 0;
  let best = { loss: validation.count > 0 ? datasetLoss(net, validation) : Infinity, epoch: 0, params: net.params.slice() };
  let epochsRun = 0;
  const order = [...rows];
  for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
    epochsRun = epoch;
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let start = 0; start < order.length; start += cfg.batchSize) {
      const n = Math.min(cfg.batchSize, order.length - start);
      for (let r = 0; r < n; r++) {
        const row = order[start + r]!;
        bx.set(data.inputs.subarray(row * data.inputSize, (row + 1) * data.inputSize), r * data.inputSize);
        by.set(data.targets.subarray(row * data.outputSize, (row + 1) * data.outputSize), r * data.outputSize);
        bm.set(data.mask.subarray(row * data.outputSize, (row + 1) * data.outputSize), r * data.outputSize);
      }
      grad.fill(0);
      backward(net, bx, by, bm, n, grad);
      step++;
      const lr = cfg.learningRate * Math.sqrt(1 - 0.999 ** step) / (1 - 0.9 ** step);
      const p = net.params;
      for (let i = 0; i < nParams; i++) {
        const g = grad[i]! + (weightMask[i] ? cfg.weightDecay * p[i]! : 0);
        m[i] = 0.9 * m[i]! + 0.1 * g;
        v[i] = 0.999 * v[i]! + 0.001 * g * g;
        p[i] = p[i]! - (lr * m[i]!) / (Math.sqrt(v[i]!) + 1e-8);
      }
    }
    if (validation.count > 0) {
      const loss = datasetLoss(net, validation);
      if (loss < best.loss) best = { loss, epoch, params: net.params.slice() };
      else if (epoch - best.epoch >= cfg.patience) break;
    }
  }
  if (validation.count > 0) net.params.set(best.params);
  return { epochs: epochsRun, bestEpoch: best.epoch, trainLoss: datasetLoss(net, data), validationLoss: best.loss };
}

export function encodeFloat32(values: Float32Array): string {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return Buffer.from(bytes).toString('base64');
}

export function decodeFloat32(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(Math.floor(bytes.byteLength / 4));
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
