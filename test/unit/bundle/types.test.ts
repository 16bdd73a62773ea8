/**
 * policies/bundle.ts has hand-written types; this keeps them in step with the schema. A bundle that
 * fills every optional field is type-checked by the compiler (so it only uses fields the types know)
 * and validated by the schema (so the types know no field the schema lacks); then every property the
 * schema declares must appear in it (so the types miss no field of the schema).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { policyBundleSchema, sealBundle, validateBundle, type PolicyBundle, type UnsealedPolicyBundle } from '../../../policies/bundle.ts';
import { EXAMPLE_PATH } from '../../../generator/bundle/example.ts';

const example = JSON.parse(readFileSync(EXAMPLE_PATH, 'utf8')) as PolicyBundle;

const full: UnsealedPolicyBundle = {
  apiVersion: 'karma-hpa.io/v1alpha1',
  kind: 'PolicyBundle',
  metadata: { name: 'full', namespace: 'ns', labels: { a: 'b' }, annotations: { c: 'd' } },
  spec: {
    version: '1.2.3',
    description: 'every field',
    paused: false,
    evaluator: 'rules',
    targets: [{
      service: 'A', namespace: 'ns', hpaName: 'a', selector: { matchLabels: { app: 'a' } },
      guards: { minReplicas: 1, maxReplicas: 3, maxStep: 1, cooldownSeconds: 5, fallback: { staleMetricsSeconds: 10, minConfidence: 0.5 }, enforcement: 'warn' },
    }],
    guards: { minReplicas: 1, maxReplicas: 5, maxStep: 2, cooldownSeconds: 30, fallback: { staleMetricsSeconds: 60, minConfidence: 0.3 }, enforcement: 'deny' },
    organisation: example.spec.organisation,
    agents: [{
      ...example.spec.agents[0]!,
      rules: [{ conditions: [{ feature: 'cpuUtilization', op: '>', threshold: 0.8 }], action: 2, support: 0.4 }],
      ruleFidelity: 0.93,
    }],
    provenance: { ...example.spec.provenance, traceDigests: [example.spec.provenance.twinDigest] },
    evaluation: {
      baseline: 'default-hpa',
      scenarios: [{
        scenario: 'ddos', method: 'karma', seeds: 5, successRate: 0.9, successRateCi95: [0.88, 0.92], latencyCompliance: 0.95,
        pendingRatio: 0.02, recoveryTimeSeconds: 33, availability: 0.99, costReplicaSeconds: 1200, resilience: 0.81,
      }],
    },
  },
  status: {
    observedDigest: example.spec.digest,
    observedVersion: '1.2.2',
    conditions: [{ type: 'Ready', status: 'True', reason: 'Loaded', message: 'ok', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 3 }],
  },
};

type Schema = { properties?: Record<string, Schema>; items?: Schema; $ref?: string; definitions?: Record<string, Schema> };

/** Property paths the bundle schema declares (not descending into the organisation, which has its own schema). */
function declaredPaths(schema: Schema, root: Schema, prefix: string, out: string[]): void {
  if (schema.$ref?.startsWith('#/definitions/')) return declaredPaths(root.definitions![schema.$ref.slice(14)]!, root, prefix, out);
  if (schema.$ref) return;
  if (schema.items) declaredPaths(schema.items, root, `${prefix}[]`, out);
  for (const [k, v] of Object.entries(schema.properties ?? {})) {
    out.push(`${prefix}.${k}`);
    declaredPaths(v, root, `${prefix}.${k}`, out);
  }
}

function presentPaths(value: unknown, prefix: string, out: Set<string>): void {
  if (Array.isArray(value)) value.forEach((v) => presentPaths(v, `${prefix}[]`, out));
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      out.add(`${prefix}.${k}`);
      if (`${prefix}.${k}` !== '.spec.organisation') presentPaths(v, `${prefix}.${k}`, out);
    }
  }
}

describe('TypeScript types and JSON Schema', () => {
  it('a bundle filling every field of the types is valid', () => {
    // sealBundle leaves status out (the digest does not cover it); put it back to validate it too.
    const r = validateBundle({ ...sealBundle(full), status: full.status });
    expect(r.ok ? [] : r.errors).toEqual([]);
  });

  it('every property of the schema is a field of the types', () => {
    const declared: string[] = [];
    declaredPaths(policyBundleSchema as Schema, policyBundleSchema as Schema, '', declared);
    const present = new Set<string>();
    presentPaths({ ...sealBundle(full), status: full.status }, '', present);
    expect(declared.filter((p) => !present.has(p))).toEqual([]);
    expect(declared.length).toBeGreaterThan(60);
  });
});
