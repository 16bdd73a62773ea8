/**
 * The PolicyBundle CustomResourceDefinition, generated from policies/schema/policy-bundle.schema.json
 * (the single source). JSON Schema → Kubernetes structural schema: `$ref`s inlined, `const` as a
 * one-value enum, numeric exclusive bounds in OpenAPI v3.0 form, keywords the API server refuses dropped.
 * Regenerate the checked-in files with `node generator/bundle/crd.ts --write`; a test keeps them in sync.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import organisationSchema from '../../policies/schema/organisation.schema.json' with { type: 'json' };
import bundleSchema from '../../policies/schema/policy-bundle.schema.json' with { type: 'json' };
import { POLICY_BUNDLE_API_VERSION, POLICY_BUNDLE_KIND } from '../../policies/bundle.ts';

export type JsonSchema = Record<string, unknown>;

export const CRD_DIR = fileURLToPath(new URL('../../policies/crd/', import.meta.url));
export const CRD_FILE = 'policybundle.crd.yaml';
export const CRD_GROUP = POLICY_BUNDLE_API_VERSION.split('/')[0]!;
export const CRD_VERSION = POLICY_BUNDLE_API_VERSION.split('/')[1]!;
export const CRD_NAME = `policybundles.${CRD_GROUP}`;

/** Schemas a `$ref` may name by `$id`. */
const REGISTRY: Record<string, JsonSchema> = {
  [bundleSchema.$id]: bundleSchema as JsonSchema,
  [organisationSchema.$id]: organisationSchema as JsonSchema,
};

// Keywords with no place in a CRD schema (meta-data of the JSON Schema document, or not allowed).
const DROPPED = new Set(['$schema', '$id', '$comment', 'definitions', 'title', 'examples', 'additionalItems', 'patternProperties', 'dependencies', 'if', 'then', 'else']);

/** Resolve a `$ref` against the document it appears in (local `#/definitions/x`) or the registry (`$id`). */
function resolveRef(ref: string, doc: JsonSchema): { schema: JsonSchema; doc: JsonSchema } {
  const [base, fragment = ''] = ref.split('#') as [string, string?];
  const target = base === '' ? doc : REGISTRY[base];
  if (!target) throw new Error(`cannot inline $ref "${ref}": no schema with that $id is known`);
  let node: unknown = target;
  for (const part of fragment.split('/').filter((p) => p.length > 0)) node = (node as Record<string, unknown>)[part];
  if (typeof node !== 'object' || node === null) throw new Error(`cannot inline $ref "${ref}": it points at nothing`);
  return { schema: node as JsonSchema, doc: target };
}

/** One JSON Schema node → a structural schema node. */
export function toStructural(schema: JsonSchema, doc: JsonSchema = schema, depth = 0): JsonSchema {
  if (depth > 64) throw new Error('schema nests too deeply to inline (recursive $ref?)');
  if (typeof schema.$ref === 'string') {
    const { schema: target, doc: targetDoc } = resolveRef(schema.$ref, doc);
    const { $ref: _r, ...siblings } = schema;
    return toStructural({ ...target, ...siblings }, targetDoc, depth + 1);
  }
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (DROPPED.has(key)) continue;
    switch (key) {
      case 'const':
        out.enum = [value];
        break;
      case 'exclusiveMinimum':
        out.minimum = value;
        out.exclusiveMinimum = true;
        break;
      case 'exclusiveMaximum':
        out.maximum = value;
        out.exclusiveMaximum = true;
        break;
      case 'uniqueItems':
        // The API server refuses uniqueItems (quadratic); a set-typed list says the same for scalars.
        break;
      case 'additionalProperties':
        if (typeof value === 'object' && value !== null && schema.properties === undefined) out.additionalProperties = toStructural(value as JsonSchema, doc, depth + 1);
        break;
      case 'properties':
        out.properties = Object.fromEntries(Object.entries(value as Record<string, JsonSchema>).map(([k, v]) => [k, toStructural(v, doc, depth + 1)]));
        break;
      case 'items':
        out.items = toStructural(value as JsonSchema, doc, depth + 1);
        break;
      case 'allOf': case 'anyOf': case 'oneOf': case 'not':
        throw new Error(`"${key}" is not used in the bundle schema; teach toStructural how to express it structurally first`);
      default:
        out[key] = value;
    }
  }
  if (schema.uniqueItems === true) {
    const items = out.items as JsonSchema | undefined;
    if (items && ['string', 'integer', 'number', 'boolean'].includes(String(items.type))) out['x-kubernetes-list-type'] = 'set';
  }
  if (out.type === undefined) {
    if (out.properties !== undefined || out.additionalProperties !== undefined) out.type = 'object';
    else if (out.items !== undefined) out.type = 'array';
    else if (Array.isArray(out.enum) && out.enum.length > 0) out.type = typeof out.enum[0] === 'number' ? 'number' : typeof out.enum[0];
  }
  if (out.type === undefined) out['x-kubernetes-preserve-unknown-fields'] = true;
  if (out.type === 'object' && out.properties === undefined && out.additionalProperties === undefined) out['x-kubernetes-preserve-unknown-fields'] = true;
  return out;
}

/**
 * Status fields the runtime sidecar reports (webhook/sidecar/bundle-status.ts) beside those of the bundle
 * schema. They live only in the CRD: the bundle schema validates what Git holds, and Git holds no status.
 */
const SIDECAR_STATUS_PROPERTIES: Record<string, JsonSchema> = {
  observedGeneration: { type: 'integer', format: 'int64', minimum: 0, description: 'metadata.generation of the bundle the status describes.' },
  governedHpas: { type: 'integer', format: 'int32', minimum: 0, description: 'HPAs this bundle governed at the last decision tick.' },
  lastDecisionTime: { type: 'string', format: 'date-time', description: 'When the sidecar last changed (in shadow mode: would have changed) the bounds of an HPA with this bundle.' },
  fallbacks: { type: 'integer', format: 'int64', minimum: 0, description: 'Fallbacks to the base spec with this bundle since the leading sidecar started.' },
};

/** The openAPIV3Schema of the CRD version. */
export function policyBundleOpenApiSchema(): JsonSchema {
  const root = toStructural(bundleSchema as JsonSchema);
  const props = root.properties as Record<string, JsonSchema>;
  // At the root the API server owns apiVersion, kind and metadata: plain types only.
  props.apiVersion = { type: 'string', description: 'karma-hpa.io/v1alpha1' };
  props.kind = { type: 'string', description: 'PolicyBundle' };
  props.metadata = { type: 'object' };
  root.required = ['spec'];
  const status = props.status!.properties as Record<string, JsonSchema>;
  Object.assign(status, SIDECAR_STATUS_PROPERTIES);
  const conditions = status.conditions!;
  conditions['x-kubernetes-list-type'] = 'map';
  conditions['x-kubernetes-list-map-keys'] = ['type'];
  const conditionType = (conditions.items as { properties: Record<string, JsonSchema> }).properties.type!;
  conditionType.description = 'Accepted (schema and digest valid) or Active (the sidecar decides with the bundle).';
  return root;
}

/** The CustomResourceDefinition object (apiextensions.k8s.io/v1). */
export function policyBundleCrd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: CRD_NAME,
      labels: { 'app.kubernetes.io/name': 'karma-hpa', 'app.kubernetes.io/component': 'crd' },
    },
    spec: {
      group: CRD_GROUP,
      scope: 'Namespaced',
      names: {
        kind: POLICY_BUNDLE_KIND,
        listKind: `${POLICY_BUNDLE_KIND}List`,
        plural: 'policybundles',
        singular: 'policybundle',
        shortNames: ['pbundle'],
        categories: ['karma-hpa'],
      },
      versions: [{
        name: CRD_VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [
          { name: 'Version', type: 'string', jsonPath: '.spec.version', description: 'Semantic version of the bundle' },
          { name: 'Accepted', type: 'string', jsonPath: '.status.conditions[?(@.type=="Accepted")].status', description: 'Whether schema and digest of the latest generation are valid' },
          { name: 'Active', type: 'string', jsonPath: '.status.conditions[?(@.type=="Active")].status', description: 'Whether the sidecar decides with the bundle' },
          { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
        ],
        schema: { openAPIV3Schema: policyBundleOpenApiSchema() },
      }],
    },
  };
}

const HEADER = '# Generated from policies/schema/policy-bundle.schema.json by generator/bundle/crd.ts; do not edit.\n';

export function crdYaml(): string {
  return HEADER + stringify(policyBundleCrd(), { lineWidth: 0, aliasDuplicateObjects: false });
}

export function crdKustomizationYaml(): string {
  return HEADER + stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: [CRD_FILE] });
}

/** Files of policies/crd/, by name. */
export function crdFiles(): Record<string, string> {
  return { [CRD_FILE]: crdYaml(), 'kustomization.yaml': crdKustomizationYaml() };
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--write')) {
  mkdirSync(CRD_DIR, { recursive: true });
  for (const [name, text] of Object.entries(crdFiles())) writeFileSync(`${CRD_DIR}${name}`, text);
  process.stdout.write(`wrote ${CRD_DIR}\n`);
}
