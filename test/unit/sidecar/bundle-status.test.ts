import { describe, expect, it } from 'vitest';
import { desiredBundleStatus, refusalReason, statusPatch, type BundleStatusInput } from '../../../webhook/sidecar/bundle-status.ts';
import type { BundleEntry } from '../../../webhook/sidecar/bundle-watch.ts';
import { shopBundle } from '../../integration/sidecar/fixtures.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const good = shopBundle({ namespace: 'shop', services: ['web', 'api'] });
const paused = shopBundle({ namespace: 'shop', services: ['web'], paused: true });
const digestError = '/spec/digest: does not match the content (expected sha256:00); the bundle was changed after it was sealed';

function input(entry: BundleEntry, over: Partial<BundleStatusInput> = {}): BundleStatusInput {
  return { entry, shadow: false, activity: { kinds: ['apply', 'unchanged'], fallbackCauses: [] }, fallbacks: 0, nowMs: NOW, ...over };
}

const conditionOf = (s: ReturnType<typeof desiredBundleStatus>, type: string) => s.conditions.find((c) => c.type === type)!;

describe('PolicyBundle status', () => {
  it('reports Accepted and Active with their reasons', () => {
    const observed = { generation: 3, resourceVersion: '40' };
    // One row per case: entry, what the tick did, shadow → [Accepted status/reason, Active status/reason].
    const rows: [string, BundleEntry, Partial<BundleStatusInput>, [string, string, string, string]][] = [
      ['deciding', { good, observed }, {}, ['True', 'Valid', 'True', 'Deciding']],
      ['paused bundle', { good: paused, observed }, {}, ['True', 'Valid', 'False', 'Paused']],
      ['shadow mode', { good, observed }, { shadow: true }, ['True', 'Valid', 'False', 'Shadow']],
      ['every HPA paused', { good, observed }, { activity: { kinds: ['paused', 'paused'], fallbackCauses: [] } }, ['True', 'Valid', 'False', 'Paused']],
      ['every HPA fell back', { good, observed }, { activity: { kinds: ['fallback', 'fallback'], fallbackCauses: ['stale_metrics', 'missing_metrics'] } }, ['True', 'Valid', 'False', 'Fallback']],
      ['no HPA', { good, observed }, { activity: { kinds: [], fallbackCauses: [] } }, ['True', 'Valid', 'False', 'NoGovernedHpas']],
      ['tampered, last good kept', { good, refused: { errors: [digestError] }, observed }, {}, ['False', 'DigestMismatch', 'True', 'PreviousVersion']],
      ['never valid', { refused: { errors: ['/spec/guards: must have required property \'maxStep\''] }, observed }, {}, ['False', 'SchemaInvalid', 'False', 'NotAccepted']],
    ];
    for (const [name, entry, over, [acc, accReason, act, actReason]] of rows) {
      const s = desiredBundleStatus(input(entry, over), undefined);
      expect([conditionOf(s, 'Accepted').status, conditionOf(s, 'Accepted').reason, conditionOf(s, 'Active').status, conditionOf(s, 'Active').reason], name)
        .toEqual([acc, accReason, act, actReason]);
      expect(s.observedGeneration, name).toBe(3);
      for (const c of s.conditions) expect(c, name).toMatchObject({ observedGeneration: 3, lastTransitionTime: '2026-03-01T12:00:00Z', message: expect.any(String) });
    }
    const refused = desiredBundleStatus(input({ good, refused: { errors: [digestError] }, observed }), undefined);
    expect(conditionOf(refused, 'Accepted').message).toBe(digestError);
    expect(refused).toMatchObject({ observedDigest: good.spec.digest, observedVersion: '1.0.0', governedHpas: 2 });
    const fell = desiredBundleStatus(input({ good, observed }, { activity: { kinds: ['fallback'], fallbackCauses: ['stale_metrics'] } }), undefined);
    expect(conditionOf(fell, 'Active').message).toContain('stale_metrics');
  });

  it('names digest failures DigestMismatch and everything else SchemaInvalid', () => {
    expect(refusalReason([digestError])).toBe('DigestMismatch');
    expect(refusalReason(['/spec/agents/0/network/inputs: is 3 but the observation has 16 features'])).toBe('SchemaInvalid');
  });

  it('keeps a condition\'s transition time while its status holds, and moves it when the status changes', () => {
    const entry: BundleEntry = { good, observed: { generation: 1 } };
    const first = desiredBundleStatus(input(entry), undefined);
    const later = desiredBundleStatus(input(entry, { nowMs: NOW + 60_000, activity: { kinds: ['unchanged', 'unchanged'], fallbackCauses: [] } }), first as unknown as Record<string, unknown>);
    expect(conditionOf(later, 'Active').lastTransitionTime).toBe('2026-03-01T12:00:00Z');
    const shadow = desiredBundleStatus(input(entry, { nowMs: NOW + 120_000, shadow: true }), later as unknown as Record<string, unknown>);
    expect(conditionOf(shadow, 'Active').lastTransitionTime).toBe('2026-03-01T12:02:00Z');
    expect(conditionOf(shadow, 'Accepted').lastTransitionTime).toBe('2026-03-01T12:00:00Z');
  });

  it('patches only what changed, nothing on an unchanged tick, and null for a field no longer reported', () => {
    const entry: BundleEntry = { good, observed: { generation: 1 } };
    const first = desiredBundleStatus(input(entry, { lastDecisionMs: NOW }), undefined);
    expect(statusPatch(undefined, first)).toEqual(first);
    const asRead = { ...first, someoneElse: 'kept' } as unknown as Record<string, unknown>;
    expect(statusPatch(asRead, desiredBundleStatus(input(entry, { nowMs: NOW + 15_000 }), asRead))).toBeUndefined();
    expect(statusPatch(asRead, desiredBundleStatus(input(entry, { nowMs: NOW + 15_000, fallbacks: 1 }), asRead))).toEqual({ fallbacks: 1 });
    // A new leader keeps the reported decision time; a bundle no longer valid loses its digest.
    expect(desiredBundleStatus(input(entry), asRead).lastDecisionTime).toBe('2026-03-01T12:00:00Z');
    const patch = statusPatch(asRead, desiredBundleStatus(input({ refused: { errors: [digestError] }, observed: { generation: 2 } }), asRead))!;
    expect(patch).toMatchObject({ observedDigest: null, observedVersion: null, observedGeneration: 2 });
    expect(patch).not.toHaveProperty('someoneElse');
  });
});
