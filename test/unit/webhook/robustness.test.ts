import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { reviewHpaMutation } from '../../../webhook/admission/hpaMutation.ts';
import { reviewHpaValidation } from '../../../webhook/admission/hpaValidation.ts';
import { reviewBundleValidation } from '../../../webhook/admission/bundleValidation.ts';
import { readAdmissionReview } from '../../../webhook/admission/review.ts';
import { assertWellFormed } from './wellFormed.ts';
import { applyPatch } from '../../../webhook/admission/jsonPatch.ts';
import { jsonNestingDepth } from '../../../webhook/server/app.ts';
import { checkoutBundle, decodePatch } from './fixtures.ts';
import { damagedReview } from './arbitraryReviews.ts';

const NOW = Date.parse('2026-11-25T10:00:05Z');
const bundles = [checkoutBundle()];

describe('the pure review core never throws on damaged AdmissionReviews', () => {
  it('10,000 damaged reviews: a well-formed response from every review function, or a clear envelope error', () => {
    let envelopes = 0;
    fc.assert(fc.property(damagedReview, (body) => {
      const read = readAdmissionReview(body);
      if (!read.ok) {
        expect(read.message.length).toBeGreaterThan(0);
        return;
      }
      envelopes++;
      const r = read.review;
      for (const out of [reviewHpaMutation(r, bundles, NOW), reviewHpaValidation(r, bundles, NOW), reviewHpaValidation(r, bundles, NOW, { enforcement: 'warn' }), reviewBundleValidation(r, NOW)]) {
        assertWellFormed(r.request.uid, r.apiVersion, out.review, r.request.object);
      }
      // Mutation stays idempotent on whatever it accepted.
      const first = reviewHpaMutation(r, bundles, NOW).review;
      if (first.response.patch !== undefined) {
        const after = applyPatch(r.request.object ?? null, decodePatch(first));
        const second = reviewHpaMutation({ ...r, request: { ...r.request, object: after } }, bundles, NOW).review;
        expect(second.response.patch).toBeUndefined();
      }
    }), { numRuns: 10_000, seed: 20261125 });
    // Most damaged reviews keep a readable envelope, so the review functions were exercised.
    expect(envelopes).toBeGreaterThan(5_000);
  });

  it('measures JSON nesting outside strings', () => {
    expect(jsonNestingDepth('{"a":[1,{"b":"[[[["}]}')).toBe(3);
    expect(jsonNestingDepth('"\\"[["')).toBe(0);
    expect(jsonNestingDepth('[[[[[[', 3)).toBe(4);
  });
});
