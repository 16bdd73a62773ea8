/**
 * AdmissionReview (admission.k8s.io/v1) as the API server sends and expects it: reading a request
 * defensively, and building responses that echo the request's uid, apiVersion and kind.
 */
import { diffJson, type JsonValue } from './jsonPatch.ts';

export interface GroupVersionKind { group: string; version: string; kind: string }
export interface GroupVersionResource { group: string; version: string; resource: string }
export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource?: string;
  requestKind?: GroupVersionKind;
  requestResource?: GroupVersionResource;
  requestSubResource?: string;
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  object?: JsonValue;
  oldObject?: JsonValue;
  dryRun?: boolean;
  options?: JsonValue;
}

export interface AdmissionReview {
  apiVersion: string;
  kind: 'AdmissionReview';
  request: AdmissionRequest;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string; reason?: string };
  patchType?: 'JSONPatch';
  patch?: string;
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

export interface AdmissionReviewResponse {
  apiVersion: string;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

/** What a review did, for metrics and logs; the server counts effects only when not a dry run. */
export interface ReviewOutcome {
  review: AdmissionReviewResponse;
  outcome: 'allowed' | 'patched' | 'denied' | 'warned' | 'passthrough';
  /** Guard names that denied or warned, for the denial counter. */
  guards: string[];
  /** Set when a governed HPA had an agent decision re-applied. */
  decisionApplied?: { bundle: string };
  dryRun: boolean;
}

/** v1 is what the webhook configurations ask for; v1beta1 has the same request/response shape. */
export const ACCEPTED_REVIEW_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'];
const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

/*
 * Warning limits, from Kubernetes: the AdmissionResponse API doc says "Limit warnings to 120
 * characters if possible. Warnings over 256 characters and large numbers of warnings may be
 * truncated"; k8s.io/apiserver/pkg/endpoints/filters/warning.go truncates each warning at 256 runes
 * (truncateItemRunes) and drops warnings past 4096 runes in total (truncateAtTotalRunes). We keep
 * each warning within 120 characters and all of them within 4096, so nothing is cut mid-sentence.
 */
export const WARNING_MAX_CHARS = 120;
export const WARNINGS_TOTAL_MAX_CHARS = 4096;

export function limitWarnings(warnings: readonly string[]): string[] {
  const out: string[] = [];
  let total = 0;
  for (const w0 of new Set(warnings)) {
    const chars = [...w0];
    const w = chars.length > WARNING_MAX_CHARS ? `${chars.slice(0, WARNING_MAX_CHARS - 1).join('')}…` : w0;
    const len = [...w].length;
    if (total + len > WARNINGS_TOTAL_MAX_CHARS) break;
    out.push(w);
    total += len;
  }
  return out;
}

export type ReadResult = { ok: true; review: AdmissionReview } | { ok: false; message: string };

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function readGvk(v: unknown, field: string, parts: readonly string[]): string | undefined {
  if (!isRecord(v)) return `${field} must be an object with ${parts.join(', ')}`;
  for (const p of parts) if (typeof v[p] !== 'string') return `${field}.${p} must be a string`;
  return undefined;
}

/**
 * Check the envelope of an AdmissionReview. Only what routing and the response need is required;
 * the object itself is judged by the review functions, which never trust its shape.
 */
export function readAdmissionReview(body: unknown): ReadResult {
  if (!isRecord(body)) return { ok: false, message: 'body must be a JSON object (an AdmissionReview)' };
  if (body.kind !== 'AdmissionReview') return { ok: false, message: `kind must be "AdmissionReview", got ${JSON.stringify(body.kind) ?? 'nothing'}` };
  if (typeof body.apiVersion !== 'string' || !ACCEPTED_REVIEW_VERSIONS.includes(body.apiVersion)) {
    return { ok: false, message: `apiVersion must be one of ${ACCEPTED_REVIEW_VERSIONS.join(', ')}, got ${JSON.stringify(body.apiVersion) ?? 'nothing'}` };
  }
  const r = body.request;
  if (!isRecord(r)) return { ok: false, message: 'request must be an object' };
  if (typeof r.uid !== 'string' || r.uid.length === 0) return { ok: false, message: 'request.uid must be a non-empty string' };
  if (typeof r.operation !== 'string' || !OPERATIONS.includes(r.operation)) {
    return { ok: false, message: `request.operation must be one of ${OPERATIONS.join(', ')}` };
  }
  const bad = readGvk(r.kind, 'request.kind', ['group', 'version', 'kind']) ?? readGvk(r.resource, 'request.resource', ['group', 'version', 'resource']);
  if (bad) return { ok: false, message: bad };
  for (const f of ['subResource', 'name', 'namespace', 'requestSubResource'] as const) {
    if (r[f] !== undefined && typeof r[f] !== 'string') return { ok: false, message: `request.${f} must be a string when present` };
  }
  if (r.dryRun !== undefined && typeof r.dryRun !== 'boolean') return { ok: false, message: 'request.dryRun must be a boolean when present' };
  return { ok: true, review: body as unknown as AdmissionReview };
}

function envelope(review: AdmissionReview, response: AdmissionResponse): AdmissionReviewResponse {
  if (response.warnings !== undefined) {
    const limited = limitWarnings(response.warnings);
    if (limited.length > 0) response.warnings = limited;
    else delete response.warnings;
  }
  return { apiVersion: review.apiVersion, kind: 'AdmissionReview', response };
}

export function allow(review: AdmissionReview, warnings: readonly string[] = []): AdmissionReviewResponse {
  return envelope(review, { uid: review.request.uid, allowed: true, warnings: [...warnings] });
}

export function deny(review: AdmissionReview, code: number, message: string, warnings: readonly string[] = []): AdmissionReviewResponse {
  return envelope(review, { uid: review.request.uid, allowed: false, status: { code, message }, warnings: [...warnings] });
}

/** Allow with the JSON Patch that turns the received object into `mutated` (no patch when equal). */
export function allowWithMutation(review: AdmissionReview, mutated: JsonValue, warnings: readonly string[] = []): { review: AdmissionReviewResponse; patched: boolean } {
  const ops = diffJson(review.request.object ?? null, mutated);
  const response: AdmissionResponse = { uid: review.request.uid, allowed: true, warnings: [...warnings] };
  if (ops.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(ops)).toString('base64');
  }
  return { review: envelope(review, response), patched: ops.length > 0 };
}
