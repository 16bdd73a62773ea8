/**
 * Validate Kubernetes objects against the upstream OpenAPI schemas shipped by the kubernetes-models
 * packages (core and built-in groups, Argo CD, Flux, cert-manager), plus PolicyBundles against our
 * own schema. Dispatch is on apiVersion + kind; an unknown pair is an error, so nothing is waved
 * through unchecked.
 */
import { parseAllDocuments } from 'yaml';
import * as admissionregistrationV1 from 'kubernetes-models/admissionregistration.k8s.io/v1';
import * as apiextensionsV1 from 'kubernetes-models/apiextensions.k8s.io/v1';
import * as appsV1 from 'kubernetes-models/apps/v1';
import * as autoscalingV2 from 'kubernetes-models/autoscaling/v2';
import * as batchV1 from 'kubernetes-models/batch/v1';
import * as coordinationV1 from 'kubernetes-models/coordination.k8s.io/v1';
import * as networkingV1 from 'kubernetes-models/networking.k8s.io/v1';
import * as policyV1 from 'kubernetes-models/policy/v1';
import * as rbacV1 from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import * as schedulingV1 from 'kubernetes-models/scheduling.k8s.io/v1';
import * as coreV1 from 'kubernetes-models/v1';
import * as argoprojV1alpha1 from '@kubernetes-models/argo-cd/argoproj.io/v1alpha1';
import * as fluxKustomizeV1 from '@kubernetes-models/flux-cd/kustomize.toolkit.fluxcd.io/v1';
import * as fluxSourceV1 from '@kubernetes-models/flux-cd/source.toolkit.fluxcd.io/v1';
import * as certManagerV1 from '@kubernetes-models/cert-manager/cert-manager.io/v1';
import { validateBundle } from '../../policies/bundle.ts';

interface ModelClass {
  apiVersion: string;
  kind: string;
  new (data: Record<string, unknown>): { validate(): void };
}

const GROUPS: Record<string, Record<string, unknown>> = {
  v1: coreV1,
  'apps/v1': appsV1,
  'autoscaling/v2': autoscalingV2,
  'batch/v1': batchV1,
  'policy/v1': policyV1,
  'rbac.authorization.k8s.io/v1': rbacV1,
  'networking.k8s.io/v1': networkingV1,
  'coordination.k8s.io/v1': coordinationV1,
  'scheduling.k8s.io/v1': schedulingV1,
  'admissionregistration.k8s.io/v1': admissionregistrationV1,
  'apiextensions.k8s.io/v1': apiextensionsV1,
  'argoproj.io/v1alpha1': argoprojV1alpha1,
  'kustomize.toolkit.fluxcd.io/v1': fluxKustomizeV1,
  'source.toolkit.fluxcd.io/v1': fluxSourceV1,
  'cert-manager.io/v1': certManagerV1,
};

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The model class for an apiVersion/kind, or undefined when no upstream schema is known. */
function modelFor(apiVersion: string, kind: string): ModelClass | undefined {
  const group = GROUPS[apiVersion];
  const candidate = group?.[kind] as ModelClass | undefined;
  return typeof candidate === 'function' && candidate.kind === kind && candidate.apiVersion === apiVersion ? candidate : undefined;
}

/** Kinds validateManifest understands, as `apiVersion/kind`, for messages. */
export function knownManifestKinds(): string[] {
  return Object.keys(GROUPS).sort();
}

/** Throws an Error naming the object and the failed rule when `obj` is not a valid object of its kind. */
export function validateManifest(obj: unknown): void {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new Error(`manifest is not an object: ${JSON.stringify(obj)}`);
  const o = obj as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; generateName?: unknown } };
  if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string') throw new Error('manifest lacks apiVersion or kind');
  const label = `${o.apiVersion} ${o.kind} "${String(o.metadata?.name ?? '?')}"`;
  // Upstream ObjectMeta marks no field required; the API server requires a name (or generateName).
  const name = o.metadata?.name ?? o.metadata?.generateName;
  if (typeof name !== 'string' || name.length === 0) throw new Error(`${label}: metadata.name is required`);
  if (typeof o.metadata?.name === 'string' && !DNS_SUBDOMAIN.test(o.metadata.name) && o.kind !== 'ClusterRole' && o.kind !== 'ClusterRoleBinding' && o.kind !== 'Role' && o.kind !== 'RoleBinding') {
    throw new Error(`${label}: metadata.name must be a DNS subdomain (lower case, digits, '-', '.')`);
  }
  if (o.apiVersion === 'karma-hpa.io/v1alpha1' && o.kind === 'PolicyBundle') {
    const r = validateBundle(obj);
    if (!r.ok) throw new Error(`${label}: ${r.errors.join('; ')}`);
    return;
  }
  const Model = modelFor(o.apiVersion, o.kind);
  if (!Model) throw new Error(`${label}: no upstream schema known for ${o.apiVersion} ${o.kind} (known groups: ${knownManifestKinds().join(', ')})`);
  try {
    new Model(obj as Record<string, unknown>).validate();
  } catch (e) {
    throw new Error(`${label}: ${(e as Error).message}`, { cause: e });
  }
}

/** Parse a (multi-document) YAML text and validate every object in it; returns the objects. */
export function validateManifestsYaml(text: string, fileName = 'manifest'): Record<string, unknown>[] {
  const docs = parseAllDocuments(text);
  const out: Record<string, unknown>[] = [];
  for (const [i, doc] of (Array.isArray(docs) ? docs : [docs]).entries()) {
    if (doc.errors.length > 0) throw new Error(`${fileName}: document ${i + 1} is not valid YAML: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) continue;
    try {
      validateManifest(value);
    } catch (e) {
      throw new Error(`${fileName}: document ${i + 1}: ${(e as Error).message}`, { cause: e });
    }
    out.push(value as Record<string, unknown>);
  }
  return out;
}
