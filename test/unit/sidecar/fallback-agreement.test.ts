/**
 * The sidecar and the mutating webhook map the same base spec and guards to the same bounds. A Git base
 * outside the bundle's guards is where they could disagree: if the sidecar's fallback wrote the raw base,
 * the webhook would clamp it again and take the result for a new base, and the two would keep undoing
 * each other's writes.
 */
import { describe, expect, it } from 'vitest';
import { guardsFor } from '../../../policies/bundle.ts';
import { BASE_SPEC_ANNOTATION, DECISION_ANNOTATION, parseDecision } from '../../../policies/annotations.ts';
import { applyDecision } from '../../../policies/decision.ts';
import { reviewHpaMutation } from '../../../webhook/admission/hpaMutation.ts';
import type { JsonValue } from '../../../webhook/admission/jsonPatch.ts';
import type { AdmissionReview } from '../../../webhook/admission/review.ts';
import { planHpa, type AgentVerdict, type PlanInput } from '../../../webhook/sidecar/decide.ts';
import type { HpaChange, HpaObject } from '../../../webhook/sidecar/cluster-port.ts';
import { decodePatch, fixture, patchedObject } from '../webhook/fixtures.ts';
import { shopBundle } from '../../integration/sidecar/fixtures.ts';
import { hpaObject, type KubeObject } from '../../support/kube-api.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');
// Guards [3, 8]; the Git spec asks for [1, 20], outside on both sides.
const bundle = shopBundle({ namespace: 'shop', services: ['web'], guards: { minReplicas: 3, maxReplicas: 8, maxStep: 2, cooldownSeconds: 0 } });
const target = bundle.spec.targets[0]!;
const guards = guardsFor(bundle, target);
const gitHpa = hpaObject({ name: 'web', namespace: 'shop', minReplicas: 1, maxReplicas: 20, currentReplicas: 4 });

/** An AdmissionReview the API server would send for this write of the HPA. */
function review(operation: 'CREATE' | 'UPDATE', object: KubeObject, oldObject?: KubeObject): AdmissionReview {
  const template = fixture('hpa-update-sidecar-decision.json');
  return {
    ...template,
    request: {
      ...template.request, name: 'web', namespace: 'shop', operation,
      object: object as unknown as JsonValue, oldObject: (oldObject ?? null) as unknown as JsonValue,
    },
  };
}

/** The webhook's answer applied, as the API server stores it; `patched` tells whether the webhook changed anything. */
function admit(operation: 'CREATE' | 'UPDATE', object: KubeObject, oldObject?: KubeObject): { stored: KubeObject; patched: boolean } {
  const r = review(operation, object, oldObject);
  const { review: response } = reviewHpaMutation(r, [bundle], NOW);
  expect(response.response.allowed).toBe(true);
  return { stored: patchedObject(r, response) as unknown as KubeObject, patched: decodePatch(response).length > 0 };
}

/** The sidecar's merge patch applied to the stored object. */
function withChange(obj: KubeObject, change: HpaChange): KubeObject {
  const next = structuredClone(obj);
  next.spec = { ...(next.spec as object), minReplicas: change.minReplicas, maxReplicas: change.maxReplicas };
  const annotations = { ...next.metadata.annotations };
  // Merge patch: null removes an annotation.
  for (const [k, v] of Object.entries(change.annotations)) {
    if (v === null) delete annotations[k];
    else annotations[k] = v;
  }
  next.metadata.annotations = annotations;
  return next;
}

const bounds = (obj: KubeObject) => ({ minReplicas: (obj.spec as { minReplicas: number }).minReplicas, maxReplicas: (obj.spec as { maxReplicas: number }).maxReplicas });
const verdict = (replicaChange: number): AgentVerdict => ({ available: true, agent: 'surge-web', role: 'ddos-manager', service: 'web', replicaChange, confidence: 0.9, reason: 'rule x' });
const plan = (obj: KubeObject, o: Partial<PlanInput>) => planHpa({
  hpa: obj as unknown as HpaObject, nowMs: NOW, bundle, target, guards, verdicts: [verdict(0)], health: { ageSeconds: 5, missing: [] }, ...o,
});

describe('sidecar fallback and webhook mutation agree on a Git base outside the guards', () => {
  it('the fallback writes the guarded base, which the webhook keeps, and a GitOps re-sync lands on the same bounds', () => {
    // Created from Git: the webhook records the base and clamps it into the guards.
    const created = admit('CREATE', gitHpa);
    expect(created.stored.metadata.annotations?.[BASE_SPEC_ANNOTATION]).toBeDefined();
    expect(bounds(created.stored)).toEqual({ minReplicas: 3, maxReplicas: 8 });

    // An agent pre-scales (+2 at 4 replicas); the webhook keeps the sidecar's write.
    const up = plan(created.stored, { verdicts: [verdict(2)] });
    expect(up.kind).toBe('apply');
    const scaled = admit('UPDATE', withChange(created.stored, up.change!), created.stored);
    expect(scaled.patched).toBe(false);
    expect(bounds(scaled.stored)).toEqual({ minReplicas: 6, maxReplicas: 8 });

    // Metrics go stale: the sidecar falls back to the base within the guards, not to the raw [1, 20].
    const fallback = plan(scaled.stored, { health: { ageSeconds: 600, missing: [] } });
    expect(fallback.kind).toBe('fallback');
    expect(fallback.bounds).toEqual({ minReplicas: 3, maxReplicas: 8 });
    expect(fallback.bounds).toEqual(applyDecision({ minReplicas: 1, maxReplicas: 20 }, 4, 0, guards));
    const decision = parseDecision(fallback.change!.annotations[DECISION_ANNOTATION]!);
    expect(decision.ok && decision.value).toMatchObject({ replicaChange: 0, minReplicas: 3, maxReplicas: 8 });

    // The webhook admits the fallback as it is: same bounds, no patch, base unchanged.
    const fellBack = admit('UPDATE', withChange(scaled.stored, fallback.change!), scaled.stored);
    expect(fellBack.patched).toBe(false);
    expect(bounds(fellBack.stored)).toEqual(fallback.bounds);
    expect(fellBack.stored.metadata.annotations?.[BASE_SPEC_ANNOTATION]).toBe(created.stored.metadata.annotations?.[BASE_SPEC_ANNOTATION]);

    // Argo CD sends the Git spec back: the webhook's result equals the sidecar's fallback bounds...
    const resync = structuredClone(fellBack.stored);
    resync.spec = structuredClone(gitHpa.spec);
    const resynced = admit('UPDATE', resync, fellBack.stored);
    expect(bounds(resynced.stored)).toEqual(fallback.bounds);
    // ...and the next tick, still stale, has nothing to write.
    const again = plan(resynced.stored, { health: { ageSeconds: 615, missing: [] } });
    expect(again.kind).toBe('fallback');
    expect(again.change).toBeUndefined();
  });

  it('without a valid bundle nothing guards the HPA, so the fallback is the raw base', () => {
    const created = admit('CREATE', gitHpa);
    const refused = plan(created.stored, { bundle: undefined, guards: undefined, target: undefined, bundleProblem: 'digest mismatch' });
    expect(refused.kind).toBe('fallback');
    expect(refused.bounds).toEqual({ minReplicas: 1, maxReplicas: 20 });
    // The webhook governs nothing without the bundle: the write passes unchanged.
    const { review: response } = reviewHpaMutation(review('UPDATE', withChange(created.stored, refused.change!), created.stored), [], NOW);
    expect(decodePatch(response)).toEqual([]);
  });
});
