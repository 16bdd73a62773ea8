/**
 * policies/bundle.ts has hand-written types; this keeps them in step with the schema. A bundle that
 * fills every optional field is type-checked by the compiler (so it only uses fields the types know)
 * and validated by the schema (so the types know no field the schema lacks); then every property the
 * schema declares must appear in it (so the types miss no field of the schema).
 */
import { describe, expect, it } from 'vitest';
import { policyBundleSchema, sealBundle, validateBundle } from '../../../policies/bundle.ts';
import { fullBundle as full } from '../../fixtures/bundle/full.ts';

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
