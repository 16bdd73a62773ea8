/** Loading the AdmissionReview fixtures and decoding responses, shared by the webhook suites. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { validateBundle, type PolicyBundle } from '../../../policies/bundle.ts';
import { applyPatch, type JsonValue, type PatchOperation } from '../../../webhook/admission/jsonPatch.ts';
import type { AdmissionReview, AdmissionReviewResponse } from '../../../webhook/admission/review.ts';

export const FIXTURE_DIR = fileURLToPath(new URL('../../fixtures/admission/', import.meta.url));

export function fixtureText(name: string): string {
  return readFileSync(`${FIXTURE_DIR}${name}`, 'utf8');
}

export function fixture(name: string): AdmissionReview {
  return JSON.parse(fixtureText(name)) as AdmissionReview;
}

export function checkoutBundle(): PolicyBundle {
  const r = validateBundle(JSON.parse(fixtureText('bundles/checkout.json')));
  if (!r.ok) throw new Error(`fixture bundle is invalid: ${r.errors.join('; ')}`);
  return r.bundle;
}

export function decodePatch(response: AdmissionReviewResponse): PatchOperation[] {
  const { patch, patchType } = response.response;
  if (patch === undefined) return [];
  if (patchType !== 'JSONPatch') throw new Error(`patchType is ${String(patchType)}`);
  return JSON.parse(Buffer.from(patch, 'base64').toString('utf8')) as PatchOperation[];
}

/** The object as the API server would store it after applying the response's patch. */
export function patchedObject(review: AdmissionReview, response: AdmissionReviewResponse): Record<string, unknown> {
  return applyPatch(review.request.object ?? null, decodePatch(response)) as Record<string, unknown>;
}

/** The review the API server sends when it calls the webhook again on an already mutated object. */
export function reinvocation(review: AdmissionReview, object: JsonValue): AdmissionReview {
  return { ...review, request: { ...review.request, object } };
}
