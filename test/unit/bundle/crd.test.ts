import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { parse } from 'yaml';
import { digestOf } from '../../../policies/canonical.ts';
import { CRD_DIR, crdFiles, policyBundleCrd, toStructural, type JsonSchema } from '../../../generator/bundle/crd.ts';
import { EXAMPLE_PATH } from '../../../generator/bundle/example.ts';
import { validateManifest } from '../../support/manifests.ts';
import { sealBundle } from '../../../policies/bundle.ts';
import { fullBundle } from '../../fixtures/bundle/full.ts';
import { STATUS_FIELDS } from '../../../webhook/sidecar/bundle-status.ts';

type Node = JsonSchema & { properties?: Record<string, Node>; items?: Node; additionalProperties?: Node | boolean };
const openApi = (): Node => ((policyBundleCrd().spec as { versions: { schema: { openAPIV3Schema: Node } }[] }).versions[0]!.schema.openAPIV3Schema);

/** The API server's rules for a structural schema, as far as this schema uses features. */
function structuralProblems(node: Node, path: string, out: string[]): void {
  if (node.type === undefined && node['x-kubernetes-preserve-unknown-fields'] !== true && node['x-kubernetes-int-or-string'] !== true) out.push(`${path}: no type`);
  for (const k of ['$ref', '$schema', '$id', 'definitions', 'const', 'uniqueItems', 'patternProperties', 'if', 'then', 'else']) {
    if (k in node) out.push(`${path}: "${k}" is not allowed`);
  }
  if (node.properties && node.additionalProperties !== undefined) out.push(`${path}: properties and additionalProperties together`);
  if (typeof node.exclusiveMinimum === 'number' || typeof node.exclusiveMaximum === 'number') out.push(`${path}: exclusive bounds must be booleans in OpenAPI v3.0`);
  for (const [k, v] of Object.entries(node.properties ?? {})) structuralProblems(v, `${path}.${k}`, out);
  if (node.items) structuralProblems(node.items, `${path}[]`, out);
  if (typeof node.additionalProperties === 'object') structuralProblems(node.additionalProperties, `${path}{}`, out);
}

/** What the API server keeps of an object under a structural schema (pruning of unknown fields). */
function prune(value: unknown, node: Node): unknown {
  if (node['x-kubernetes-preserve-unknown-fields'] === true) return value;
  if (Array.isArray(value)) return value.map((v) => prune(v, node.items ?? {}));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const child = node.properties?.[k] ?? (typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined);
      if (child) out[k] = prune(v, child);
    }
    return out;
  }
  return value;
}

describe('PolicyBundle CRD', () => {
  it('checked-in files are what the generator writes', () => {
    // After changing policy-bundle.schema.json or organisation.schema.json, run `node generator/bundle/crd.ts --write`.
    for (const [name, text] of Object.entries(crdFiles())) {
      expect(readFileSync(`${CRD_DIR}${name}`, 'utf8') === text, `policies/crd/${name} is stale: run node generator/bundle/crd.ts --write`).toBe(true);
    }
  });

  it('validates as apiextensions.k8s.io/v1 against the upstream schema', () => {
    const crd = parse(readFileSync(`${CRD_DIR}policybundle.crd.yaml`, 'utf8'));
    expect(() => validateManifest(crd)).not.toThrow();
    expect(() => validateManifest({ ...crd, spec: { ...crd.spec, scope: undefined, names: undefined } })).toThrow(/names|scope/);
  });

  it('is a structural schema', () => {
    const problems: string[] = [];
    structuralProblems(openApi(), '', problems);
    expect(problems).toEqual([]);
  });

  it('prunes nothing from a bundle, so its digest survives the API server', () => {
    const bundle = JSON.parse(readFileSync(EXAMPLE_PATH, 'utf8'));
    // metadata is the API server's own; spec and status are pruned by the CRD schema.
    const kept = (b: Record<string, unknown>) => digestOf((prune(b, openApi()) as Record<string, unknown>).spec);
    expect(kept(bundle)).toBe(digestOf(bundle.spec));
    // Every optional field too, status included.
    const full = { ...sealBundle(fullBundle), status: fullBundle.status };
    const pruned = prune(full, openApi()) as Record<string, unknown>;
    expect(digestOf(pruned.spec)).toBe(digestOf(full.spec));
    expect(pruned.status).toEqual(full.status);
    // The check can fail: a field the schema does not declare is pruned.
    expect(kept({ ...bundle, spec: { ...bundle.spec, extra: 1 } })).toBe(digestOf(bundle.spec));
  });

  it('has the printer columns and the status subresource', () => {
    const v = (policyBundleCrd().spec as { versions: Record<string, unknown>[] }).versions[0]!;
    expect((v.additionalPrinterColumns as { name: string }[]).map((c) => c.name)).toEqual(['Version', 'Accepted', 'Active', 'Age']);
    expect(v.subresources).toEqual({ status: {} });
    const status = openApi().properties!.status!;
    // Everything the sidecar writes (webhook/sidecar/bundle-status.ts) survives pruning.
    expect(Object.keys(status.properties!)).toEqual(expect.arrayContaining([...STATUS_FIELDS]));
    const written = { observedGeneration: 2, governedHpas: 1, lastDecisionTime: '2026-01-01T00:00:00Z', fallbacks: 0,
      conditions: [{ type: 'Accepted', status: 'True', reason: 'Valid', message: 'ok', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 2 }] };
    expect(prune(written, status)).toEqual(written);
  });

  it('converts JSON Schema keywords to their OpenAPI v3.0 form', () => {
    expect(toStructural({ type: 'number', exclusiveMinimum: 0 })).toEqual({ type: 'number', minimum: 0, exclusiveMinimum: true });
    expect(toStructural({ type: 'boolean', const: true })).toEqual({ type: 'boolean', enum: [true] });
    expect(toStructural({ type: 'array', uniqueItems: true, items: { type: 'integer' } })).toEqual({ type: 'array', items: { type: 'integer' }, 'x-kubernetes-list-type': 'set' });
    expect(toStructural({ type: 'object' })).toEqual({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
    expect(toStructural({ definitions: { a: { type: 'string' } }, type: 'object', properties: { x: { $ref: '#/definitions/a' } }, additionalProperties: false }))
      .toEqual({ type: 'object', properties: { x: { type: 'string' } } });
    expect(() => toStructural({ $ref: 'https://example.com/unknown.json' })).toThrow(/no schema with that \$id/);
  });

  it('builds with kubectl kustomize', () => {
    const out = execFileSync('kubectl', ['kustomize', CRD_DIR], { encoding: 'utf8' });
    expect(parse(out).metadata.name).toBe('policybundles.karma-hpa.io');
  });
});
