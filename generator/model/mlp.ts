/**
 * Regression training of the transition ensemble's MLPs: masked mean squared error, Adam on
 * minibatches, early stopping. The network, backpropagation and Adam are the trainer's
 * (generator/train/nn.ts), so the twin and the policies share one implementation and one weight layout.
 */
import type { Rng } from '../../policies/random.ts';
import { Adam, TrainableMlp } from '../train/nn.ts';

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

/** He-initialised ReLU net, zero biases; the last layer is scaled down (0.1·√(2/in)) so a fresh net predicts ≈ 0. */
export function initMlp(sizes: number[], rng: Rng): TrainableMlp {
  return TrainableMlp.init([...sizes], 'relu', rng, 0.1 * Math.SQRT2);
}

/** The ReLU regressor whose parameters are `params` (wire layout, e.g. decoded from twin.json). */
export function mlpOf(sizes: number[], params: Float32Array): TrainableMlp {
  return new TrainableMlp([...sizes], 'relu', params);
}

export function predict(net: TrainableMlp, x: Float32Array, n: number): Float64Array {
  return net.forward(x, n).out;
}

/** Masked MSE of a net on a dataset. */
export function datasetLoss(net: TrainableMlp, data: Dataset): number {
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

/** Accumulate the gradient of the masked MSE over `n` rows into net.grads. */
function accumulateLossGradient(net: TrainableMlp, x: Float32Array, y: Float32Array, mask: Float32Array, n: number): void {
  const { out, acts } = net.forward(x, n);
  const size = n * net.outputs;
  let active = 0;
  for (let i = 0; i < size; i++) active += mask[i]!;
  const norm = active > 0 ? 2 / active : 0;
  const dOut = new Float64Array(size);
  for (let i = 0; i < size; i++) dOut[i] = (out[i]! - y[i]!) * mask[i]! * norm;
  net.backward(acts, dOut, n);
}

/** Gradient of the masked MSE over a whole dataset (for checks against finite differences). */
export function lossGradient(net: TrainableMlp, data: Dataset): Float64Array {
  net.zeroGrad();
  accumulateLossGradient(net, data.inputs, data.targets, data.mask, data.count);
  return Float64Array.from(net.grads);
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
export function trainMlp(net: TrainableMlp, data: Dataset, rows: number[], validation: Dataset, cfg: MlpTrainConfig, rng: Rng): TrainReport {
  const nParams = net.params.length;
  const adam = new Adam(nParams, 0.9, 0.999, 1e-8);
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
      net.zeroGrad();
      accumulateLossGradient(net, bx, by, bm, n);
      if (cfg.weightDecay > 0) {
        const p = net.params;
        const g = net.grads;
        for (let i = 0; i < nParams; i++) if (weightMask[i]) g[i] = g[i]! + cfg.weightDecay * p[i]!;
      }
      adam.step(net, cfg.learningRate);
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
