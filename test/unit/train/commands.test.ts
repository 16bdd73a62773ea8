import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../generator/cli/main.ts';
import type { Io } from '../../../generator/cli/command.ts';
import { validatorFor, registerSchema } from '../../../policies/documents.ts';
import bundleSchema from '../../../policies/schema/policy-bundle.schema.json' with { type: 'json' };
import orgSchema from '../../../policies/schema/organisation.schema.json' with { type: 'json' };
import type { AgentPolicy } from '../../../policies/evaluator.ts';
import type { Organisation } from '../../../policies/organisation.ts';
import { trainedAgents, tunedHpa, type HpaBase } from '../../../generator/train/baselines/index.ts';
import { costBudgets, VALIDATION_SEEDS } from '../../../generator/train/evaluation.ts';
import { validate, type Validation } from '../../../generator/train/selection.ts';
import { loadScenario } from '../../../generator/twin/scenario.ts';
import { loadTopology } from '../../../generator/twin/topology.ts';

function capture(cwd: string): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  let clock = 0;
  return { stdout, stderr, out: (t) => void stdout.push(t), err: (t) => void stderr.push(t), isTty: false, cwd, env: {}, now: () => (clock += 10) };
}

const fixture = new URL('../../fixtures/train/short-ddos.yaml', import.meta.url).pathname;

describe('karma-hpa train / evaluate', () => {
  it('trains, writes bundle-shaped agents and curves, and evaluates them against baselines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'karma-train-cmd-'));
    try {
      const io = capture(dir);
      const code = await main(['train', '--topology', 'chained-services', '--scenarios', fixture, '--seed', '3', '--out', 'run', '--iterations', '2', '--episodes', '2', '--workers', '1'], io);
      expect(io.stderr.join('')).toMatch(/train mas: 2\/2/);
      expect(code).toBe(0);
      const policies = JSON.parse(readFileSync(join(dir, 'run', 'policies.json'), 'utf8')) as { agents: unknown[]; method: string };
      expect(policies.method).toBe('mas');
      registerSchema(orgSchema);
      const agentSchema = { ...(bundleSchema as { definitions: Record<string, unknown> }).definitions.agent as object, definitions: (bundleSchema as { definitions: object }).definitions };
      const validate = validatorFor(agentSchema);
      for (const a of policies.agents) expect(validate(a), JSON.stringify(validate.errors)).toBe(true);
      expect(policies.agents.map((a) => (a as { name: string }).name)).toEqual(['bottleneck-manager', 'ddos-manager', 'failure-manager', 'resource-manager']);
      const curves = JSON.parse(readFileSync(join(dir, 'run', 'curves.json'), 'utf8')) as { iterations: { meanReturn: number }[] };
      expect(curves.iterations).toHaveLength(2);

      const io2 = capture(dir);
      const code2 = await main(['evaluate', '--topology', 'chained-services', '--scenarios', fixture, '--methods', 'default-hpa,static-max,mas', '--policies', 'run', '--seeds', '2', '--json', '--out', 'eval'], io2);
      expect(io2.stderr.join('')).not.toMatch(/error/);
      expect(code2).toBe(0);
      const summary = JSON.parse(io2.stdout.join('')) as { summary: { method: string; seeds: number; successRate: { mean: number } }[]; seeds: number[] };
      expect(summary.summary.map((r) => r.method)).toEqual(['default-hpa', 'static-max', 'mas']);
      expect(summary.seeds.every((s) => s >= 0x40000000)).toBe(true);
      const byMethod = Object.fromEntries(summary.summary.map((r) => [r.method, r.successRate.mean]));
      expect(byMethod['static-max']).toBeGreaterThanOrEqual(byMethod['default-hpa']!);
      const episodes = JSON.parse(readFileSync(join(dir, 'eval', 'episodes.json'), 'utf8')) as { episodes: unknown[] };
      expect(episodes.episodes).toHaveLength(6);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('trains on the tuned HPA base under a cost constraint and evaluates on that base', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'karma-train-base-'));
    try {
      const org = readFileSync(new URL('../../../policies/organisations/default.yaml', import.meta.url), 'utf8');
      writeFileSync(join(dir, 'org.yaml'), `${org.replace(/^(credit|combination|costConstraint):.*\n/gm, '')}\ncostConstraint: { reference: tuned-hpa, ratio: 1.1 }\n`);
      const io = capture(dir);
      const code = await main(['train', '--topology', 'chained-services', '--scenarios', fixture, '--organisation', 'org.yaml', '--hpa-base', 'tuned', '--seed', '3', '--out', 'run', '--iterations', '2', '--episodes', '2', '--workers', '1'], io);
      expect(code, io.stderr.join('')).toBe(0);
      // Progress shows the cost against its budget and the multiplier.
      expect(io.stderr.join('')).toMatch(/cost \d+\.\d\d× budget \(λ \d+\.\d\d\)/);
      const policies = JSON.parse(readFileSync(join(dir, 'run', 'policies.json'), 'utf8')) as {
        hpaBase: { source: string; cpuTargetPercent: number }; costConstraint: { tuning: { cpuTargetPercent: number }; budgets: Record<string, number> }; config: { costConstraint: { ratio: number } };
      };
      expect(policies.hpaBase.source).toBe('tuned-hpa');
      expect(policies.hpaBase.cpuTargetPercent).toBe(policies.costConstraint.tuning.cpuTargetPercent);
      expect(policies.costConstraint.budgets['short-ddos']).toBeGreaterThan(0);
      expect(policies.config.costConstraint.ratio).toBe(1.1);
      const curves = JSON.parse(readFileSync(join(dir, 'run', 'curves.json'), 'utf8')) as { iterations: { costRatio: number; costMultiplier: number }[] };
      expect(curves.iterations[0]!.costMultiplier).toBe(0);
      expect(curves.iterations[1]!.costMultiplier).toBeCloseTo(Math.max(0, 0.25 * (curves.iterations[0]!.costRatio - 1.1)), 9);
      const io2 = capture(dir);
      expect(await main(['evaluate', '--topology', 'chained-services', '--scenarios', fixture, '--methods', 'mas', '--policies', 'run', '--seeds', '1', '--json'], io2)).toBe(0);
      const io3 = capture(dir);
      expect(await main(['train', '--topology', 'chained-services', '--scenarios', fixture, '--hpa-base', 'fast', '--out', 'x'], io3)).toBe(2);
      expect(io3.stderr.join('')).toMatch(/--hpa-base must be "default" or "tuned", got "fast"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('a per-scenario constraint measured on greedy episodes keeps one multiplier per training scenario', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'karma-train-kind-'));
    try {
      const org = readFileSync(new URL('../../../policies/organisations/default.yaml', import.meta.url), 'utf8');
      writeFileSync(join(dir, 'org.yaml'), `${org.replace(/^costConstraint:.*\n/gm, '')}\ncostConstraint: { reference: tuned-hpa, ratio: 1.1, measure: greedy, scope: scenario }\n`);
      // The same scenario under a second name: a second kind with its own budget.
      writeFileSync(join(dir, 'twin.yaml'), readFileSync(fixture, 'utf8').replace(/^name: .*$/m, 'name: short-ddos-twin'));
      const io = capture(dir);
      const code = await main(['train', '--topology', 'chained-services', '--scenarios', `${fixture},twin.yaml`, '--organisation', 'org.yaml', '--hpa-base', 'tuned', '--seed', '3', '--out', 'run', '--iterations', '2', '--episodes', '2', '--workers', '2'], io);
      expect(code, io.stderr.join('')).toBe(0);
      const policies = JSON.parse(readFileSync(join(dir, 'run', 'policies.json'), 'utf8')) as { costConstraint: { finalMultiplier: number; finalMultipliers: number[] }; config: { costConstraint: { measure: string; scope: string } } };
      expect(policies.config.costConstraint).toMatchObject({ measure: 'greedy', scope: 'kind' });
      const curves = JSON.parse(readFileSync(join(dir, 'run', 'curves.json'), 'utf8')) as { iterations: { costRatio: number; costByKind: { ratio: number; multiplier: number }[] }[] };
      const first = curves.iterations[0]!.costByKind;
      expect(first).toHaveLength(2);
      expect(first.every((k) => k.multiplier === 0 && k.ratio > 0)).toBe(true);
      expect(curves.iterations[0]!.costRatio).toBe(Math.max(...first.map((k) => k.ratio)));
      // Each kind's multiplier follows its own ratio.
      const expected = first.map((k) => Math.max(0, 0.25 * (k.ratio - 1.1)));
      curves.iterations[1]!.costByKind.forEach((k, i) => expect(k.multiplier).toBeCloseTo(expected[i]!, 9));
      expect(policies.costConstraint.finalMultipliers).toHaveLength(2);
      expect(policies.costConstraint.finalMultiplier).toBe(Math.max(...policies.costConstraint.finalMultipliers));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('--tune-on grid-searches the tuned HPA on other scenarios than the evaluated ones (held-out evaluation)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'karma-eval-tune-on-'));
    try {
      writeFileSync(join(dir, 'calm.yaml'), [
        'apiVersion: karma-hpa.io/v1alpha1', 'kind: Scenario', 'name: calm', 'description: "Steady light load"', 'topology: chained-services',
        'durationSeconds: 150', 'load: { kind: constant, rate: 0.3 }', 'injectors: []', '',
      ].join('\n'));
      const run = async (extra: string[]): Promise<{ tuning: { cpuTargetPercent: number; behavior: string }; tunedOn?: string[] }> => {
        const io = capture(dir);
        const code = await main(['evaluate', '--topology', 'chained-services', '--scenarios', fixture, '--methods', 'tuned-hpa', '--seeds', '1', '--json', ...extra], io);
        expect(code, io.stderr.join('')).toBe(0);
        return JSON.parse(io.stdout.join(''));
      };
      const onTest = await run([]);
      const onCalm = await run(['--tune-on', 'calm.yaml']);
      expect(onTest.tunedOn).toBeUndefined();
      expect(onCalm.tunedOn).toEqual(['calm']);
      // Tuned on the evaluated flash crowd the HPA aims lower than when tuned on calm traffic only.
      expect(onCalm.tuning.cpuTargetPercent).toBeGreaterThan(onTest.tuning.cpuTargetPercent);
      const io = capture(dir);
      expect(await main(['evaluate', '--topology', 'chained-services', '--scenarios', fixture, '--methods', 'tuned-hpa', '--seeds', '1', '--tune-on', 'calm.yaml'], io)).toBe(0);
      expect(io.stdout.join('')).toMatch(/tuned HPA: CPU target \d+ %, behavior \S+ \(tuned on calm\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('with --seeds trains one run per seed and keeps the one that validates best', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'karma-train-seeds-'));
    try {
      const io = capture(dir);
      const code = await main(['train', '--topology', 'chained-services', '--scenarios', fixture, '--seeds', '3-4', '--out', 'run', '--iterations', '1', '--episodes', '2', '--workers', '1', '--max-cost-ratio', '5'], io);
      expect(code, io.stderr.join('')).toBe(0);
      const selection = JSON.parse(readFileSync(join(dir, 'run', 'selection.json'), 'utf8')) as { selected: number; validationSeeds: number[]; runs: { seed: number; meanFailedShare: number; meanCostRatio: number }[] };
      expect(selection.runs.map((r) => r.seed)).toEqual([3, 4]);
      expect(selection.validationSeeds.every((s) => s < 0x40000000)).toBe(true);
      // Both are within the cost limit here: the lower failed share is kept, and its files are the top-level ones.
      const best = [...selection.runs].sort((a, b) => a.meanFailedShare - b.meanFailedShare || a.meanCostRatio - b.meanCostRatio || a.seed - b.seed)[0]!;
      expect(selection.selected).toBe(best.seed);
      expect(readFileSync(join(dir, 'run', 'policies.json'), 'utf8')).toBe(readFileSync(join(dir, 'run', `seed-${best.seed}`, 'policies.json'), 'utf8'));
      expect(io.stdout.join('')).toMatch(new RegExp(`selected seed ${best.seed} \\(validation: failed \\d+\\.\\d\\d %`));
      const bad = capture(dir);
      expect(await main(['train', '--topology', 'chained-services', '--scenarios', fixture, '--seeds', '2,2', '--out', 'x'], bad)).toBe(2);
      expect(bad.stderr.join('')).toMatch(/--seeds must be distinct non-negative integers/);
      const ratio = capture(dir);
      expect(await main(['train', '--topology', 'chained-services', '--scenarios', fixture, '--seeds', '1,2', '--max-cost-ratio', '0', '--out', 'y', '--iterations', '1', '--episodes', '1', '--workers', '1'], ratio)).toBe(2);
      expect(ratio.stderr.join('')).toMatch(/--max-cost-ratio must be a positive number, got "0"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('validates the agents as deployed during training: the validation is of the exported agents, and survives a resume', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'karma-train-validate-'));
    try {
      const io = capture(dir);
      const args = ['train', '--topology', 'chained-services', '--scenarios', fixture, '--seed', '5', '--out', 'run', '--iterations', '2', '--episodes', '2', '--workers', '1', '--validate-every', '1'];
      expect(await main(args, io), io.stderr.join('')).toBe(0);
      expect(io.stderr.join('')).toMatch(/after iteration 2: validation failed \d+\.\d % at \d+\.\d\d × tuned HPA/);
      type Curves = { iterations: { iteration: number; validation?: Validation }[] };
      const curves = JSON.parse(readFileSync(join(dir, 'run', 'curves.json'), 'utf8')) as Curves;
      expect(curves.iterations.map((l) => l.validation !== undefined)).toEqual([true, true]);
      const last = curves.iterations[1]!.validation!;
      expect(last.scenarios.map((r) => r.scenario)).toEqual(['short-ddos']);

      // The same numbers from the written policies, validated independently against the tuned HPA.
      const policies = JSON.parse(readFileSync(join(dir, 'run', 'policies.json'), 'utf8')) as { organisation: Organisation; agents: AgentPolicy[]; hpaBase?: HpaBase };
      const topology = loadTopology('chained-services');
      const scenario = loadScenario(fixture, dir, { topology: 'chained-services' });
      const reference = tunedHpa(costBudgets('chained-services', [fixture], dir).tuning);
      const again = validate(trainedAgents('mas', policies.organisation, policies.agents, 'hard', 3, policies.hpaBase), reference, topology, [scenario], VALIDATION_SEEDS);
      expect(again).toEqual(last);
      expect(last.meanCostRatio).toBeGreaterThan(0);

      // Resumed from the finished run's checkpoint: nothing is trained again and the validations are kept.
      const resumed = capture(dir);
      expect(await main([...args, '--resume'], resumed)).toBe(0);
      expect((JSON.parse(readFileSync(join(dir, 'run', 'curves.json'), 'utf8')) as Curves).iterations[1]!.validation).toEqual(last);

      const never = capture(dir);
      expect(await main(['train', '--topology', 'chained-services', '--scenarios', fixture, '--seed', '5', '--out', 'plain', '--iterations', '1', '--episodes', '2', '--workers', '1', '--validate-every', '0'], never)).toBe(0);
      expect((JSON.parse(readFileSync(join(dir, 'plain', 'curves.json'), 'utf8')) as Curves).iterations[0]!.validation).toBeUndefined();
      expect(never.stderr.join('')).not.toMatch(/validation failed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('names a bad method and a missing option', async () => {
    const io = capture(tmpdir());
    expect(await main(['evaluate', '--topology', 'chained-services', '--scenarios', fixture, '--methods', 'magic'], io)).toBe(2);
    expect(io.stderr.join('')).toMatch(/unknown method "magic"/);
    const io2 = capture(tmpdir());
    expect(await main(['train', '--topology', 'chained-services', '--out', 'x'], io2)).toBe(2);
    expect(io2.stderr.join('')).toMatch(/missing required option --scenarios/);
    const dir = mkdtempSync(join(tmpdir(), 'karma-train-cfg-'));
    try {
      writeFileSync(join(dir, 'mappo.json'), JSON.stringify({ entropyCoef: 'lots', learningRate: 1, convergenceOn: 'luck', activation: 'relu' }));
      const io3 = capture(dir);
      expect(await main(['train', '--topology', 'chained-services', '--scenarios', fixture, '--out', 'x', '--config', 'mappo.json'], io3)).toBe(2);
      expect(io3.stderr.join('')).toMatch(/entropyCoef: expected a number/);
      expect(io3.stderr.join('')).toMatch(/learningRate: not a MAPPO hyperparameter/);
      expect(io3.stderr.join('')).toMatch(/convergenceOn: expected one of auto, return, validation, got "luck"/);
      expect(io3.stderr.join('')).not.toMatch(/activation/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
