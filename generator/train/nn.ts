/**
 * A small trainable MLP on typed arrays: batched forward, backpropagation and Adam. Parameters are
 * float32 in the wire layout of policies/network.ts (per layer W out×in row-major, then b), so the
 * trained vector is exactly what the evaluator runs; gradients and Adam moments are float64.
 */
import { mlpFromParameters, parameterCount, type Mlp } from '../../policies/network.ts';
import type { Rng } from '../../policies/random.ts';

export type Activation = 'relu' | 'tanh';

export class TrainableMlp {
  readonly sizes: number[];
  readonly activation: Activation;
  readonly params: Float32Array;
  readonly grads: Float64Array;
  /** Offsets of each layer's W and b in params. */
  private readonly offsets: { w: number; b: number; inputs: number; outputs: number }[];

  constructor(sizes: number[], activation: Activation, params?: Float32Array) {
    this.sizes = sizes;
    this.activation = activation;
    const n = parameterCount(sizes);
    this.params = params ? Float32Array.from(params) : new Float32Array(n);
    if (this.params.length !== n) throw new Error(`parameter vector has ${this.params.length} values, ${n} expected`);
    this.grads = new Float64Array(n);
    this.offsets = [];
    let off = 0;
    for (let l = 0; l + 1 < sizes.length; l++) {
      const inputs = sizes[l]!;
      const outputs = sizes[l + 1]!;
      this.offsets.push({ w: off, b: off + inputs * outputs, inputs, outputs });
      off += inputs * outputs + outputs;
    }
  }

  /** Scaled-normal initialisation (std √(2/in) hidden, `lastScale`·√(1/in) output), zero biases. */
  static init(sizes: number[], activation: Activation, rng: Rng, lastScale: number): TrainableMlp {
    const net = new TrainableMlp(sizes, activation);
    net.offsets.forEach((o, l) => {
      const last = l === net.offsets.length - 1;
      const std = last ? lastScale * Math.sqrt(1 / o.inputs) : Math.sqrt((activation === 'relu' ? 2 : 1) / o.inputs);
      for (let i = 0; i < o.inputs * o.outputs; i++) net.params[o.w + i] = rng.normal() * std;
    });
    return net;
  }

  /** A runtime view sharing the parameters (for policies/network.ts forward). */
  runtime(): Mlp {
    return mlpFromParameters(this.sizes, this.activation, this.params);
  }

  get inputs(): number {
    return this.sizes[0]!;
  }
  get outputs(): number {
    return this.sizes[this.sizes.length - 1]!;
  }

  /**
   * Forward a batch (rows of x, row-major). Returns the outputs and the activations each layer saw,
   * which backward needs.
   */
  forward(x: Float32Array | Float64Array, batch: number): { out: Float64Array; acts: Float64Array[] } {
    const acts: Float64Array[] = [Float64Array.from(x.subarray(0, batch * this.inputs))];
    let cur = acts[0]!;
    for (let l = 0; l < this.offsets.length; l++) {
      const { w, b, inputs, outputs } = this.offsets[l]!;
      const last = l === this.offsets.length - 1;
      const y = new Float64Array(batch * outputs);
      const p = this.params;
      for (let r = 0; r < batch; r++) {
        const xo = r * inputs;
        const yo = r * outputs;
        for (let o = 0; o < outputs; o++) {
          let s = p[b + o]!;
          const row = w + o * inputs;
          for (let i = 0; i < inputs; i++) s += p[row + i]! * cur[xo + i]!;
          y[yo + o] = last ? s : this.activation === 'relu' ? (s > 0 ? s : 0) : Math.tanh(s);
        }
      }
      if (!last) acts.push(y);
      cur = y;
    }
    return { out: cur, acts };
  }

  /** Accumulate ∂loss/∂params into grads, given ∂loss/∂outputs for the batch of the forward call. */
  backward(acts: Float64Array[], dOut: Float64Array, batch: number): void {
    let delta = dOut;
    const p = this.params;
    const g = this.grads;
    for (let l = this.offsets.length - 1; l >= 0; l--) {
      const { w, b, inputs, outputs } = this.offsets[l]!;
      const xin = acts[l]!;
      const dIn = l > 0 ? new Float64Array(batch * inputs) : undefined;
      for (let r = 0; r < batch; r++) {
        const xo = r * inputs;
        const yo = r * outputs;
        for (let o = 0; o < outputs; o++) {
          const d = delta[yo + o]!;
          if (d === 0) continue;
          g[b + o] += d;
          const row = w + o * inputs;
          for (let i = 0; i < inputs; i++) g[row + i] += d * xin[xo + i]!;
          if (dIn) for (let i = 0; i < inputs; i++) dIn[xo + i] += d * p[row + i]!;
        }
      }
      if (dIn) {
        // Through the previous layer's activation: acts[l] holds its output.
        for (let k = 0; k < dIn.length; k++) {
          const a = xin[k]!;
          dIn[k] *= this.activation === 'relu' ? (a > 0 ? 1 : 0) : 1 - a * a;
        }
        delta = dIn;
      }
    }
  }

  zeroGrad(): void {
    this.grads.fill(0);
  }
}

/** Scale gradients so their global L2 norm is at most maxNorm; returns the norm before clipping. */
export function clipGradNorm(nets: readonly TrainableMlp[], maxNorm: number): number {
  let sq = 0;
  for (const n of nets) for (let i = 0; i < n.grads.length; i++) sq += n.grads[i]! * n.grads[i]!;
  const norm = Math.sqrt(sq);
  if (norm > maxNorm && norm > 0) {
    const k = maxNorm / norm;
    for (const n of nets) for (let i = 0; i < n.grads.length; i++) n.grads[i] = n.grads[i]! * k;
  }
  return norm;
}

/** Adam (Kingma & Ba) with bias correction; eps 1e-5 as in common PPO implementations. */
export class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;

  constructor(size: number, beta1 = 0.9, beta2 = 0.999, eps = 1e-5) {
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
  }

  step(net: TrainableMlp, lr: number): void {
    this.t++;
    const { beta1, beta2, eps } = this;
    const c1 = 1 - beta1 ** this.t;
    const c2 = 1 - beta2 ** this.t;
    const p = net.params;
    const g = net.grads;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]!;
      this.m[i] = beta1 * this.m[i]! + (1 - beta1) * gi;
      this.v[i] = beta2 * this.v[i]! + (1 - beta2) * gi * gi;
      p[i] = p[i]! - (lr * (this.m[i]! / c1)) / (Math.sqrt(this.v[i]! / c2) + eps);
    }
  }

  /** Serialisable state for checkpoints. */
  state(): { t: number; m: number[]; v: number[] } {
    return { t: this.t, m: Array.from(this.m), v: Array.from(this.v) };
  }
  restore(s: { t: number; m: number[]; v: number[] }): void {
    this.t = s.t;
    this.m.set(s.m);
    this.v.set(s.v);
  }
}
