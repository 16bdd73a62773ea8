/** What the API server needs from a webhook response, asserted. */
import { expect } from 'vitest';
import type { AdmissionReviewResponse } from '../../../webhook/admission/review.ts';
import { applyPatch, type JsonValue } from '../../../webhook/admission/jsonPatch.ts';
import { decodePatch } from './fixtures.ts';

/** A response the API server accepts: uid echoed, boolean allowed, status on denial, decodable patch. */
export function assertWellFormed(uid: string, apiVersion: string, out: AdmissionReviewResponse, object: JsonValue | undefined): void {
  expect(out.apiVersion).toBe(apiVersion);
  expect(out.kind).toBe('AdmissionReview');
  expect(out.response.uid).toBe(uid);
  expect(typeof out.response.allowed).toBe('boolean');
  if (!out.response.allowed) {
    expect(Number.isInteger(out.response.status?.code)).toBe(true);
    expect(out.response.status!.message.length).toBeGreaterThan(0);
  }
  for (const w of out.response.warnings ?? []) expect([...w].length).toBeLessThanOrEqual(120);
  if (out.response.patch !== undefined) {
    expect(out.response.patchType).toBe('JSONPatch');
    expect(() => applyPatch(object ?? null, decodePatch(out))).not.toThrow();
  }
  expect(() => JSON.parse(JSON.stringify(out))).not.toThrow();
}

