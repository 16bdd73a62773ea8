import { describe, expect, it } from 'vitest';
import { isKarmaError } from '../../../policies/errors.ts';
import { parseTrajectories, serialiseTrajectories, type Episode } from '../../../generator/analyze/trajectory.ts';
import { syntheticRun } from '../../fixtures/analyze/synthetic-run.ts';

function expectKarmaError(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(isKarmaError(e)).toBe(true);
    expect((e as Error).message).toMatch(pattern);
    return;
  }
  throw new Error('expected a KarmaError');
}

describe('trajectory format', () => {
  const episodes = syntheticRun({ steps: 20, seeds: [1], scenarios: ['ddos'] });
  const withMasks: Episode[] = episodes.map((e) => ({
    ...e,
    faults: [{ atSeconds: 60, kind: 'surge', service: 'A' }],
    agents: e.agents.map((s) => ({ ...s, masks: Uint8Array.from({ length: s.actions.length * s.actionSet.length }, (_, i) => (i % 3 === 0 ? 0 : 1)) })),
  }));

  it('round-trips episodes exactly, typed arrays included, and writes the same bytes twice', () => {
    const text = serialiseTrajectories(withMasks, 'test run');
    const back = parseTrajectories(text, 'run.json');
    expect(back).toHaveLength(withMasks.length);
    const a = withMasks.find((e) => e.method === 'karma-mas')!;
    const b = back.find((e) => e.method === 'karma-mas')!;
    expect(b.faults).toEqual(a.faults);
    expect(b.outcome).toEqual(a.outcome);
    expect(Array.from(b.timeline!.series.p95LatencyMs!)).toEqual(Array.from(a.timeline!.series.p95LatencyMs!));
    for (let i = 0; i < a.agents.length; i++) {
      const sa = a.agents[i]!;
      const sb = b.agents[i]!;
      expect(sb.observations).toBeInstanceOf(Float32Array);
      expect(sb.actions).toBeInstanceOf(Int8Array);
      expect(Array.from(sb.observations)).toEqual(Array.from(sa.observations));
      expect(Array.from(sb.actions)).toEqual(Array.from(sa.actions));
      expect(Array.from(sb.greedyActions!)).toEqual(Array.from(sa.greedyActions!));
      expect(Array.from(sb.masks!)).toEqual(Array.from(sa.masks!));
      expect(Array.from(sb.rewards)).toEqual(Array.from(sa.rewards));
    }
    expect(serialiseTrajectories(back, 'test run')).toBe(text);
  });

  it('stores negative replica changes as int8', () => {
    const e = withMasks.find((x) => x.method === 'karma-mas')!;
    const s = { ...e.agents[0]!, actions: Int8Array.from(e.agents[0]!.actions, (_, i) => (i % 2 ? -3 : 2)) };
    const back = parseTrajectories(serialiseTrajectories([{ ...e, agents: [s] }]), 'x.json');
    expect(back[0]!.agents[0]!.actions[1]).toBe(-3);
  });

  it('names the file and field path of a schema violation', () => {
    const doc = JSON.parse(serialiseTrajectories(withMasks));
    delete doc.episodes[0].agents[1].rewards;
    expectKarmaError(() => parseTrajectories(JSON.stringify(doc), 'runs/a.json'), /runs\/a\.json.*TrajectorySet[\s\S]*\/episodes\/0\/agents\/1/);
  });

  it('refuses columns whose bytes or shape disagree, and actions outside the action set', () => {
    const doc = JSON.parse(serialiseTrajectories(withMasks));
    const mas = doc.episodes.findIndex((e: { method: string }) => e.method === 'karma-mas');
    const truncated = structuredClone(doc);
    truncated.episodes[mas].agents[0].observations.data = truncated.episodes[mas].agents[0].observations.data.slice(0, 40);
    expectKarmaError(() => parseTrajectories(JSON.stringify(truncated), 'b.json'), /\/episodes\/\d+\/agents\/0\/observations\/data: holds \d+ bytes/);
    const reshaped = structuredClone(doc);
    reshaped.episodes[mas].agents[0].rewards.shape = [3];
    expectKarmaError(() => parseTrajectories(JSON.stringify(reshaped), 'c.json'), /agents\/0\/rewards\/shape\/0: is 3, expected 20/);
    const outside = structuredClone(doc);
    outside.episodes[mas].agents[0].actionSet = [0, 1];
    outside.episodes[mas].agents[0].masks = undefined;
    delete outside.episodes[mas].agents[0].masks;
    expectKarmaError(() => parseTrajectories(JSON.stringify(outside), 'd.json'), /not in actionSet/);
    expectKarmaError(() => parseTrajectories('{ not json', 'e.json'), /e\.json: not valid JSON/);
  });
});
