import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../generator/cli/main.ts';
import { KarmaError } from '../../../policies/errors.ts';
import { loadOrganisation, type Organisation } from '../../../policies/organisation.ts';
import { encodeWeights } from '../../../policies/network.ts';
import { exportAgentPolicies } from '../../../generator/train/export.ts';
import { collectEpisode, DEFAULT_MAPPO_CONFIG } from '../../../generator/train/mappo.ts';
import { runTraining } from '../../../generator/train/trainer.ts';
import {
  adversaryAction, adversaryPlan, DEFAULT_RESILIENCE_WEIGHTS, operationalResilience, periodMetrics, TwinEnv, withAdversary,
} from '../../../generator/train/twin-env.ts';
import { captureIo } from '../../support/io.ts';

const fixture = new URL('../../fixtures/train/short-ddos.yaml', import.meta.url).pathname;
const base = loadOrganisation('default');
const armed = (adversary: Partial<NonNullable<Organisation['adversary']>> = {}): Organisation => ({ ...base, adversary: { ...base.adversary!, enabled: true, ...adversary } });
// The default organisation's cost constraint needs the reference cost of the scenario (any positive value here).
const optionsFor = (organisation: Organisation) => ({ topology: 'chained-services', scenarios: [fixture], organisation, roleMode: 'hard' as const, cwd: process.cwd(), costBudgets: { 'short-ddos': 1500 } });

/** Every agent holds (action index 3 = no change); the adversary plays `attack`. */
function holdActions(env: TwinEnv, attack: number): number[][] {
  return env.spec.agents.map((a) => a.slots.map(() => (a.adversary ? attack : 3)));
}

describe('adversary in the twin environment', () => {
  it('is absent unless the organisation enables it', () => {
    const env = new TwinEnv(optionsFor(base));
    expect(env.adversary).toBeUndefined();
    expect(env.spec.agents.some((a) => a.adversary)).toBe(false);
    env.reset(1, 0);
    env.observe();
    env.step(holdActions(env, 0));
    expect(env.simulation!.adversary).toBeUndefined();
  });

  it('is one more agent: entry point × 5 rate levels × 3 crash levels, decoded from the organisation\'s levels', () => {
    const env = new TwinEnv(optionsFor(armed()));
    const adv = env.spec.agents[env.spec.agents.length - 1]!;
    expect(adv).toMatchObject({ name: 'adversary', slots: ['adversary'], adversary: true });
    expect(adv.actions).toHaveLength(1 * 5 * 3);
    const plan = env.adversary!;
    expect(plan).toEqual({ entryPoints: ['A'], rateMultipliers: [0.5, 0.75, 1, 1.5, 2], crashProbabilities: [0, 0.001, 0.005], budget: 0.05 });
    expect(adversaryAction(plan, 0)).toEqual({ entryPoint: 'A', rateMultiplier: 0.5, crashProbabilityPerSecond: 0 });
    expect(adversaryAction(plan, 7)).toEqual({ entryPoint: 'A', rateMultiplier: 1, crashProbabilityPerSecond: 0.001 });
    expect(adversaryAction(plan, 14)).toEqual({ entryPoint: 'A', rateMultiplier: 2, crashProbabilityPerSecond: 0.005 });
    // Levels the organisation defines are used as given.
    const custom = adversaryPlan(armed({ rateMultipliers: [1, 2, 3, 4, 5], crashProbabilities: [0, 0.1, 0.2] }), env.topology)!;
    expect(adversaryAction(custom, 14)).toEqual({ entryPoint: 'A', rateMultiplier: 5, crashProbabilityPerSecond: 0.2 });
    // Without levels in the organisation: the documented defaults, no budget.
    expect(adversaryPlan({ ...base, adversary: { enabled: true } }, env.topology)).toEqual({ entryPoints: ['A'], rateMultipliers: [0.5, 0.75, 1, 1.5, 2], crashProbabilities: [0, 0.001, 0.005], budget: 0 });
  });

  it('applies its choice through setAdversary and earns the negated team reward (minus the load budget)', () => {
    for (const budget of [0, 0.05]) {
      const env = new TwinEnv(optionsFor(armed({ budget })));
      env.reset(4, 0);
      const sim = env.simulation!;
      const offeredBefore = sim.series.column('A', 'offered').slice(0, 15).reduce((a, b) => a + b, 0);
      let checked = 0;
      for (const attack of [14, 0, 7]) {
        env.observe();
        const from = Math.floor(sim.timeSeconds);
        const r = env.step(holdActions(env, attack));
        const to = Math.floor(sim.timeSeconds);
        const setting = adversaryAction(env.adversary!, attack);
        expect(sim.adversary).toEqual(setting);
        const team = operationalResilience(periodMetrics(sim, env.topology, from, to), env.topology, DEFAULT_RESILIENCE_WEIGHTS);
        const advReward = r.rewards[r.rewards.length - 1]!;
        expect(advReward).toHaveLength(1);
        expect(advReward[0]).toBeCloseTo(-team - budget * Math.max(0, setting.rateMultiplier - 1), 12);
        if (budget === 0) expect(advReward[0]).toBe(-team);
        if (attack === 14) {
          // ×2 on the entry point during the period (the short-ddos flash crowd starts only at 30 s).
          const offered = sim.series.column('A', 'offered').slice(from, from + 15).reduce((a, b) => a + b, 0);
          expect(offered / offeredBefore).toBeGreaterThan(1.7);
        }
        checked++;
      }
      expect(checked).toBe(3);
    }
  });

  it('keeps its return out of the team\'s mean return', () => {
    const env = new TwinEnv(optionsFor(armed()));
    const t = collectEpisode(env, null, 9, 0, 'random');
    const team = env.spec.agents.map((a, k) => ({ a, sum: Array.from(t.agents[k]!.rewards).reduce((x, y) => x + y, 0) }));
    const teamSlots = team.filter((x) => !x.a.adversary).reduce((n, x) => n + x.a.slots.length, 0);
    expect(t.meanReturn).toBeCloseTo(team.filter((x) => !x.a.adversary).reduce((s, x) => s + x.sum, 0) / teamSlots, 10);
    expect(t.adversaryReturn).toBeCloseTo(team.find((x) => x.a.adversary)!.sum, 10);
    expect(t.adversaryReturn!).toBeLessThan(0);
  });

  it('refuses entry points that are not entry points of the topology, and an agent already named adversary', () => {
    expect(() => new TwinEnv(optionsFor(armed({ entryPoints: ['B'] })))).toThrow(KarmaError);
    expect(() => new TwinEnv(optionsFor(armed({ entryPoints: ['B'] })))).toThrow(/adversary entry point B is not an entry point of topology chained-services/);
    const clash = { ...armed(), agents: base.agents.map((a, i) => (i === 0 ? { ...a, name: 'adversary' } : a)) };
    expect(() => new TwinEnv(optionsFor(clash))).toThrow(/an agent is named "adversary"/);
  });
});

describe('training with the adversary', () => {
  const config = { ...DEFAULT_MAPPO_CONFIG, iterations: 2, episodesPerIteration: 2, calibrationEpisodes: 1, hidden: [8] };
  const spec = { kind: 'twin' as const, options: optionsFor(armed()) as unknown as Record<string, unknown> };

  it('runs, is deterministic, trains the adversary\'s own actor, and never exports it', async () => {
    const a = await runTraining(spec, config, { workers: 1 });
    const b = await runTraining(spec, config, { workers: 2 });
    const weights = (r: typeof a): string[] => [...r.state.actors.map((x) => encodeWeights(x.params)), encodeWeights(r.state.critic.params)];
    expect(weights(b)).toEqual(weights(a));
    expect(b.state.history.map((h) => [h.meanReturn, h.adversaryReturn])).toEqual(a.state.history.map((h) => [h.meanReturn, h.adversaryReturn]));
    expect(a.state.actors).toHaveLength(5);
    expect(a.state.history.every((h) => typeof h.adversaryReturn === 'number' && h.adversaryReturn < 0)).toBe(true);
    // The adversary's actor moved away from a fresh one (same init seed, no training).
    const fresh = await runTraining(spec, { ...config, iterations: 0 }, { workers: 1 });
    expect(encodeWeights(a.state.actors[4]!.params)).not.toBe(encodeWeights(fresh.state.actors[4]!.params));
    const roles = Object.fromEntries(base.agents.map((x) => [x.name, x.role]));
    const exported = exportAgentPolicies(a.envSpec, a.state, config, { roles });
    expect(exported.map((x) => x.name)).toEqual(['bottleneck-manager', 'ddos-manager', 'failure-manager', 'resource-manager']);
    // Without the adversary nothing reports an adversary return.
    const plain = await runTraining({ kind: 'twin', options: optionsFor(base) as unknown as Record<string, unknown> }, { ...config, iterations: 1 }, { workers: 1 });
    expect(plain.state.history[0]!.adversaryReturn).toBeUndefined();
  });

  it('`karma-hpa train --adversary` enables it and writes only the team\'s agents', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'karma-train-adv-'));
    try {
      const io = captureIo({ cwd: dir });
      const code = await main(['train', '--topology', 'chained-services', '--scenarios', fixture, '--seed', '3', '--out', 'run', '--iterations', '1', '--episodes', '2', '--workers', '1', '--adversary'], io);
      expect(io.stderr()).not.toMatch(/error/i);
      expect(code).toBe(0);
      expect(io.stdout()).toMatch(/trained 4 agents \(mas\) against the adversary/);
      const policies = JSON.parse(readFileSync(join(dir, 'run', 'policies.json'), 'utf8')) as { agents: { name: string }[]; organisation: Organisation };
      expect(policies.organisation.adversary).toEqual(withAdversary(base).adversary);
      expect(policies.agents.map((x) => x.name)).not.toContain('adversary');
      expect(policies.agents).toHaveLength(4);
      const curves = JSON.parse(readFileSync(join(dir, 'run', 'curves.json'), 'utf8')) as { iterations: { adversaryReturn?: number }[] };
      expect(typeof curves.iterations[0]!.adversaryReturn).toBe('number');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
