import { describe, expect, it } from 'vitest';
import { decodeNetwork, decodeWeights, encodeWeights, forward, maskedSoftmax, mlpFromParameters } from '../../../policies/network.ts';
import { evaluateAgent, evaluateRules, type AgentPolicy } from '../../../policies/evaluator.ts';
import { Rng } from '../../../policies/random.ts';

describe('network', () => {
  // 2 inputs → 2 hidden (relu) → 2 outputs; every number chosen to be exact in float32.
  const params = Float32Array.from([
    1, -1, // W1 row 0
    0.5, 2, // W1 row 1
    0, -1, // b1
    1, 1, // W2 row 0
    -1, 0.5, // W2 row 1
    0.25, 0, // b2
  ]);
  it('forward matches a hand computation', () => {
    const net = mlpFromParameters([2, 2, 2], 'relu', params);
    // h = relu([1·3 − 1·1 + 0, 0.5·3 + 2·1 − 1]) = [2, 2.5]; y = [2 + 2.5 + 0.25, −2 + 1.25] = [4.75, −0.75]
    expect(Array.from(forward(net, Float32Array.from([3, 1])))).toEqual([4.75, -0.75]);
    // relu cuts the first unit: h = relu([−2, −1.5]) → [0, 0]; y = b2
    expect(Array.from(forward(mlpFromParameters([2, 2, 2], 'relu', params), Float32Array.from([-1, 0])))).toEqual([0.25, 0]);
  });
  it('tanh hidden layers', () => {
    const net = mlpFromParameters([2, 2, 2], 'tanh', params);
    const y = forward(net, Float32Array.from([3, 1]));
    expect(y[0]).toBeCloseTo(Math.tanh(2) + Math.tanh(2.5) + 0.25, 5);
  });
  it('weights round-trip through base64 little-endian float32', () => {
    const text = encodeWeights(params);
    expect(Buffer.from(text, 'base64').readFloatLE(4)).toBe(-1);
    expect(Array.from(decodeWeights(text))).toEqual(Array.from(params));
    const net = decodeNetwork({ inputs: 2, hidden: [2], outputs: 2, activation: 'relu', weights: text });
    expect(Array.from(forward(net, Float32Array.from([3, 1])))).toEqual([4.75, -0.75]);
  });
  it('refuses weights of the wrong size', () => {
    expect(() => decodeNetwork({ inputs: 3, hidden: [2], outputs: 2, activation: 'relu', weights: encodeWeights(params) })).toThrow(/need 14/);
  });
});

describe('maskedSoftmax', () => {
  it('gives masked actions probability exactly 0, others sum to 1', () => {
    const p = maskedSoftmax([5, 1, 0, -2], [0, 1, 1, 0]);
    expect(p[0]).toBe(0);
    expect(p[3]).toBe(0);
    expect(p[1]! + p[2]!).toBeCloseTo(1, 12);
    expect(p[1]! / p[2]!).toBeCloseTo(Math.E, 10);
  });
  it('never picks a masked action, whatever the logits', () => {
    const rng = new Rng(7);
    for (let t = 0; t < 500; t++) {
      const logits = Array.from({ length: 7 }, () => rng.normal() * 20);
      const mask = Array.from({ length: 7 }, () => (rng.bernoulli(0.5) ? 1 : 0));
      mask[rng.int(7)] = 1;
      const p = maskedSoftmax(logits, mask);
      let u = rng.next();
      let pick = 0;
      for (; pick < 6; pick++) { u -= p[pick]!; if (u < 0) break; }
      for (let i = 0; i < 7; i++) if (!mask[i]) expect(p[i]).toBe(0);
      expect(mask[pick]).toBe(1);
    }
  });
  it('throws when everything is masked', () => {
    expect(() => maskedSoftmax([1, 2], [0, 0])).toThrow(/every action is masked/);
  });
});

describe('evaluateAgent', () => {
  const params = new Float32Array(2 * 3 + 3);
  params.set([0, 0, 0, 0, 0, 0, /* b */ 0, 2, 1]); // linear network: logits = b
  const agent: AgentPolicy = {
    name: 'a', role: 'r', services: ['A'],
    observation: { features: ['cpuUtilization', 'pendingRequests'], mean: [0, 0], std: [1, 1] },
    network: { inputs: 2, hidden: [], outputs: 3, activation: 'relu', weights: encodeWeights(params) },
    actions: [-1, 0, 1],
    rules: [{ conditions: [{ feature: 'pendingRequests', op: '>', threshold: 10 }], action: 1, support: 5 }],
  };
  it('acts greedily under the mask', () => {
    const d = evaluateAgent(agent, Float32Array.from([0.5, 3]));
    expect(d.replicaChange).toBe(0);
    expect(d.confidence).toBeCloseTo(Math.exp(2) / (1 + Math.exp(2) + Math.exp(1)), 6);
    expect(evaluateAgent(agent, Float32Array.from([0.5, 3]), [1, 0, 1]).replicaChange).toBe(1);
  });
  it('evaluates distilled rules as a decision list', () => {
    expect(evaluateRules(agent, Float32Array.from([0.5, 30])).replicaChange).toBe(1);
    expect(evaluateRules(agent, Float32Array.from([0.5, 3])).replicaChange).toBe(0);
    expect(evaluateRules(agent, Float32Array.from([0.5, 30]), [1, 1, 0]).replicaChange).toBe(0);
  });
});
