import { describe, expect, it } from 'vitest';
import { datasetLoss, initMlp, lossGradient, mlpOf, predict, trainMlp, type Dataset } from '../../../generator/model/mlp.ts';
import { decodeWeights, encodeWeights } from '../../../policies/network.ts';
import { huberRegression } from '../../../generator/model/robust.ts';
import { errorStats } from '../../../generator/model/fidelity.ts';
import { Rng } from '../../../policies/random.ts';

function dataset(n: number, f: (x: number) => number, rng: Rng): Dataset {
  const inputs = new Float32Array(n);
  const targets = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    inputs[i] = rng.uniform(-2, 2);
    targets[i] = f(inputs[i]!);
  }
  return { inputs, targets, mask: new Float32Array(n).fill(1), count: n, inputSize: 1, outputSize: 1 };
}

describe('MLP regression on the shared network (generator/train/nn.ts)', () => {
  it('backpropagation matches a finite-difference gradient', () => {
    const rng = new Rng(3);
    const net = initMlp([3, 5, 4, 2], rng);
    const data: Dataset = { inputs: new Float32Array([0.3, -1.2, 0.8, 1.1, 0.4, -0.5]), targets: new Float32Array([0.5, -0.2, 1.0, 0.3]), mask: new Float32Array([1, 1, 1, 0]), count: 2, inputSize: 3, outputSize: 2 };
    const analytic = lossGradient(net, data);
    const base = Float32Array.from(net.params);
    const eps = 1e-2;
    let checked = 0;
    for (let i = 0; i < base.length; i += 3) {
      net.params[i] = base[i]! + eps;
      const up = datasetLoss(net, data);
      net.params[i] = base[i]! - eps;
      const down = datasetLoss(net, data);
      net.params[i] = base[i]!;
      const numeric = (up - down) / (2 * eps);
      expect(analytic[i]!).toBeCloseTo(numeric, 2);
      if (Math.abs(numeric) > 1e-3) checked++;
    }
    expect(checked).toBeGreaterThan(3);
    const before = datasetLoss(net, data);
    trainMlp(net, data, [0, 1], { ...data, count: 0 }, { epochs: 1, batchSize: 2, learningRate: 1e-3, patience: 1, weightDecay: 0 }, new Rng(1));
    expect(datasetLoss(net, data)).toBeLessThan(before);
  });

  it('learns a smooth function and keeps the best validation weights', () => {
    const rng = new Rng(5);
    const train = dataset(512, Math.sin, rng);
    const val = dataset(128, Math.sin, rng);
    const net = initMlp([1, 32, 32, 1], new Rng(9));
    const start = datasetLoss(net, val);
    const report = trainMlp(net, train, Array.from({ length: 512 }, (_, i) => i), val, { epochs: 60, batchSize: 32, learningRate: 3e-3, patience: 10, weightDecay: 0 }, new Rng(2));
    expect(report.validationLoss).toBeLessThan(start / 20);
    expect(datasetLoss(net, val)).toBeCloseTo(report.validationLoss, 6);
    expect(predict(net, new Float32Array([1]), 1)[0]).toBeCloseTo(Math.sin(1), 1);
  });

  it('a net rebuilt from its base64 weights predicts the same values', () => {
    const net = initMlp([3, 4, 2], new Rng(7));
    const x = new Float32Array([0.3, -1.2, 0.8, 1.1, 0.4, -0.5]);
    const copy = mlpOf([3, 4, 2], decodeWeights(encodeWeights(net.params)));
    expect(Array.from(predict(copy, x, 2))).toEqual(Array.from(predict(net, x, 2)));
    expect(encodeWeights(new Float32Array([1]))).toBe('AACAPw==');
  });
});

describe('robust regression', () => {
  it('recovers a line through 20 % gross outliers', () => {
    const rng = new Rng(4);
    const x: number[][] = [];
    const y: number[] = [];
    for (let i = 0; i < 200; i++) {
      const w = rng.uniform(0, 10);
      x.push([1, w]);
      y.push(2 + 0.5 * w + 0.05 * rng.normal() + (i % 5 === 0 ? 40 : 0));
    }
    const fit = huberRegression(x, y);
    expect(fit.coefficients[0]).toBeCloseTo(2, 0);
    expect(fit.coefficients[1]).toBeCloseTo(0.5, 1);
  });
});

describe('error statistics', () => {
  it('MAE, MAPE without zeros, R² and accuracy', () => {
    const s = errorStats([1, 2, 3.3, 0.5], [1, 2, 3, 0], 0);
    expect(s.mae).toBeCloseTo((0 + 0 + 0.3 + 0.5) / 4, 9);
    expect(s.mape).toBeCloseTo((0 + 0 + 0.1) / 3, 6);
    expect(s.mapeExcluded).toBe(1);
    expect(s.r2).toBeCloseTo(1 - (0.09 + 0.25) / 5, 9);
    // 3.3 vs 3 is exactly 10 % off (within); 0.5 vs 0 is not within 10 % of max(0, IQR 0).
    expect(s.accuracy).toBeCloseTo(0.75, 9);
  });
});
