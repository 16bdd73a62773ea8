/**
 * The agents' actor network at run time: an MLP on Float32Array, dependency-free so the sidecar can
 * carry it. Weights travel as base64 of little-endian float32, per layer W (out×in, row-major) then b.
 */
import { KarmaError } from './errors.ts';

export interface NetworkSpec {
  inputs: number;
  hidden: number[];
  outputs: number;
  activation: 'relu' | 'tanh';
  weights: string;
}

/** A decoded network: one weight matrix and bias per layer. */
export interface Mlp {
  sizes: number[];
  activation: 'relu' | 'tanh';
  layers: { w: Float32Array; b: Float32Array; inputs: number; outputs: number }[];
}

export function parameterCount(sizes: readonly number[]): number {
  let n = 0;
  for (let l = 0; l + 1 < sizes.length; l++) n += sizes[l]! * sizes[l + 1]! + sizes[l + 1]!;
  return n;
}

/** Split a flat parameter vector (the wire layout) into layers, without copying. */
export function mlpFromParameters(sizes: readonly number[], activation: 'relu' | 'tanh', params: Float32Array): Mlp {
  const expected = parameterCount(sizes);
  if (params.length !== expected) {
    throw new KarmaError(`network weights have ${params.length} numbers, the layer sizes ${sizes.join('×')} need ${expected}`, {
      hint: 'the weights do not belong to this network shape; regenerate the bundle',
    });
  }
  const layers: Mlp['layers'] = [];
  let off = 0;
  for (let l = 0; l + 1 < sizes.length; l++) {
    const inputs = sizes[l]!;
    const outputs = sizes[l + 1]!;
    const w = params.subarray(off, off + inputs * outputs);
    off += inputs * outputs;
    const b = params.subarray(off, off + outputs);
    off += outputs;
    layers.push({ w, b, inputs, outputs });
  }
  return { sizes: [...sizes], activation, layers };
}

export function encodeWeights(params: Float32Array): string {
  const bytes = new Uint8Array(params.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < params.length; i++) view.setFloat32(i * 4, params[i]!, true);
  return Buffer.from(bytes).toString('base64');
}

export function decodeWeights(base64: string): Float32Array {
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length % 4 !== 0) throw new KarmaError('network weights are not a whole number of float32 values', { hint: 'the base64 text is truncated or corrupt' });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

export function decodeNetwork(spec: NetworkSpec): Mlp {
  return mlpFromParameters([spec.inputs, ...spec.hidden, spec.outputs], spec.activation, decodeWeights(spec.weights));
}

/** Forward pass: hidden layers use the activation, the last layer is linear (logits). */
export function forward(net: Mlp, input: Float32Array): Float32Array {
  let x = input;
  if (x.length !== net.sizes[0]) throw new KarmaError(`observation has ${x.length} features, the network expects ${net.sizes[0]}`);
  for (let l = 0; l < net.layers.length; l++) {
    const { w, b, inputs, outputs } = net.layers[l]!;
    const y = new Float32Array(outputs);
    const last = l === net.layers.length - 1;
    for (let o = 0; o < outputs; o++) {
      let s = b[o]!;
      const row = o * inputs;
      for (let i = 0; i < inputs; i++) s += w[row + i]! * x[i]!;
      y[o] = last ? s : net.activation === 'relu' ? (s > 0 ? s : 0) : Math.tanh(s);
    }
    x = y;
  }
  return x;
}

/**
 * Softmax with the mask inside: masked logits count as −∞, so masked actions get probability exactly 0
 * (never sampled, never argmax). An all-zero mask is a caller error.
 */
export function maskedSoftmax(logits: ArrayLike<number>, mask?: ArrayLike<number>): Float64Array {
  const n = logits.length;
  const p = new Float64Array(n);
  let max = -Infinity;
  for (let i = 0; i < n; i++) if ((!mask || mask[i]) && logits[i]! > max) max = logits[i]!;
  if (max === -Infinity) throw new KarmaError('every action is masked', { hint: 'a role action mask must leave at least one action' });
  let sum = 0;
  for (let i = 0; i < n; i++) {
    if (mask && !mask[i]) continue;
    p[i] = Math.exp(logits[i]! - max);
    sum += p[i]!;
  }
  for (let i = 0; i < n; i++) p[i] = p[i]! / sum;
  return p;
}
