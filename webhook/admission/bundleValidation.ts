/**
 * /validate/bundle: a PolicyBundle reaches the cluster only when its schema, consistency and digest
 * check out, so a broken bundle from Git never reaches the sidecar.
 */
import { POLICY_BUNDLE_KIND, validateBundle, type PolicyBundle } from '../../policies/bundle.ts';
import { canonicalJson } from '../../policies/canonical.ts';
import { allow, deny, type AdmissionReview, type ReviewOutcome } from './review.ts';

/** Field paths listed in a denial; the rest are counted, so the message stays readable. */
export const MAX_LISTED_PROBLEMS = 20;

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function isBundleRequest(review: AdmissionReview): boolean {
  const r = review.request;
  return r.resource.group === 'karma-hpa.io' && r.resource.resource === 'policybundles' && (r.subResource ?? '') === '';
}

/** Status is written by the in-cluster side and is not covered by the digest; only the rest is judged. */
function bundleForValidation(object: Record<string, unknown>): Record<string, unknown> {
  const { status: _status, ...rest } = object;
  return rest;
}

export function reviewBundleValidation(review: AdmissionReview, _now: number): ReviewOutcome {
  const req = review.request;
  const dryRun = req.dryRun === true;
  if (req.operation === 'DELETE' || req.operation === 'CONNECT' || !isBundleRequest(review)) {
    return { review: allow(review), outcome: 'passthrough', guards: [], dryRun };
  }
  const object = req.object;
  const label = `PolicyBundle ${req.namespace ?? ''}${req.namespace ? '/' : ''}${req.name ?? '(unnamed)'}`;
  if (!isRecord(object)) {
    return { review: deny(review, 400, `${label} is invalid: (document root): the object is not a JSON object`), outcome: 'denied', guards: ['schema'], dryRun };
  }
  const result = validateBundle(bundleForValidation(object));
  if (!result.ok) {
    const listed = result.errors.slice(0, MAX_LISTED_PROBLEMS);
    const more = result.errors.length - listed.length;
    const message = `${label} is invalid (${result.errors.length} problem${result.errors.length === 1 ? '' : 's'}): ${listed.join('; ')}${more > 0 ? `; and ${more} more` : ''}`;
    const guard = result.errors.some((e) => e.startsWith('/spec/digest')) ? 'digest' : 'schema';
    return { review: deny(review, 422, message), outcome: 'denied', guards: [guard], dryRun };
  }
  const warnings: string[] = [];
  const old = req.operation === 'UPDATE' && isRecord(req.oldObject) ? req.oldObject : undefined;
  const oldSpec = old && isRecord(old.spec) ? old.spec : undefined;
  const bundle: PolicyBundle = result.bundle;
  if (oldSpec && oldSpec.version === bundle.spec.version && oldSpec.digest !== bundle.spec.digest && canonicalJson(oldSpec) !== canonicalJson(bundle.spec)) {
    warnings.push(`${POLICY_BUNDLE_KIND} spec changed but spec.version stays ${bundle.spec.version}; bump the version`);
  }
  return { review: allow(review, warnings), outcome: warnings.length > 0 ? 'warned' : 'allowed', guards: [], dryRun };
}
