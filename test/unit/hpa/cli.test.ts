import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { main } from '../../../generator/cli/main.ts';
import { captureIo } from '../../support/io.ts';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/hpa');

async function run(file: string, json = true) {
  const io = captureIo();
  const code = await main(['hpa', '--input', join(fixtures, file), ...(json ? ['--json'] : [])], io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe('karma-hpa hpa', () => {
  it('scales up on CPU utilization, reading quantities in every notation', async () => {
    const r = await run('scale-up.json');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out);
    expect(result).toMatchObject({ desiredReplicas: 6, utilization: 90, rawValue: 450, reason: 'cpu resource utilization (percentage of request) above target' });
    // The history stays bounded: the stale 11:50 entry is overwritten by this sync's proposal.
    expect(result.recommendations).toEqual([{ timestamp: '2026-03-01T12:00:00.000Z', replicas: 6 }]);
  });

  it('a new HPA with behavior holds its size and returns the history to feed back', async () => {
    const r = await run('first-sync-behavior.json');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out);
    expect(result.desiredReplicas).toBe(4);
    expect(result.reason).toBe('ScaleDownStabilized');
    expect(result.recommendations).toEqual([
      { timestamp: '2026-03-01T12:00:00.000Z', replicas: 4 },
      { timestamp: '2026-03-01T12:00:00.000Z', replicas: 1 },
    ]);
    expect(result.scaleEvents).toEqual([]);
  });

  it('after the window it scales down at the policy rate and records the event', async () => {
    const result = JSON.parse((await run('after-window-behavior.json')).out);
    expect(result.desiredReplicas).toBe(3);
    expect(result.conditions).toContainEqual(expect.objectContaining({ type: 'ScalingLimited', status: 'True', reason: 'ScaleDownLimit' }));
    // The scale-down event older than the 60 s period is overwritten.
    expect(result.scaleEvents).toEqual([{ timestamp: '2026-03-01T12:05:15.000Z', replicaChange: -1 }]);
  });

  it('takes the highest proposal of memory, pods and external metrics', async () => {
    const result = JSON.parse((await run('mixed-metrics.json')).out);
    expect(result.desiredReplicas).toBe(5);
    expect(result.rawValue).toBe(45_000);
    expect(result.reason).toMatch(/^external metric queue_depth/);
  });

  it('prints a readable summary without --json', async () => {
    const r = await run('scale-up.json', false);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/desired replicas: 6 \(current 3\)/);
    expect(r.out).toMatch(/ScalingLimited=False DesiredWithinRange/);
  });

  it.each([
    { file: 'bad-quantity.json', where: '/pods/0/usage/cpu', what: /"12 cores" is not a Kubernetes quantity/ },
    { file: 'bad-time.json', where: '/pods/0/startTime (line 6:68)', what: /date-time/ },
    { file: 'missing-field.json', where: '/spec/maxReplicas', what: /is required but missing/ },
    { file: 'wrong-type.json', where: '/currentReplicas', what: /must be integer/ },
    { file: 'min-above-max.json', where: '/spec/minReplicas', what: /greater than maxReplicas/ },
    { file: 'not-json.json', where: 'not-json.json', what: /not valid JSON.*line 4 column 1/ },
  ])('rejects $file naming $where, exit code 2', async ({ file, where, what }) => {
    const r = await run(file);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain(where);
    expect(r.err).toMatch(what);
    expect(r.err).toMatch(/hint:/);
    expect(r.err).not.toMatch(/at .*\.ts:\d+/);
  });

  it('rejects a missing file and a missing --input', async () => {
    expect((await run('no-such-file.json')).code).toBe(2);
    const io = captureIo();
    expect(await main(['hpa'], io)).toBe(2);
    expect(io.stderr()).toMatch(/--input/);
  });
});
