import { describe, expect, it } from 'vitest';
import { referenceCosts, selectSeed, validate, validationText, type SeedValidation } from '../../../generator/train/selection.ts';
import { defaultHpa, staticMax, tunedHpa } from '../../../generator/train/baselines/index.ts';
import { loadScenario } from '../../../generator/twin/scenario.ts';
import { loadTopology } from '../../../generator/twin/topology.ts';

const run = (seed: number, meanFailedShare: number, meanCostRatio: number): SeedValidation => ({ seed, meanFailedShare, meanCostRatio, scenarios: [] });

describe('validate', () => {
  const topology = loadTopology('chained-services');
  const scenario = loadScenario(new URL('../../fixtures/train/short-ddos.yaml', import.meta.url).pathname, process.cwd(), { topology: 'chained-services' });
  it('measures failed share and cost against the reference on the same scenarios and seeds', () => {
    const reference = tunedHpa({ cpuTargetPercent: 60, behavior: 'fast-both' });
    const self = validate(reference, reference, topology, [scenario], [11, 12]);
    expect(self.meanCostRatio).toBe(1);
    const max = validate(staticMax, reference, topology, [scenario], [11, 12]);
    expect(max.meanCostRatio).toBeGreaterThan(1);
    expect(max.meanFailedShare).toBeLessThanOrEqual(self.meanFailedShare);
    const lean = validate(defaultHpa, reference, topology, [scenario], [11, 12]);
    expect(lean.scenarios).toEqual([{ scenario: 'short-ddos', failedShare: lean.meanFailedShare, costRatio: lean.meanCostRatio }]);
    expect(lean.meanFailedShare).toBeGreaterThan(self.meanFailedShare);
  });
  it('gives the same result with the reference\'s costs measured once, and refuses costs of other seeds', () => {
    const reference = tunedHpa({ cpuTargetPercent: 60, behavior: 'fast-both' });
    const costs = referenceCosts(reference, topology, [scenario], [11, 12]);
    expect(costs.replicaSeconds['short-ddos']).toBeGreaterThan(0);
    expect(validate(defaultHpa, costs, topology, [scenario], [11, 12])).toEqual(validate(defaultHpa, reference, topology, [scenario], [11, 12]));
    expect(() => validate(defaultHpa, costs, topology, [scenario], [11, 13])).toThrow(/other seeds/);
  });
  it('reads as one progress line', () => {
    expect(validationText({ meanFailedShare: 0.0617, meanCostRatio: 1.084, scenarios: [] })).toBe('validation failed 6.2 % at 1.08 × tuned HPA');
  });
});

describe('selectSeed', () => {
  it('keeps the lowest failed share among runs within the cost limit', () => {
    expect(selectSeed([run(1, 0.07, 1.09), run(2, 0.05, 1.2), run(3, 0.06, 1.1)], 1.1).seed).toBe(3);
  });
  it('breaks ties by cost, then by seed', () => {
    expect(selectSeed([run(4, 0.06, 1.05), run(2, 0.06, 1.02), run(3, 0.06, 1.02)], 1.1).seed).toBe(2);
  });
  it('takes the cheapest run when none is within the limit', () => {
    expect(selectSeed([run(1, 0.01, 1.3), run(2, 0.2, 1.15), run(3, 0.02, 1.4)], 1.1).seed).toBe(2);
  });
  it('refuses an empty list', () => {
    expect(() => selectSeed([], 1.1)).toThrow(/at least one run/);
  });
});
