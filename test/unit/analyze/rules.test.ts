import { describe, expect, it } from 'vitest';
import { Rng } from '../../../policies/random.ts';
import { evaluateRules } from '../../../policies/evaluator.ts';
import { fitCart, predictCart } from '../../../generator/analyze/cart.ts';
import { applyRules, conditionText, distilAgent, ruleSentence } from '../../../generator/analyze/rules.ts';
import { counterfactualTable, perturb } from '../../../generator/analyze/counterfactual.ts';
import { ACTION_SET, FEATURES, PLANTED_POLICIES, syntheticRun } from '../../fixtures/analyze/synthetic-run.ts';

describe('CART', () => {
  it('recovers a known two-condition rule with thresholds at the class boundary', () => {
    const rng = new Rng(7);
    const n = 2000;
    const x = new Float32Array(n * 3);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < 3; j++) x[i * 3 + j] = rng.next();
      y[i] = x[i * 3]! > 0.5 && x[i * 3 + 2]! <= 0.3 ? 1 : 0;
    }
    const tree = fitCart(x, 3, y, 2, { maxDepth: 4, minSamplesLeaf: 5 });
    expect(tree.root.kind).toBe('split');
    expect(tree.depth).toBe(2);
    expect(tree.leaves).toBe(3);
    const root = tree.root as Extract<typeof tree.root, { kind: 'split' }>;
    const splits = [root, root.left, root.right].filter((node) => node.kind === 'split') as Extract<typeof tree.root, { kind: 'split' }>[];
    const byFeature = new Map(splits.map((s) => [s.feature, s.threshold]));
    expect(byFeature.get(0)).toBeCloseTo(0.5, 2);
    expect(byFeature.get(2)).toBeCloseTo(0.3, 2);
    expect(tree.importance[1]).toBe(0);
    let agree = 0;
    for (let i = 0; i < n; i++) if (predictCart(tree, x, i * 3) === y[i]) agree++;
    expect(agree).toBe(n);
  });

  it('respects the depth limit and the minimum leaf size', () => {
    const rng = new Rng(1);
    const n = 500;
    const x = Float32Array.from({ length: n }, () => rng.next());
    const y = Int32Array.from({ length: n }, (_, i) => Math.floor(x[i]! * 8) % 2);
    const tree = fitCart(x, 1, y, 2, { maxDepth: 2, minSamplesLeaf: 100 });
    expect(tree.depth).toBeLessThanOrEqual(2);
    const leafSizes: number[] = [];
    const walk = (node: typeof tree.root): void => (node.kind === 'leaf' ? void leafSizes.push(node.samples) : (walk(node.left), walk(node.right)));
    walk(tree.root);
    expect(Math.min(...leafSizes)).toBeGreaterThanOrEqual(100);
  });

  it('folds splits whose two leaves decide the same', () => {
    const x = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
    const y = Int32Array.from([0, 0, 0, 0, 0, 0, 0, 1]);
    const tree = fitCart(x, 1, y, 2, { maxDepth: 3, minSamplesLeaf: 3 });
    expect(tree.root.kind).toBe('leaf');
    expect(tree.importance).toEqual([0]);
  });
});

describe('rule distillation', () => {
  const episodes = syntheticRun({ steps: 120, seeds: [1, 2, 3, 4], methods: ['karma-mas'] });

  it('recovers the planted bottleneck rule from greedy decisions, with held-out fidelity ≥ 0.99', () => {
    const r = distilAgent('bottleneck-manager', episodes, { seed: 1, minSamplesLeaf: 3 }, undefined);
    expect(r.source).toBe('greedy');
    expect(r.fidelity).toBeGreaterThanOrEqual(0.99);
    expect(r.testSamples).toBeGreaterThan(0);
    expect(r.importance[0]!.feature).toBe('pendingRequests');
    const up2 = r.rules.find((rule) => rule.action === 2)!;
    expect(up2.conditions).toHaveLength(1);
    expect(up2.conditions[0]!.feature).toBe('pendingRequests');
    expect(up2.conditions[0]!.op).toBe('>');
    expect(up2.conditions[0]!.threshold).toBeGreaterThan(45);
    expect(up2.conditions[0]!.threshold).toBeLessThanOrEqual(55);
    expect(r.sentences.at(-1)).toBe('otherwise hold (no replica change)');
  });

  it('exports rules that policies/evaluator.ts evaluates exactly as the fidelity measurement does', () => {
    const r = distilAgent('failure-manager', episodes, { seed: 2 }, undefined);
    const agentPolicy = { name: r.agent, role: r.role, services: ['A'], observation: { features: r.features, mean: [], std: [] }, network: { inputs: 0, hidden: [], outputs: 0, activation: 'relu' as const, weights: '' }, actions: r.actionSet, rules: r.rules };
    for (const e of episodes) for (const s of e.agents.filter((a) => a.agent === r.agent)) {
      for (let t = 0; t < s.actions.length; t += 7) {
        const row = s.observations.subarray(t * FEATURES.length, (t + 1) * FEATURES.length);
        expect(evaluateRules(agentPolicy, row).replicaChange).toBe(applyRules(r.rules, r.features, r.actionSet, row));
      }
    }
  });

  it('imitates a policy function when one is given, and reports low fidelity honestly', () => {
    // A policy too fine-grained for a depth-1 tree: five bands of pending requests.
    const policy = (o: Float32Array): number => Math.min(3, Math.floor(o[FEATURES.indexOf('pendingRequests')]! / 10));
    const r = distilAgent('bottleneck-manager', episodes, { seed: 1, maxDepth: 1 }, policy);
    expect(r.source).toBe('policy');
    expect(r.depth).toBe(1);
    expect(r.fidelity).toBeLessThan(1);
    const deep = distilAgent('bottleneck-manager', episodes, { seed: 1, maxDepth: 4, minSamplesLeaf: 2 }, policy);
    expect(deep.fidelity).toBeGreaterThan(r.fidelity);
    expect(deep.fidelityByDepth.map((f) => f.maxDepth)).toEqual([2, 4, 6]);
    expect(deep.fidelityByDepth.find((f) => f.maxDepth === 4)!.fidelity).toBe(deep.fidelity);
    expect(r.fidelityByDepth.find((f) => f.maxDepth === 3)!.fidelity).toBeGreaterThan(r.fidelity);
  });

  it('writes rules as sentences with units', () => {
    expect(conditionText({ feature: 'pendingRequests', op: '>', threshold: 120 })).toBe('pending requests > 120');
    expect(conditionText({ feature: 'requestRateChange', op: '>', threshold: 2 })).toBe('request-rate change > 2×');
    expect(conditionText({ feature: 'cpuUtilization', op: '<=', threshold: 0.725 })).toBe('CPU utilisation ≤ 72.5 %');
    expect(conditionText({ feature: 'failedPods', op: '>', threshold: 0.5 })).toBe('failed pods ≥ 1');
    expect(conditionText({ feature: 'crashLoopPods', op: '<=', threshold: 0.5 })).toBe('crash-looping pods = 0');
    expect(conditionText({ feature: 'max.pendingRequests', op: '>', threshold: 50 })).toBe('highest pending requests of its services > 50');
    expect(conditionText({ feature: 'cluster.nodeCpuUtilization', op: '>', threshold: 0.8 })).toBe('node CPU utilisation > 80 %');
    expect(ruleSentence({ conditions: [{ feature: 'pendingRequests', op: '>', threshold: 120 }, { feature: 'requestRateChange', op: '>', threshold: 2 }], action: 2, support: 0.041 }))
      .toBe('if pending requests > 120 and request-rate change > 2× then +2 replicas (support 4.1 %)');
  });
});

describe('counterfactual checks', () => {
  const episodes = syntheticRun({ steps: 120, seeds: [1, 2], methods: ['karma-mas'], scenarios: ['mixed'] });
  const streams = episodes.flatMap((e) => e.agents.filter((s) => s.agent === 'failure-manager'));

  it('moves only the named features (and their aggregates), clamping fractions', () => {
    const row = Float32Array.from(FEATURES.map((f) => (f.includes('cpu') || f.includes('Cpu') ? 0.9 : 1)));
    const moved = perturb(row, FEATURES, { label: 'x', edits: [{ feature: 'cpuUtilization', op: 'add', value: 0.2, max: 1 }, { feature: 'failedPods', op: 'add', value: 1 }] });
    expect(moved[FEATURES.indexOf('cpuUtilization')]).toBe(1);
    expect(moved[FEATURES.indexOf('max.cpuUtilization')]).toBe(1);
    expect(moved[FEATURES.indexOf('failedPods')]).toBe(2);
    expect(moved[FEATURES.indexOf('cluster.nodeCpuUtilization')]).toBeCloseTo(0.9, 6);
    expect(moved[FEATURES.indexOf('replicas')]).toBe(1);
  });

  it('shows the failure manager scaling up when a pod fails and ignoring load', () => {
    const policy = PLANTED_POLICIES['failure-manager']!;
    const rows = counterfactualTable((o) => policy(o), streams);
    const failed = rows.find((r) => r.perturbation === 'failed pods +1')!;
    const load = rows.find((r) => r.perturbation === 'load ×2')!;
    expect(failed.features).toEqual(['failedPods']);
    expect(failed.up).toBeGreaterThan(0.5);
    expect(failed.meanAfter).toBeGreaterThan(failed.meanBefore);
    expect(load.same).toBe(1);
    expect(rows.every((r) => Math.abs(r.up + r.down + r.same - 1) < 1e-12)).toBe(true);
    expect(ACTION_SET).toContain(0);
  });
});
