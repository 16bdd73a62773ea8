import { describe, expect, it } from 'vitest';
import { formatBaseSpec, formatDecision, parseBaseSpec, parseDecision } from '../../../policies/annotations.ts';
import { reviewHpaMutation } from '../../../webhook/admission/hpaMutation.ts';
import { reviewHpaValidation } from '../../../webhook/admission/hpaValidation.ts';
import { reviewBundleValidation } from '../../../webhook/admission/bundleValidation.ts';
import { guardedBounds } from '../../../webhook/admission/guardedBounds.ts';
import { limitWarnings, readAdmissionReview, type AdmissionReview } from '../../../webhook/admission/review.ts';
import type { JsonValue } from '../../../webhook/admission/jsonPatch.ts';
import { checkoutBundle, decodePatch, fixture, patchedObject, reinvocation } from './fixtures.ts';

const NOW = Date.parse('2026-11-25T10:00:05Z');
const bundles = [checkoutBundle()];
type Obj = { metadata: { annotations: Record<string, string> }; spec: Record<string, unknown> };

/** Mutate, then mutate the result again as the API server does with reinvocationPolicy IfNeeded. */
function mutateTwice(review: AdmissionReview) {
  const first = reviewHpaMutation(review, bundles, NOW);
  const after = patchedObject(review, first.review);
  const second = reviewHpaMutation(reinvocation(review, after as JsonValue), bundles, NOW);
  return { first, after: after as unknown as Obj, second };
}

describe('reviewHpaMutation', () => {
  it('records the Git spec as base on create and names the bundle; the second pass patches nothing', () => {
    const review = fixture('hpa-create-governed.json');
    const { first, after, second } = mutateTwice(review);
    expect(first.review).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true, patchType: 'JSONPatch' } });
    expect(decodePatch(first.review).map((op) => op.path)).toEqual(['/metadata/annotations']);
    const spec = (review.request.object as unknown as Obj).spec;
    expect(after.metadata.annotations['karma-hpa.io/base-spec']).toBe(formatBaseSpec(spec));
    expect(after.metadata.annotations['karma-hpa.io/bundle']).toBe('prod/checkout@1.2.0');
    expect(after.spec).toEqual(spec);
    expect(second.review.response.patch).toBeUndefined();
    expect(second.review.response.patchType).toBeUndefined();
  });

  it('re-applies the current decision when a GitOps re-sync sends the base spec back', () => {
    const review = fixture('hpa-update-gitops-resync.json');
    const { first, after, second } = mutateTwice(review);
    expect(decodePatch(first.review)).toEqual([{ op: 'replace', path: '/spec/minReplicas', value: 5 }]);
    expect(after.spec).toMatchObject({ minReplicas: 5, maxReplicas: 8 });
    expect(JSON.parse(after.metadata.annotations['karma-hpa.io/base-spec']!)).toMatchObject({ minReplicas: 3, maxReplicas: 8 });
    expect(first.decisionApplied).toEqual({ bundle: 'prod/checkout@1.2.0' });
    expect(first.dryRun).toBe(false);
    expect(second.review.response.patch).toBeUndefined();
    expect(second.decisionApplied).toBeUndefined();
  });

  it('gives a dry run the same answer and marks it, so the server counts nothing', () => {
    const wet = reviewHpaMutation(fixture('hpa-update-gitops-resync.json'), bundles, NOW);
    const dry = reviewHpaMutation(fixture('hpa-update-gitops-resync-dryrun.json'), bundles, NOW);
    expect(dry.dryRun).toBe(true);
    expect(dry.review.response.patch).toBe(wet.review.response.patch);
  });

  it('keeps the base when the sidecar writes a new decision (its spec is what the decision produces)', () => {
    const r = reviewHpaMutation(fixture('hpa-update-sidecar-decision.json'), bundles, NOW);
    expect(r.review.response).toEqual({ uid: 'b1a7c0de-0005-4c3e-9f00-000000000005', allowed: true });
  });

  it('keeps the base when the sidecar writes a decision, even one the guards refuse (validation reports it)', () => {
    const review = fixture('hpa-update-decision-breaks-guards.json');
    const r = reviewHpaMutation(review, bundles, NOW);
    const after = patchedObject(review, r.review) as unknown as Obj;
    expect(JSON.parse(after.metadata.annotations['karma-hpa.io/base-spec']!)).toMatchObject({ minReplicas: 3, maxReplicas: 8 });
    // The step guard limits the +3 decision to +2 from the 5 replicas it started at.
    expect(after.spec).toMatchObject({ minReplicas: 7, maxReplicas: 8 });
    expect(r.review.response.warnings).toEqual(['decision replicaChange 3 limited to 2 by guard maxStep of PolicyBundle prod/checkout@1.2.0']);
    const second = reviewHpaMutation(reinvocation(review, after as unknown as JsonValue), bundles, NOW);
    expect(second.review.response.patch).toBeUndefined();
  });

  it('takes an edited spec as the new base but keeps the base bounds when only other fields changed', () => {
    const review = fixture('hpa-update-gitops-resync.json');
    const obj = review.request.object as unknown as Obj;
    obj.spec.minReplicas = 5; // the decision's bounds, as live
    obj.spec.metrics = [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } }];
    const { first, after, second } = mutateTwice(review);
    const base = JSON.parse(after.metadata.annotations['karma-hpa.io/base-spec']!) as Record<string, unknown>;
    expect(base).toMatchObject({ minReplicas: 3, maxReplicas: 8, metrics: obj.spec.metrics });
    expect(after.spec).toMatchObject({ minReplicas: 5, maxReplicas: 8 });
    expect(first.review.response.patch).toBeDefined();
    expect(second.review.response.patch).toBeUndefined();
  });

  it('clamps a spec above the ceiling, says so in a warning, and keeps the Git value as base', () => {
    const { first, after, second } = mutateTwice(fixture('hpa-create-over-ceiling.json'));
    expect(after.spec).toMatchObject({ minReplicas: 3, maxReplicas: 8 });
    expect(JSON.parse(after.metadata.annotations['karma-hpa.io/base-spec']!)).toMatchObject({ maxReplicas: 12 });
    expect(first.review.response.warnings).toEqual(['spec maxReplicas 12 set to 8 by guard maxReplicas of PolicyBundle prod/checkout@1.2.0']);
    expect(second.review.response.patch).toBeUndefined();
  });

  it('warns when the HPA is not the spec the bundle\'s agents were trained on, one short warning per difference', () => {
    const trainedOn = { ...bundles[0]!, spec: { ...bundles[0]!.spec, hpaBase: { source: 'tuned-hpa' as const, cpuTargetPercent: 60, behavior: { scaleDown: { stabilizationWindowSeconds: 60 } } } } };
    const review = fixture('hpa-create-governed.json');
    const warned = reviewHpaMutation(review, [trainedOn], NOW).review.response.warnings;
    expect(warned).toEqual([
      'agents of prod/checkout@1.2.0 trained on another HPA spec; apply the bundle\'s hpa/*.yaml',
      'HPA spec vs training: CPU target 70 % (trained on 60 %)',
      expect.stringMatching(/^HPA spec vs training: scale-down window 300 s, Max of 100 % per 15 s \(trained on window 60 s/),
    ]);
    for (const w of warned!) expect([...w].length).toBeLessThanOrEqual(120);
    // The spec it was trained on: no warning.
    const same = structuredClone(review);
    (same.request.object as unknown as Obj).spec = { ...(same.request.object as unknown as Obj).spec, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } }], behavior: { scaleDown: { stabilizationWindowSeconds: 60 } } };
    expect(reviewHpaMutation(same, [trainedOn], NOW).review.response.warnings).toBeUndefined();
  });

  it('uses a target\'s own guards (label selector target)', () => {
    const { after } = mutateTwice(fixture('hpa-create-cart-warn.json'));
    expect(after.spec).toMatchObject({ minReplicas: 2, maxReplicas: 6 });
  });

  it('does not re-apply decisions of a paused HPA, or of another bundle, or malformed ones', () => {
    const paused = fixture('hpa-update-gitops-resync.json');
    (paused.request.object as unknown as Obj).metadata.annotations['karma-hpa.io/paused'] = 'true';
    expect(reviewHpaMutation(paused, bundles, NOW).review.response.patch).toBeUndefined();

    const foreign = fixture('hpa-update-gitops-resync.json');
    const ann = (foreign.request.object as unknown as Obj).metadata.annotations;
    ann['karma-hpa.io/decision'] = ann['karma-hpa.io/decision']!.replace('prod/checkout', 'prod/other');
    const f = reviewHpaMutation(foreign, bundles, NOW);
    expect(f.review.response.patch).toBeUndefined();
    expect(f.review.response.warnings).toEqual(['decision is from bundle prod/other, not prod/checkout; not re-applied']);

    const broken = fixture('hpa-update-gitops-resync.json');
    (broken.request.object as unknown as Obj).metadata.annotations['karma-hpa.io/decision'] = '{"replicaChange":';
    const b = reviewHpaMutation(broken, bundles, NOW);
    expect(b.review.response.allowed).toBe(true);
    expect(b.review.response.warnings).toEqual(['annotation karma-hpa.io/decision is not JSON; decision not re-applied']);
  });

  it.each([
    ['hpa-delete.json'], ['hpa-create-keda.json'], ['hpa-create-ungoverned.json'], ['deployment-scale-update.json'], ['pod-exec-connect.json'],
  ])('%s passes through: allowed, no patch, no warnings', (name) => {
    const review = fixture(name);
    const r = reviewHpaMutation(review, bundles, NOW);
    expect(r.review).toEqual({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true } });
  });

  it('answers with the apiVersion it received', () => {
    const review = fixture('hpa-create-governed.json');
    review.apiVersion = 'admission.k8s.io/v1beta1';
    expect(reviewHpaMutation(review, bundles, NOW).review.apiVersion).toBe('admission.k8s.io/v1beta1');
  });
});

describe('reviewHpaValidation', () => {
  it('denies a spec above the ceiling, naming field, guard, bundle and excess', () => {
    const review = fixture('hpa-create-over-ceiling.json');
    const r = reviewHpaValidation(review, bundles, NOW);
    expect(r.review).toEqual({
      apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
      response: { uid: review.request.uid, allowed: false, status: { code: 403, message: 'HPA shop/checkout breaks its guards: spec.maxReplicas 12 exceeds guard maxReplicas 8 of PolicyBundle prod/checkout@1.2.0 by 4' } },
    });
    expect(r.guards).toEqual(['maxReplicas']);
  });

  it('warns instead of denying under --enforcement warn', () => {
    const r = reviewHpaValidation(fixture('hpa-create-over-ceiling.json'), bundles, NOW, { enforcement: 'warn' });
    expect(r.review.response).toMatchObject({ allowed: true, warnings: ['spec.maxReplicas 12 exceeds guard maxReplicas 8 of PolicyBundle prod/checkout@1.2.0 by 4'] });
    expect(r.review.response.status).toBeUndefined();
  });

  it('warns when the target\'s guards say enforcement: warn', () => {
    const r = reviewHpaValidation(fixture('hpa-create-cart-warn.json'), bundles, NOW);
    expect(r.review.response.allowed).toBe(true);
    expect(r.review.response.warnings).toEqual([
      'spec.minReplicas 1 is below guard minReplicas 2 of PolicyBundle prod/checkout@1.2.0 by 1',
      'spec.maxReplicas 10 exceeds guard maxReplicas 6 of PolicyBundle prod/checkout@1.2.0 by 4',
    ]);
    expect(r.outcome).toBe('warned');
  });

  it('denies a decision that steps too far and too soon after the previous one', () => {
    const r = reviewHpaValidation(fixture('hpa-update-decision-breaks-guards.json'), bundles, NOW);
    expect(r.review.response.allowed).toBe(false);
    expect(r.review.response.status?.message).toBe('HPA shop/checkout breaks its guards: '
      + 'decision replicaChange 3 exceeds guard maxStep 2 of PolicyBundle prod/checkout@1.2.0 by 1; '
      + 'decision at 2026-11-25T09:58:30Z comes 30 s after the previous one; guard cooldownSeconds 60 of PolicyBundle prod/checkout@1.2.0 wants 30 s more');
    expect(r.guards).toEqual(['maxStep', 'cooldownSeconds']);
  });

  it.each([['hpa-create-governed.json'], ['hpa-update-gitops-resync.json'], ['hpa-update-sidecar-decision.json'], ['hpa-delete.json'], ['hpa-create-keda.json'], ['deployment-scale-update.json'], ['pod-exec-connect.json']])(
    '%s is allowed without warnings', (name) => {
      const review = fixture(name);
      expect(reviewHpaValidation(review, bundles, NOW).review.response).toEqual({ uid: review.request.uid, allowed: true });
    });

  it('warns about a decision stamped in the future (clock skew)', () => {
    const review = fixture('hpa-update-sidecar-decision.json');
    const r = reviewHpaValidation(review, bundles, Date.parse('2026-11-25T09:00:00Z'));
    expect(r.review.response.warnings).toEqual(["decision time 2026-11-25T10:00:00Z is in the future; check the sidecar's clock"]);
  });

  it('every mutated object passes validation (mutation clamps into the guards)', () => {
    for (const name of ['hpa-create-governed.json', 'hpa-create-over-ceiling.json', 'hpa-update-gitops-resync.json', 'hpa-create-cart-warn.json']) {
      const review = fixture(name);
      const after = patchedObject(review, reviewHpaMutation(review, bundles, NOW).review);
      const v = reviewHpaValidation(reinvocation(review, after as JsonValue), bundles, NOW);
      expect(v.review.response.allowed, name).toBe(true);
      expect(v.review.response.warnings, name).toBeUndefined();
    }
  });
});

describe('reviewBundleValidation', () => {
  it('allows a sealed, schema-valid bundle', () => {
    const review = fixture('bundle-create.json');
    expect(reviewBundleValidation(review, NOW).review).toEqual({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true } });
  });

  it('denies a bundle edited after sealing, pointing at /spec/digest', () => {
    const r = reviewBundleValidation(fixture('bundle-update-tampered.json'), NOW);
    expect(r.review.response.allowed).toBe(false);
    expect(r.review.response.status?.code).toBe(422);
    expect(r.review.response.status?.message).toMatch(/^PolicyBundle prod\/checkout is invalid \(1 problem\): \/spec\/digest: does not match the content \(expected sha256:[0-9a-f]{64}\)/);
    expect(r.guards).toEqual(['digest']);
  });

  it('lists every schema problem by field path', () => {
    const r = reviewBundleValidation(fixture('bundle-create-invalid.json'), NOW);
    const message = r.review.response.status?.message ?? '';
    expect(r.review.response.status?.code).toBe(422);
    for (const path of ['/spec/version', '/spec/evaluator', '/spec/guards/maxStep']) expect(message).toContain(path);
  });

  it('passes DELETE and non-bundle resources through', () => {
    const del = fixture('bundle-create.json');
    del.request.operation = 'DELETE';
    expect(reviewBundleValidation(del, NOW).review.response).toEqual({ uid: del.request.uid, allowed: true });
    const hpa = fixture('hpa-create-over-ceiling.json');
    expect(reviewBundleValidation(hpa, NOW).review.response.allowed).toBe(true);
  });
});

describe('guardedBounds', () => {
  const guards = checkoutBundle().spec.guards;
  const decision = { bundle: 'prod/checkout', bundleVersion: '1.2.0', agent: 'a', role: 'r', reason: '', time: '2026-11-25T10:00:00Z' };
  it.each([
    ['no decision: base bounds', { minReplicas: 3, maxReplicas: 8 }, undefined, [3, 8]],
    ['zero change restores the base', { minReplicas: 3, maxReplicas: 8 }, { replicaChange: 0, minReplicas: 6, maxReplicas: 8 }, [3, 8]],
    ['pre-scale within guards', { minReplicas: 3, maxReplicas: 8 }, { replicaChange: 2, minReplicas: 5, maxReplicas: 8 }, [5, 8]],
    ['pre-scale above the ceiling lifts max with min', { minReplicas: 3, maxReplicas: 6 }, { replicaChange: 3, minReplicas: 10, maxReplicas: 10 }, [8, 8]],
    ['containment never below the floor', { minReplicas: 3, maxReplicas: 8 }, { replicaChange: -3, minReplicas: 1, maxReplicas: 1 }, [2, 2]],
    ['base below the floor is lifted', { minReplicas: 1, maxReplicas: 4 }, undefined, [2, 4]],
    ['a Git change of the bound the decision did not move takes effect', { minReplicas: 3, maxReplicas: 7 }, { replicaChange: 2, minReplicas: 5, maxReplicas: 8 }, [5, 7]],
    ['containment keeps its recorded ceiling over a new base', { minReplicas: 2, maxReplicas: 8 }, { replicaChange: -1, minReplicas: 2, maxReplicas: 4 }, [2, 4]],
  ] as const)('%s', (_n, base, d, [min, max]) => {
    const r = guardedBounds(base, d ? { ...decision, ...d } : undefined, guards, 'prod/checkout@1.2.0');
    expect([r.minReplicas, r.maxReplicas]).toEqual([min, max]);
  });
});

describe('AdmissionReview envelope and annotations', () => {
  it('reads what the API server sends and explains what is wrong otherwise', () => {
    expect(readAdmissionReview(fixture('hpa-create-governed.json')).ok).toBe(true);
    expect(readAdmissionReview([])).toEqual({ ok: false, message: 'body must be a JSON object (an AdmissionReview)' });
    expect(readAdmissionReview({ kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v2', request: {} })).toMatchObject({ ok: false, message: expect.stringContaining('apiVersion must be one of') });
    const noUid = fixture('hpa-create-governed.json') as unknown as { request: Record<string, unknown> };
    delete noUid.request.uid;
    expect(readAdmissionReview(noUid)).toEqual({ ok: false, message: 'request.uid must be a non-empty string' });
  });

  it('keeps each warning within 120 characters and all within 4096', () => {
    const long = 'x'.repeat(300);
    const out = limitWarnings([long, ...Array.from({ length: 60 }, (_, i) => `${i}`.padEnd(100, '.'))]);
    expect(out.every((w) => [...w].length <= 120)).toBe(true);
    expect(out.reduce((n, w) => n + [...w].length, 0)).toBeLessThanOrEqual(4096);
    expect(out[0]).toBe(`${'x'.repeat(119)}…`);
    expect(limitWarnings(['same', 'same'])).toEqual(['same']);
  });

  it('round-trips the decision and base-spec annotations and rejects malformed ones', () => {
    const d = { bundle: 'prod/checkout', bundleVersion: '1.2.0', agent: 'a', role: 'r', replicaChange: 1, minReplicas: 3, maxReplicas: 5, reason: 'x', time: '2026-11-25T10:00:00Z' };
    expect(parseDecision(formatDecision(d))).toEqual({ ok: true, value: d });
    expect(parseDecision(JSON.stringify({ ...d, time: 'yesterday' }))).toMatchObject({ ok: false, problem: expect.stringContaining('RFC 3339') });
    expect(parseDecision(JSON.stringify({ ...d, minReplicas: 9 }))).toMatchObject({ ok: false });
    expect(parseBaseSpec('{"maxReplicas":3}')).toEqual({ ok: true, value: { maxReplicas: 3 } });
    expect(parseBaseSpec('[]')).toMatchObject({ ok: false });
  });
});
