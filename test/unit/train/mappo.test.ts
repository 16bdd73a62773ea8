import { describe, expect, it } from 'vitest';
import { actorLossAndGrad, calibrationRows, computeGae, createTrainer, DEFAULT_MAPPO_CONFIG, episodeSeed, hasConverged, inProcessRunner, trainIteration, valueLossAndGrad, type IterationLog } from '../../../generator/train/mappo.ts';
import { Adam, clipGradNorm, TrainableMlp } from '../../../generator/train/nn.ts';
import { ToyCoordinationEnv } from '../../../generator/train/toy-env.ts';
import type { MarlEnv, MarlEnvSpec, MarlObservation, MarlStepResult } from '../../../generator/train/env.ts';
import { Rng } from '../../../policies/random.ts';
import { forward } from '../../../policies/network.ts';

describe('computeGae', () => {
  it('matches a hand-computed sequence', () => {
    // γ = 0.9, λ = 0.8; rewards [1, 0, 2], values [0.5, 1, 1.5], terminal after t = 2.
    // δ2 = 2 − 1.5 = 0.5;           A2 = 0.5
    // δ1 = 0 + 0.9·1.5 − 1 = 0.35;  A1 = 0.35 + 0.72·0.5 = 0.71
    // δ0 = 1 + 0.9·1 − 0.5 = 1.4;   A0 = 1.4 + 0.72·0.71 = 1.9112
    const { advantages, returns } = computeGae([1, 0, 2], [0.5, 1, 1.5], 0.9, 0.8);
    expect(advantages[2]).toBeCloseTo(0.5, 12);
    expect(advantages[1]).toBeCloseTo(0.71, 12);
    expect(advantages[0]).toBeCloseTo(1.9112, 12);
    expect(Array.from(returns).map((r) => Number(r.toFixed(10)))).toEqual([2.4112, 1.71, 2]);
  });
  it('λ = 1 gives discounted returns minus values', () => {
    const { returns } = computeGae([1, 1, 1], [0, 0, 0], 0.5, 1);
    expect(Array.from(returns)).toEqual([1.75, 1.5, 1]);
  });
});

/** Loss of a whole minibatch as a function of the parameters, for finite differences. */
function batchLoss(net: TrainableMlp, x: Float32Array, B: number, masks: Uint8Array[], actions: number[], oldLogp: number[], adv: number[]): number {
  const { out } = net.forward(x, B);
  const nA = net.outputs;
  let loss = 0;
  const d = new Float64Array(nA);
  for (let i = 0; i < B; i++) loss += actorLossAndGrad(out.subarray(i * nA, (i + 1) * nA), masks[i]!, actions[i]!, oldLogp[i]!, adv[i]!, 0.2, 0.05, d).loss / B;
  return loss;
}

describe('PPO loss gradients', () => {
  it('backprop of the clipped surrogate + entropy matches finite differences', () => {
    const rng = new Rng(3);
    for (const activation of ['tanh', 'relu'] as const) {
      const net = TrainableMlp.init([3, 5, 4], activation, rng, 1);
      // float32 parameters: finite differences in float64 on a copy are too coarse; use a float64 check
      // through the loss evaluated with perturbed float32 values and a generous step.
      const B = 6;
      const x = Float32Array.from({ length: B * 3 }, () => rng.normal());
      const masks = Array.from({ length: B }, (_, i) => Uint8Array.from([1, i % 2, 1, 1]));
      const actions = [0, 2, 3, 0, 2, 3];
      const oldLogp = actions.map(() => Math.log(0.2 + 0.2 * rng.next()));
      const adv = actions.map(() => rng.normal());
      net.zeroGrad();
      const { out, acts } = net.forward(x, B);
      const dOut = new Float64Array(B * 4);
      const d = new Float64Array(4);
      for (let i = 0; i < B; i++) {
        actorLossAndGrad(out.subarray(i * 4, (i + 1) * 4), masks[i]!, actions[i]!, oldLogp[i]!, adv[i]!, 0.2, 0.05, d);
        for (let a = 0; a < 4; a++) dOut[i * 4 + a] = d[a]! / B;
      }
      net.backward(acts, dOut, B);
      let checked = 0;
      for (let p = 0; p < net.params.length; p += 3) {
        const orig = net.params[p]!;
        const h = 1e-2;
        net.params[p] = orig + h;
        const up = batchLoss(net, x, B, masks, actions, oldLogp, adv);
        const hp = net.params[p]! - orig;
        net.params[p] = orig - h;
        const down = batchLoss(net, x, B, masks, actions, oldLogp, adv);
        const hm = orig - net.params[p]!;
        net.params[p] = orig;
        const numeric = (up - down) / (hp + hm);
        expect(Math.abs(numeric - net.grads[p]!)).toBeLessThan(2e-3 + 0.02 * Math.abs(numeric));
        checked++;
      }
      expect(checked).toBeGreaterThan(10);
    }
  });
  it('the clipped branch has no gradient once the ratio leaves the trust region', () => {
    const d = new Float64Array(2);
    // ratio = 2 (> 1 + ε) with positive advantage: clipped objective is flat.
    const logits = [0, 0];
    actorLossAndGrad(logits, [1, 1], 0, Math.log(0.25), 1, 0.2, 0, d);
    expect(Array.from(d)).toEqual([0, 0]);
    // with negative advantage the unclipped (pessimistic) branch is active and pushes the action down
    actorLossAndGrad(logits, [1, 1], 0, Math.log(0.25), -1, 0.2, 0, d);
    expect(d[0]).toBeGreaterThan(0);
  });
  it('value clipping keeps the pessimistic branch', () => {
    expect(valueLossAndGrad(2, 0, 3, 0.5)).toEqual({ loss: 0.5 * 2.5 ** 2, dValue: 0 });
    expect(valueLossAndGrad(0.2, 0, 3, 0.5)).toEqual({ loss: 0.5 * 2.8 ** 2, dValue: 0.2 - 3 });
    expect(valueLossAndGrad(1, 0, 0, 0)).toEqual({ loss: 0.5, dValue: 1 });
  });
});

describe('nn', () => {
  it('batched forward equals the runtime forward of policies/network.ts', () => {
    const net = TrainableMlp.init([4, 8, 8, 3], 'tanh', new Rng(1), 1);
    const x = Float32Array.from([0.1, -2, 3, 0.5]);
    const batch = net.forward(x, 1).out;
    const runtime = forward(net.runtime(), x);
    for (let i = 0; i < 3; i++) expect(batch[i]).toBeCloseTo(runtime[i]!, 5);
  });
  it('Adam with gradient clipping fits a linear map', () => {
    const net = TrainableMlp.init([2, 1], 'tanh', new Rng(2), 1);
    const opt = new Adam(net.params.length);
    const rng = new Rng(5);
    for (let it = 0; it < 400; it++) {
      const x = Float32Array.from({ length: 32 * 2 }, () => rng.normal());
      const { out, acts } = net.forward(x, 32);
      const d = new Float64Array(32);
      for (let i = 0; i < 32; i++) d[i] = (out[i]! - (2 * x[2 * i]! - x[2 * i + 1]! + 0.5)) / 32;
      net.zeroGrad();
      net.backward(acts, d, 32);
      clipGradNorm([net], 1);
      opt.step(net, 0.05);
    }
    expect(Array.from(net.params).map((v) => Number(v.toFixed(2)))).toEqual([2, -1, 0.5]);
  });
});

describe('MAPPO', () => {
  const config = { ...DEFAULT_MAPPO_CONFIG, iterations: 25, episodesPerIteration: 8, hidden: [16], entropyCoef: 0.003, actorLearningRate: 3e-3, criticLearningRate: 3e-3, convergenceStd: 0 };
  it('learns the toy coordination task and never takes a masked action', async () => {
    const env = new ToyCoordinationEnv(8);
    const state = createTrainer(env.spec, config, calibrationRows(env, [episodeSeed(config.seed, -1, 0)]));
    let first: IterationLog | undefined;
    let last: IterationLog | undefined;
    for (let i = 0; i < config.iterations; i++) {
      last = await trainIteration(env.spec, state, config, inProcessRunner(env));
      first ??= last;
    }
    // random play: 8 steps × 1/3; a perfect team: 8.
    expect(first!.meanReturn).toBeLessThan(4);
    expect(last!.meanReturn).toBeGreaterThan(6.5);
  });
  it('freezes observation statistics and a per-agent reward scale from calibration', () => {
    const env = new ToyCoordinationEnv(4);
    const calibration = calibrationRows(env, [1, 2], 0.5);
    // every slot's discounted returns-to-go: 4 per slot per episode
    expect(calibration.returns!.map((r) => r.length)).toEqual([2 * 2 * 4, 2 * 1 * 4]);
    const state = createTrainer(env.spec, config, calibration);
    const rs = calibration.returns![1]!;
    const mean = rs.reduce((a, b) => a + b, 0) / rs.length;
    expect(state.rewardScale[1]).toBeCloseTo(Math.sqrt(rs.reduce((a, b) => a + (b - mean) ** 2, 0) / rs.length), 12);
    expect(createTrainer(env.spec, { ...config, normaliseRewards: false }, calibration).rewardScale).toEqual([1, 1]);
    // one-hot signal features have mean ≈ 1/3 and a non-zero std
    expect(state.obsNorm[0]!.std[0]).toBeGreaterThan(0.2);
  });
  it('convergence needs a spread small against the improvement made, and a high enough mean', () => {
    const h = (xs: number[]): IterationLog[] => xs.map((meanReturn, iteration) => ({ iteration, meanReturn }) as IterationLog);
    const c = { convergenceWindow: 3, convergenceStd: 0.1, convergenceMean: 5 };
    expect(hasConverged(h([-20, 6, 6.1, 6, 6.05, 6.1, 6, 6.05, 6.1]), c)).toBe(true); // std 0.04 < 0.1 × 26.1, no trend since the window ending halfway
    expect(hasConverged(h([-20, 6, 6.1, 6, 6.05, 6.1, 6]), c)).toBe(false); // the window ending halfway still holds the first iteration
    expect(hasConverged(h([-20, -5, 2, 6, 12, 4]), c)).toBe(false); // std 3.3 > 3.2
    expect(hasConverged(h([-20, 4, 4, 4, 4, 4, 4]), c)).toBe(false); // mean 4 ≤ λ
    expect(hasConverged(h([6, 6.1, 6]), c)).toBe(false); // less than two windows
    expect(hasConverged(h([-20, -20, -20, -17, -17, -17]), { ...c, convergenceMean: null })).toBe(false); // still rising: 3 > 0.1 × 3
    expect(hasConverged(h([-20, 4, 4, 4, 4, 4, 4, 4, 4]), { ...c, convergenceMean: null })).toBe(true);
    expect(hasConverged(h([-20, -5, 2, 6, 6.05, 6.1]), c)).toBe(false); // the window before was still rising
    // A slow rise under the noise: neighbouring windows differ by less than the tolerance (0.1 × 26 = 2.6),
    // but the window that ended halfway (iterations 2–4, mean 2) is 3.6 below the last (5.6): still rising.
    const slow = [-20, 6, 1, 2, 3, 3.5, 4.5, 5, 5.5, 5, 5.5, 6.3];
    expect(Math.abs((5 + 5.5 + 6.3) / 3 - (5.5 + 5 + 4.5) / 3)).toBeLessThan(0.1 * 26.3);
    expect(hasConverged(h(slow), { ...c, convergenceMean: null })).toBe(false);
    expect(hasConverged(h([...slow, 6, 6.1, 6, 6.1, 6, 6.05, 6.1, 6, 6.1, 6, 6]), { ...c, convergenceMean: null })).toBe(true); // the rise stopped
  });
  it('on validations, convergence is the deployed agents settling, whatever the sampled return does', () => {
    // Returns rising steadily (never converged on returns); a validation every 2 iterations.
    const h = (vals: [number, number][], returns?: number[]): IterationLog[] => {
      const out: IterationLog[] = [];
      vals.forEach(([failed, cost], k) => {
        for (const j of [0, 1]) {
          const iteration = 2 * k + j;
          out.push({ iteration, meanReturn: returns?.[iteration] ?? -100 + iteration, ...(j === 1 ? { validation: { meanFailedShare: failed, meanCostRatio: cost, scenarios: [] } } : {}) } as IterationLog);
        }
      });
      return out;
    };
    const c = { convergenceWindow: 3, convergenceStd: 0.06, convergenceMean: null, convergenceValidations: 3, convergenceValidationChange: 0.1 };
    const settling: [number, number][] = [[0.05, 1.4], [0.07, 1.25], [0.06, 1.2], [0.07, 1.1], [0.065, 1.12], [0.06, 1.09]];
    // Windows: failed 6.0 % → 6.5 % (+8 %), cost 1.283 → 1.103 (−14 %): cost still falling.
    expect(hasConverged(h(settling), c)).toBe(false);
    const settled: [number, number][] = [...settling, [0.07, 1.1], [0.06, 1.11], [0.066, 1.08]];
    // Windows: failed 6.5 % → 6.53 %, cost 1.103 → 1.097: settled, though the return still rises.
    expect(hasConverged(h(settled), c)).toBe(true);
    expect(hasConverged(h(settled), { ...c, convergenceOn: 'return' })).toBe(false);
    expect(hasConverged(h(settled), { ...c, convergenceValidationChange: 0.001 })).toBe(false);
    // Failures that doubled in the last window are not settled, even at a flat cost.
    expect(hasConverged(h([...settled.slice(0, 6), [0.12, 1.1], [0.14, 1.1], [0.13, 1.1]]), c)).toBe(false);
    // Fewer than two windows of validations: not yet.
    expect(hasConverged(h(settled.slice(0, 5)), c)).toBe(false);
    // 'validation' without any validation in the history never converges; 'auto' then judges returns.
    const flat = Array.from({ length: 12 }, (_, iteration) => ({ iteration, meanReturn: iteration === 0 ? -20 : 5 }) as IterationLog);
    expect(hasConverged(flat, { ...c, convergenceOn: 'validation' })).toBe(false);
    expect(hasConverged(flat, c)).toBe(true);
    // λ still applies to the return.
    expect(hasConverged(h(settled), { ...c, convergenceMean: 0 })).toBe(false);
  });
});

/**
 * A one-agent bandit with a budget: "generous" (action 1) earns 1 and costs 1, "frugal" (action 0) earns
 * 0.6 and costs nothing; the budget allows generous in at most that share of the steps (costRatio =
 * share ÷ budget). With several budgets, episode i is of kind i mod their count, the agent sees its kind,
 * and the summary reports each kind's share under `generous<kind>`.
 */
class BudgetBandit implements MarlEnv {
  readonly spec: MarlEnvSpec;
  private t = 0;
  private generous = 0;
  private kind = 0;
  private readonly budgets: number[];
  constructor(budgets: number[] = [0.5]) {
    this.budgets = budgets;
    const kinds = budgets.length;
    this.spec = { agents: [{ name: 'spender', slots: ['s'], features: [kinds > 1 ? 'kind' : 'bias'], actions: [0, 1] }], stateSize: 1, ...(kinds > 1 ? { episodeKinds: kinds } : {}) };
  }
  reset(_seed: number, episode: number): void {
    this.t = 0;
    this.generous = 0;
    this.kind = episode % this.budgets.length;
  }
  observe(): MarlObservation {
    const several = this.budgets.length > 1;
    return { obs: [[Float32Array.of(several ? this.kind : 1)]], masks: [[Uint8Array.of(1, 1)]], state: Float32Array.of(several ? this.kind : this.t / 8) };
  }
  step(actions: number[][]): MarlStepResult {
    const a = actions[0]![0]!;
    this.generous += a;
    this.t++;
    return { rewards: [[a === 1 ? 1 : 0.6]], costs: [[a]], done: this.t >= 8 };
  }
  summary(): Record<string, number> {
    const key = this.budgets.length > 1 ? `generous${this.kind}` : 'generousShare';
    return { [key]: this.generous / 8, costRatio: this.generous / 8 / this.budgets[this.kind]! };
  }
}

describe('MAPPO with a cost constraint per episode kind', () => {
  const config = { ...DEFAULT_MAPPO_CONFIG, iterations: 40, episodesPerIteration: 8, hidden: [8], entropyCoef: 0.003, actorLearningRate: 1e-2, criticLearningRate: 1e-2, convergenceStd: 0, normaliseRewards: false };
  const train = async (scope: 'pooled' | 'kind'): Promise<{ rich: number; poor: number; logs: IterationLog[]; multipliers: number[] }> => {
    // Even episodes may spend on every step, odd ones on a quarter: one pooled multiplier prices both alike.
    const env = new BudgetBandit([1, 0.25]);
    const c = { ...config, costConstraint: { ratio: 1, learningRate: 0.5, maxMultiplier: 5, scope } };
    const state = createTrainer(env.spec, c, calibrationRows(env, [1]));
    const logs: IterationLog[] = [];
    for (let i = 0; i < c.iterations; i++) logs.push(await trainIteration(env.spec, state, c, inProcessRunner(env)));
    // Each kind's share is averaged over all episodes (half of them of that kind): × 2 for the kind's own.
    const last = (k: string): number => (2 * logs.slice(-5).reduce((a, l) => a + l.summary[k]!, 0)) / 5;
    return { rich: last('generous0'), poor: last('generous1'), logs, multipliers: state.costMultipliers };
  };
  it('keeps one multiplier per kind; the kind within its budget stays unpriced and spends', async () => {
    const perKind = await train('kind');
    expect(perKind.multipliers).toHaveLength(2);
    expect(perKind.logs.every((l) => l.costByKind!.length === 2 && l.costByKind![0]!.multiplier === 0)).toBe(true);
    expect(Math.max(...perKind.logs.map((l) => l.costByKind![1]!.multiplier))).toBeGreaterThan(0.5);
    expect(perKind.rich).toBeGreaterThan(0.7);
    expect(perKind.poor).toBeLessThan(0.5);
    const pooled = await train('pooled');
    expect(pooled.multipliers).toHaveLength(1);
    expect(pooled.logs.at(-1)!.costByKind).toBeUndefined();
    // The pooled mean ratio (rich ≤ 1, poor up to 4) prices the rich kind too.
    expect(pooled.rich).toBeLessThan(perKind.rich);
  });
});

describe('MAPPO with a cost constraint (Lagrange multiplier)', () => {
  const config = { ...DEFAULT_MAPPO_CONFIG, iterations: 40, episodesPerIteration: 8, hidden: [8], entropyCoef: 0.003, actorLearningRate: 1e-2, criticLearningRate: 1e-2, convergenceStd: 0, normaliseRewards: false };
  const train = async (costConstraint: typeof config.costConstraint): Promise<{ share: number; multiplier: number; logs: IterationLog[] }> => {
    const env = new BudgetBandit();
    const c = { ...config, costConstraint };
    const state = createTrainer(env.spec, c, calibrationRows(env, [1]));
    const logs: IterationLog[] = [];
    for (let i = 0; i < c.iterations; i++) logs.push(await trainIteration(env.spec, state, c, inProcessRunner(env)));
    const share = logs.slice(-5).reduce((a, l) => a + l.summary.generousShare!, 0) / 5;
    return { share, multiplier: state.costMultipliers[0]!, logs };
  };
  it('unconstrained, the agent spends on every step; constrained, it keeps near its budget', async () => {
    const free = await train(null);
    expect(free.share).toBeGreaterThan(0.85);
    expect(free.multiplier).toBe(0);
    expect(free.logs[0]!.costRatio).toBeUndefined();
    const bound = await train({ ratio: 1, learningRate: 0.5, maxMultiplier: 5 });
    expect(bound.share).toBeLessThan(0.7);
    expect(bound.multiplier).toBeGreaterThan(0.1);
    // the multiplier moves by the learning rate times the excess ratio, within [0, 5]
    expect(bound.logs[0]!.costMultiplier).toBe(0);
    for (let i = 0; i + 1 < bound.logs.length; i++) {
      const l = bound.logs[i]!;
      expect(bound.logs[i + 1]!.costMultiplier).toBeCloseTo(Math.min(5, Math.max(0, l.costMultiplier! + 0.5 * (l.costRatio! - 1))), 12);
    }
  });
  it('the multiplier never leaves [0, maxMultiplier]', async () => {
    const capped = await train({ ratio: 0.01, learningRate: 10, maxMultiplier: 0.3 });
    expect(Math.max(...capped.logs.map((l) => l.costMultiplier!))).toBeLessThanOrEqual(0.3);
    const slack = await train({ ratio: 10, learningRate: 10, maxMultiplier: 5 });
    expect(slack.logs.every((l) => l.costMultiplier === 0)).toBe(true);
  });
  it('measure greedy: the ratio comes from extra greedy episodes, not from the sampled ones', async () => {
    const sampled = await train({ ratio: 1, learningRate: 0.5, maxMultiplier: 5 });
    const greedy = await train({ ratio: 1, learningRate: 0.5, maxMultiplier: 5, measure: 'greedy' });
    // A greedy episode plays one action throughout: generous share 0 or 1, ratio 0 or 2.
    expect(greedy.logs.every((l) => l.costRatio === 0 || l.costRatio === 2)).toBe(true);
    expect(sampled.logs.some((l) => l.costRatio! > 0 && l.costRatio! < 2)).toBe(true);
    // The constraint still binds: the multiplier rises whenever the greedy choice is generous.
    expect(Math.max(...greedy.logs.map((l) => l.costMultiplier!))).toBeGreaterThan(0.4);
    expect(greedy.share).toBeLessThan(0.85);
  });
  it('is not converged while the recent episodes break the constraint', () => {
    const h = Array.from({ length: 9 }, (_, iteration) => ({ iteration, meanReturn: iteration === 0 ? -5 : 1, costRatio: 1.3 }) as IterationLog);
    const c = { convergenceWindow: 3, convergenceStd: 0.1, convergenceMean: null };
    expect(hasConverged(h, c)).toBe(true);
    expect(hasConverged(h, { ...c, costConstraint: { ratio: 1, learningRate: 1, maxMultiplier: 5 } })).toBe(false);
    expect(hasConverged(h, { ...c, costConstraint: { ratio: 1.3, learningRate: 1, maxMultiplier: 5 } })).toBe(true);
  });
});
