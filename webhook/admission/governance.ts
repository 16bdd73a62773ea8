/**
 * Which PolicyBundle governs an HPA, and whether karma-hpa may touch it at all. Pure functions of
 * the admitted object and the loaded bundles.
 */
import { guardsFor, targetFor, type BundleTarget, type Guards, type PolicyBundle } from '../../policies/bundle.ts';
import { bundleReference } from '../../policies/annotations.ts';

export interface Governance {
  bundle: PolicyBundle;
  target: BundleTarget;
  guards: Guards;
  /** `<namespace>/<name>` of the bundle. */
  bundleKey: string;
  /** `<namespace>/<name>@<version>`, the value of the bundle annotation. */
  bundleRef: string;
  /** Other bundles that also claim this HPA (the first by key wins; the rest are named in a warning). */
  alsoClaimedBy: string[];
}

/** The parts of an HPA object the webhook reads; everything else is carried through untouched. */
export interface HpaView {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  ownerKinds: string[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function stringMap(v: unknown): Record<string, string> {
  if (!isRecord(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

/**
 * Read the identity of an HPA from an admitted object. The namespace comes from the request when
 * the object omits it (the API server fills it in only after admission on create).
 */
export function hpaView(object: unknown, requestNamespace: string | undefined, requestName: string | undefined): HpaView | string {
  if (!isRecord(object)) return 'the object is not a JSON object';
  const meta = object.metadata;
  if (!isRecord(meta)) return 'metadata is missing';
  const namespace = typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : requestNamespace;
  const name = typeof meta.name === 'string' && meta.name !== '' ? meta.name : requestName;
  if (!namespace) return 'metadata.namespace is missing';
  if (!name) return 'metadata.name is missing (generateName HPAs cannot be matched to a bundle target)';
  const owners = Array.isArray(meta.ownerReferences) ? meta.ownerReferences : [];
  return {
    namespace,
    name,
    labels: stringMap(meta.labels),
    annotations: stringMap(meta.annotations),
    ownerKinds: owners.filter(isRecord).map((o) => (typeof o.kind === 'string' ? o.kind : '')),
  };
}

/** KEDA creates and owns its HPAs; changing them would fight its operator. */
export function isKedaManaged(hpa: HpaView): boolean {
  return hpa.labels['app.kubernetes.io/managed-by'] === 'keda-operator' || hpa.ownerKinds.includes('ScaledObject');
}

export function bundleKey(bundle: PolicyBundle): string {
  return `${bundle.metadata.namespace ?? 'default'}/${bundle.metadata.name}`;
}

export function bundleRefOf(bundle: PolicyBundle): string {
  return bundleReference(bundle.metadata.namespace ?? 'default', bundle.metadata.name, bundle.spec.version);
}

// Sources hand out the same array until bundles change, so its sorted form is computed once per change.
const sortedBundles = new WeakMap<readonly PolicyBundle[], PolicyBundle[]>();

function inKeyOrder(bundles: readonly PolicyBundle[]): PolicyBundle[] {
  let sorted = sortedBundles.get(bundles);
  if (!sorted) {
    sorted = bundles.map((b) => ({ b, k: bundleKey(b) })).sort((x, y) => (x.k < y.k ? -1 : x.k > y.k ? 1 : 0)).map((x) => x.b);
    sortedBundles.set(bundles, sorted);
  }
  return sorted;
}

/** The governing bundle of an HPA, if any. Bundles are considered in key order so the choice is stable. */
export function governanceFor(hpa: HpaView, bundles: readonly PolicyBundle[]): Governance | undefined {
  const matches: { bundle: PolicyBundle; target: BundleTarget }[] = [];
  for (const bundle of inKeyOrder(bundles)) {
    const target = targetFor(bundle, { namespace: hpa.namespace, name: hpa.name, labels: hpa.labels });
    if (target) matches.push({ bundle, target });
  }
  const first = matches[0];
  if (!first) return undefined;
  return {
    bundle: first.bundle,
    target: first.target,
    guards: guardsFor(first.bundle, first.target),
    bundleKey: bundleKey(first.bundle),
    bundleRef: bundleRefOf(first.bundle),
    alsoClaimedBy: matches.slice(1).map((m) => bundleRefOf(m.bundle)),
  };
}
