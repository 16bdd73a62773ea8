import { describe, expect, it } from 'vitest';
import { CEILING_REPORT_SECONDS, formatGoalChecks, goalChecks, goalSentence, goalVerdict, type GoalInput } from '../../../generator/train/goal.ts';

const row = (scenario: string, method: string, failedShare: number, replicaSeconds?: number): GoalInput => ({ scenario, method, failedShare, ...(replicaSeconds !== undefined ? { replicaSeconds } : {}) });

// Shaped like the chained-services evaluation: bottleneck met, ddos out of everyone's reach, mixed missed on cost.
const rows: GoalInput[] = [
  row('bottleneck', 'default-hpa', 0.346, 4470), row('bottleneck', 'tuned-hpa', 0.032, 6600), row('bottleneck', 'clairvoyant', 0.001, 5800), row('bottleneck', 'mas', 0.014, 7000),
  row('ddos', 'default-hpa', 0.30, 5000), row('ddos', 'tuned-hpa', 0.081, 7000), row('ddos', 'clairvoyant', 0.056, 7200), row('ddos', 'mas', 0.078, 7500),
  row('mixed', 'default-hpa', 0.304, 9042), row('mixed', 'tuned-hpa', 0.15, 10545), row('mixed', 'clairvoyant', 0.04, 10400), row('mixed', 'mas', 0.05, 12000),
  // No tuned HPA here: nothing to compare with.
  row('yoyo', 'default-hpa', 0.2, 3000), row('yoyo', 'mas', 0.01, 3000),
];

describe('the product goal', () => {
  it('holds failures to min(¼ default, ½ tuned) at ≤ 1.1 × the tuned HPA\'s cost, and measures the gap to the clairvoyant bound', () => {
    const checks = goalChecks(rows, 'mas');
    expect(checks.map((c) => c.scenario)).toEqual(['bottleneck', 'ddos', 'mixed']);
    const [bottleneck, ddos, mixed] = checks;
    expect(bottleneck!.failedLimit).toBeCloseTo(0.016, 12); // ½ × 3.2 % < ¼ × 34.6 %
    expect(bottleneck!.costRatio).toBeCloseTo(7000 / 6600, 12);
    expect(bottleneck).toMatchObject({ failedMet: true, costMet: true, met: true });
    expect(bottleneck!.clairvoyant!.gap).toBeCloseTo(0.013, 12);
    expect(bottleneck!.clairvoyant!.withinLimit).toBe(true);
    expect(ddos).toMatchObject({ failedMet: false, met: false });
    expect(ddos!.failedLimit).toBeCloseTo(0.0405, 12);
    expect(ddos!.clairvoyant!.withinLimit).toBe(false); // 5.6 % > 4.05 %: the goal is beyond the bound
    expect(mixed!.failedLimit).toBeCloseTo(0.075, 12); // ½ × 15 % < ¼ × 30.4 %
    expect(mixed).toMatchObject({ failedMet: true, costMet: false, met: false });
    expect(goalVerdict(mixed!)).toBe('missed (cost)');
    expect(goalVerdict(ddos!)).toBe('missed (failed share)');
    expect(goalSentence(checks)).toBe('met on 1 of 3 scenarios (bottleneck); where missed, the clairvoyant bound fails more than the goal allows too on ddos');
  });
  it('is not met when a cost is unknown, and is silent about scenarios without both HPA baselines', () => {
    const noCost = goalChecks([row('s', 'default-hpa', 0.4), row('s', 'tuned-hpa', 0.1), row('s', 'mas', 0.01)], 'mas');
    expect(noCost).toHaveLength(1);
    expect(noCost[0]).toMatchObject({ failedMet: true, met: false });
    expect(noCost[0]!.costRatio).toBeUndefined();
    expect(goalVerdict(noCost[0]!)).toBe('missed (cost unknown)');
    expect(goalChecks([row('s', 'default-hpa', 0.4), row('s', 'mas', 0.01)], 'mas')).toEqual([]);
    expect(goalSentence([])).toMatch(/not checked/);
  });
  it('reads as a table with the verdict and the gap in points', () => {
    const md = formatGoalChecks(goalChecks(rows, 'mas'));
    const lines = md.trimEnd().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[2]).toBe('| bottleneck | mas | 1.4 | 1.60 | 1.06 | met | 0.1 | +1.3 | none |');
    expect(lines[3]).toBe('| ddos | mas | 7.8 | 4.05 | 1.07 | missed (failed share) | 5.6 (above the goal) | +2.2 | none |');
  });
  it('names the services the clairvoyant ran saturated at their replica ceiling, for a decision period or more', () => {
    const withCeiling = rows.map((r) => (r.method === 'clairvoyant' && r.scenario === 'ddos'
      ? { ...r, saturatedAtCeiling: [{ service: 'B', seconds: 164 }, { service: 'A', seconds: 118.4 }, { service: 'C', seconds: CEILING_REPORT_SECONDS - 1 }] }
      : r.method === 'mas' && r.scenario === 'ddos' ? { ...r, saturatedAtCeiling: [{ service: 'D', seconds: 300 }] } : r));
    const checks = goalChecks(withCeiling, 'mas');
    const ddos = checks.find((c) => c.scenario === 'ddos')!;
    // The clairvoyant's, not the agents' own: C's 14 s are under one decision period.
    expect(ddos.clairvoyant!.atCeiling).toEqual([{ service: 'B', seconds: 164 }, { service: 'A', seconds: 118.4 }]);
    expect(checks.find((c) => c.scenario === 'bottleneck')!.clairvoyant!.atCeiling).toEqual([]);
    expect(goalSentence(checks)).toBe('met on 1 of 3 scenarios (bottleneck); where missed, the clairvoyant bound fails more than the goal allows too on ddos (at the replica ceiling of B, A)');
    expect(formatGoalChecks(checks).split('\n')[3]).toBe('| ddos | mas | 7.8 | 4.05 | 1.07 | missed (failed share) | 5.6 (above the goal) | +2.2 | B 164, A 118 |');
    // Without a clairvoyant run there is nothing to say.
    expect(formatGoalChecks(goalChecks(rows.filter((r) => r.method !== 'clairvoyant'), 'mas')).split('\n')[2]!.endsWith('| – | – | – |')).toBe(true);
  });
});
