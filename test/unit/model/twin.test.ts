import { describe, expect, it } from 'vitest';
import { readCsvTraceDirectory } from '../../../generator/model/readers/csv-directory.ts';
import { buildTwin, serialiseTwin } from '../../../generator/model/twin.ts';
import { rollout, stateOf } from '../../../generator/model/transition.ts';
import { digestOf } from '../../../policies/canonical.ts';
import { REAL_TRACE_DIR, SLICE_DIR } from './slice.ts';

// Tiny networks keep the suite fast; the full-size fit is measured in bench/model.bench.ts.
const TINY = { hidden: [8, 8], ensembleSize: 2, train: { epochs: 3, batchSize: 64, learningRate: 1e-3, patience: 2, weightDecay: 1e-4 } };

describe('the twin fitted on the real trace', () => {
  const trace = readCsvTraceDirectory(REAL_TRACE_DIR);
  const { twin, model } = buildTwin(trace, { seed: 1, source: 'online-boutique-nezha', config: TINY });

  it('carries the cpu_contention effect in the right direction (more CPU, higher P90)', () => {
    const effect = model.faultEffects.find((e) => e.type === 'cpu_contention')!;
    expect(effect.services).toContain('frontend');
    expect(effect.metrics.cpu!.change).toBeGreaterThan(0);
    expect(effect.metrics.latencyP90!.change).toBeGreaterThan(0);
    const event = model.faultEvents.find((e) => e.time === 1661140434)!;
    expect(event.metrics.latencyP90!.before).toBeCloseTo(0.88, 1);
    expect(event.metrics.latencyP90!.after).toBeCloseTo(2.23, 1);
  });

  it('the physics predicts a higher frontend P90 while a cpu_contention is injected', () => {
    const k = model.trainEnd + 5;
    const contention = model.faultTypes.indexOf('cpu_contention') + 1;
    const p90 = 2;
    const calm = rollout(model, trace, [{ service: 'frontend', start: k }], 1, 'physics').predictions[0]![0]![p90]!;
    const faulted = { ...trace, faults: [...trace.faults, { time: trace.timestamps[k + 1]! - 10, service: 'frontend', pod: 'frontend', type: 'cpu_contention' }] };
    const hot = rollout(model, faulted, [{ service: 'frontend', start: k }], 1, 'physics').predictions[0]![0]![p90]!;
    expect(contention).toBeGreaterThan(0);
    expect(hot).toBeGreaterThan(calm * 2);
  });

  it('records the file digests, the data findings and a verifiable content digest', () => {
    expect(twin.schemaVersion).toBe(1);
    expect(twin.provenance.files).toHaveLength(13);
    expect(twin.findings.some((f) => f.kind === 'clock-shift')).toBe(true);
    const { digest, ...body } = twin;
    expect(digest).toBe(digestOf(body));
    expect(twin.topology.callGraph.find((e) => e.source === 'frontend' && e.target === 'cartservice')!.callRatio).toBeGreaterThan(0);
    expect(twin.model.mlp.members).toHaveLength(2);
    expect(twin.fidelity.horizons.map((h) => h.horizon)).toEqual([1, 10]);
  });

  it('beats persistence on 10-step CPU and P90 MAE even with tiny networks (the physics carries it)', () => {
    for (const c of twin.fidelity.checks) expect(c.passed, `${c.name}: ${c.detail}`).toBe(true);
  });
});

describe('determinism and replay on the 120-row slice', () => {
  const trace = readCsvTraceDirectory(SLICE_DIR);

  it('same traces and seed give byte-identical twin.json; another seed changes only the learned part', () => {
    const a = serialiseTwin(buildTwin(trace, { seed: 4, source: 'slice', config: TINY }).twin);
    const b = serialiseTwin(buildTwin(readCsvTraceDirectory(SLICE_DIR), { seed: 4, source: 'slice', config: TINY }).twin);
    expect(a).toBe(b);
    const c = buildTwin(trace, { seed: 5, source: 'slice', config: TINY }).twin;
    const first = JSON.parse(a) as typeof c;
    expect(c.digest).not.toBe(first.digest);
    expect(c.model.mlp.members[0]!.weights).not.toBe(first.model.mlp.members[0]!.weights);
    expect(c.model.physics).toEqual(first.model.physics);
  });

  it('replays a recorded transition exactly when the quantised state was seen', () => {
    const { model } = buildTwin(trace, { seed: 1, source: 'slice', config: { ...TINY, replayTolerance: 1e-6, replayMinCount: 1 } });
    const start = 40;
    const out = rollout(model, trace, [{ service: 'cartservice', start }], 1, 'hybrid');
    expect(out.replayHits).toBe(1);
    const real = stateOf(trace, 'cartservice', start + 1);
    out.predictions[0]![0]!.forEach((v, j) => {
      if (model.normalisation.cartservice!.present[j]) expect(v).toBeCloseTo(real[j]!, 6);
    });
    // A state never seen (far outside the recorded range) falls back to physics + MLP.
    const unseen = rollout(model, { ...trace, services: { ...trace.services, cartservice: { ...trace.services.cartservice!, metrics: { ...trace.services.cartservice!.metrics, cpu: trace.services.cartservice!.metrics.cpu!.map((v) => v * 50) } } } }, [{ service: 'cartservice', start }], 1, 'hybrid');
    expect(unseen.replayHits).toBe(0);
  });
});
