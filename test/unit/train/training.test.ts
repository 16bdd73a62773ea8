import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTraining } from '../../../generator/train/trainer.ts';
import { DEFAULT_MAPPO_CONFIG } from '../../../generator/train/mappo.ts';
import { encodeWeights } from '../../../policies/network.ts';
import { loadOrganisation } from '../../../policies/organisation.ts';

const config = { ...DEFAULT_MAPPO_CONFIG, iterations: 4, episodesPerIteration: 6, hidden: [8], convergenceStd: 0 };
const envSpec = { kind: 'toy', steps: 6 } as const;
const weights = (r: Awaited<ReturnType<typeof runTraining>>): string[] => [...r.state.actors.map((a) => encodeWeights(a.params)), encodeWeights(r.state.critic.params)];

describe('training runs', () => {
  it('are identical with 1 and 2 worker threads', async () => {
    const one = await runTraining(envSpec, config, { workers: 1 });
    const two = await runTraining(envSpec, config, { workers: 2 });
    expect(weights(two)).toEqual(weights(one));
    expect(two.state.history.map((h) => h.meanReturn)).toEqual(one.state.history.map((h) => h.meanReturn));
    const other = await runTraining(envSpec, { ...config, seed: 2 }, { workers: 1 });
    expect(weights(other)).not.toEqual(weights(one));
  });
  it('stop at the validation that shows the deployed agents settled', async () => {
    // Validations every 2 iterations: cost falls until iteration 8, then holds; the returns alone never converge (convergenceStd 0).
    const costs = [1.5, 1.3, 1.2, 1.1, 1.1, 1.1, 1.1, 1.1, 1.1, 1.1];
    const validating = { ...config, iterations: 40, convergenceWindow: 2, convergenceValidations: 2 };
    const r = await runTraining(envSpec, validating, {
      workers: 1,
      onIteration: (log, state) => {
        if (state.iteration % 2 === 0) log.validation = { meanFailedShare: 0.05, meanCostRatio: costs[state.iteration / 2 - 1]!, scenarios: [] };
      },
    });
    // Windows of 2 validations: at the 5th, (1.1, 1.1) against (1.3, 1.2) moved 12 %; at the 6th, against
    // (1.2, 1.1), 4 %: settled there, at iteration 12.
    expect(r.state.converged).toBe(true);
    expect(r.state.iteration).toBe(12);
    expect(r.state.history.filter((h) => h.validation)).toHaveLength(6);
    const unsettled = await runTraining(envSpec, { ...validating, iterations: 8 }, { workers: 1, onIteration: (log, state) => {
      if (state.iteration % 2 === 0) log.validation = { meanFailedShare: 0.05, meanCostRatio: 2 - 0.2 * state.iteration / 2, scenarios: [] };
    } });
    expect(unsettled.state.converged).toBe(false);
    expect(unsettled.state.iteration).toBe(8);
  });
  it('resume from a checkpoint continues exactly where the run stopped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'karma-train-'));
    try {
      const checkpointPath = join(dir, 'checkpoint.json');
      const full = await runTraining(envSpec, config, { workers: 1 });
      const half = await runTraining(envSpec, config, { workers: 1, checkpointPath, stopAfter: 2 });
      expect(half.state.iteration).toBe(2);
      const resumed = await runTraining(envSpec, config, { workers: 1, checkpointPath, resume: true });
      expect(resumed.iterationsRun).toBe(2);
      expect(weights(resumed)).toEqual(weights(full));
      expect(readFileSync(checkpointPath, 'utf8').startsWith('{"actors":')).toBe(true);
      await expect(runTraining(envSpec, { ...config, gamma: 0.5 }, { workers: 1, checkpointPath, resume: true })).rejects.toThrow(/another environment, organisation or hyperparameters/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('resume keeps the cost constraint\'s multiplier, so a resumed constrained run equals an uninterrupted one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'karma-train-'));
    try {
      const checkpointPath = join(dir, 'checkpoint.json');
      const options = {
        topology: 'chained-services', scenarios: [new URL('../../fixtures/train/short-ddos.yaml', import.meta.url).pathname],
        organisation: { ...loadOrganisation('default'), costConstraint: { reference: 'tuned-hpa' as const } }, roleMode: 'hard', cwd: process.cwd(),
        // A budget well below what the agents spend, so the multiplier grows from the first iteration.
        costBudgets: { 'short-ddos': 300 },
      };
      const twin = { kind: 'twin', options } as const;
      const constrained = { ...config, iterations: 3, episodesPerIteration: 2, calibrationEpisodes: 1, costConstraint: { ratio: 1, learningRate: 0.5, maxMultiplier: 20 } };
      const full = await runTraining(twin, constrained, { workers: 1 });
      expect(full.state.costMultipliers[0]).toBeGreaterThan(0);
      await runTraining(twin, constrained, { workers: 1, checkpointPath, stopAfter: 2 });
      expect(JSON.parse(readFileSync(checkpointPath, 'utf8')).costMultipliers).toEqual([full.state.history[2]!.costMultiplier]);
      const resumed = await runTraining(twin, constrained, { workers: 1, checkpointPath, resume: true });
      expect(resumed.state.costMultipliers).toEqual(full.state.costMultipliers);
      expect(weights(resumed)).toEqual(weights(full));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
