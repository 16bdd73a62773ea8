/** fast-check generators of AdmissionReviews: real fixtures damaged in random places, and noise. */
import fc from 'fast-check';
import type { JsonValue } from '../../../webhook/admission/jsonPatch.ts';
import { fixtureText } from './fixtures.ts';

export const FIXTURE_NAMES = [
  'hpa-create-governed.json', 'hpa-create-over-ceiling.json', 'hpa-update-gitops-resync.json', 'hpa-update-gitops-resync-dryrun.json',
  'hpa-update-sidecar-decision.json', 'hpa-update-decision-breaks-guards.json', 'hpa-delete.json', 'hpa-create-keda.json',
  'hpa-create-cart-warn.json', 'hpa-create-ungoverned.json', 'deployment-scale-update.json', 'pod-exec-connect.json',
  'bundle-create.json', 'bundle-update-tampered.json', 'bundle-create-invalid.json',
];

const parsedFixtures = new Map(FIXTURE_NAMES.map((n) => [n, JSON.parse(fixtureText(n)) as JsonValue]));

function isContainer(v: JsonValue): v is JsonValue[] | { [k: string]: JsonValue } {
  return v !== null && typeof v === 'object';
}

/** Every path into a JSON value (as key lists), up to a depth, including the root. */
function pathsOf(v: JsonValue, maxDepth = 12, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (prefix.length >= maxDepth || !isContainer(v)) return out;
  if (Array.isArray(v)) v.forEach((x, i) => pathsOf(x, maxDepth, [...prefix, i], out));
  else for (const [k, x] of Object.entries(v)) pathsOf(x, maxDepth, [...prefix, k], out);
  return out;
}

const fixturePaths = new Map(FIXTURE_NAMES.map((n) => [n, pathsOf(parsedFixtures.get(n)!)]));

type Damage = { kind: 'delete' | 'replace'; pick: number; value: JsonValue } | { kind: 'annotation'; value: string };

function applyDamage(root: JsonValue, paths: (string | number)[][], d: Damage): JsonValue {
  if (d.kind === 'annotation') {
    const obj = (root as { request?: { object?: { metadata?: { annotations?: Record<string, string> } } } } | null)?.request?.object;
    if (obj && typeof obj === 'object' && obj.metadata && typeof obj.metadata === 'object') {
      const key = ['karma-hpa.io/base-spec', 'karma-hpa.io/decision', 'karma-hpa.io/paused'][d.value.length % 3]!;
      obj.metadata.annotations = { ...(obj.metadata.annotations ?? {}), [key]: d.value };
    }
    return root;
  }
  const path = paths[d.pick % paths.length]!;
  if (path.length === 0) return d.kind === 'replace' ? d.value : null;
  let parent: JsonValue = root;
  for (const key of path.slice(0, -1)) {
    if (!isContainer(parent)) return root;
    parent = (parent as Record<string | number, JsonValue>)[key as never] as JsonValue;
  }
  if (!isContainer(parent)) return root;
  const last = path[path.length - 1]!;
  if (d.kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last as string];
  } else (parent as Record<string | number, JsonValue>)[last as never] = d.value as never;
  return root;
}

const weirdValue: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<JsonValue>,
  fc.constantFrom<JsonValue>(null, '', 0, -1, 1.5, 1e308, -0, true, [], {}, '12', 'CREATE', 'DELETE', 'autoscaling', 'horizontalpodautoscalers', 'karma-hpa.io', 'policybundles',
    '{"bundle":"prod/checkout","replicaChange":2}', Number.MAX_SAFE_INTEGER, 2 ** 53 + 1, '__proto__', { __proto__: null } as unknown as JsonValue),
  fc.string({ maxLength: 300 }),
);

const damage: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), pick: fc.nat(), value: fc.constant(null) }),
  fc.record({ kind: fc.constant('replace' as const), pick: fc.nat(), value: weirdValue }),
  fc.record({ kind: fc.constant('annotation' as const), value: fc.oneof(fc.string({ maxLength: 200 }), fc.json({ maxDepth: 3 }), fc.constantFrom(
    '{"bundle":"prod/checkout","bundleVersion":"1.2.0","agent":"a","role":"r","replicaChange":-3,"minReplicas":1,"maxReplicas":1,"reason":"","time":"2026-11-25T10:00:00Z"}',
    '{"maxReplicas":1000,"minReplicas":-4}', 'true')) }),
);

/** A real fixture with 0–4 random damages, as a parsed value. */
export const damagedReview: fc.Arbitrary<JsonValue> = fc.tuple(fc.constantFrom(...FIXTURE_NAMES), fc.array(damage, { maxLength: 4 }))
  .map(([name, damages]) => {
    let v: JsonValue = structuredClone(parsedFixtures.get(name)!);
    const paths = fixturePaths.get(name)!;
    for (const d of damages) v = applyDamage(v, paths, d);
    return v;
  });

/** Anything a client might send as a body: damaged reviews, noise, truncated or non-JSON text. */
export const anyBodyText: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: damagedReview.map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...FIXTURE_NAMES), fc.nat()).map(([n, cut]) => { const t = fixtureText(n); return t.slice(0, cut % t.length); }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.nat({ max: 400 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`) },
  // Large but within the limit: a 256 KiB to 2 MiB annotation on a real review.
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('hpa-update-gitops-resync.json', 'hpa-create-governed.json', 'bundle-create.json'), fc.integer({ min: 256, max: 2048 })).map(([n, kib]) => {
    const v = JSON.parse(fixtureText(n)) as { request: { object: { metadata: { annotations?: Record<string, string> } } } };
    v.request.object.metadata.annotations = { ...(v.request.object.metadata.annotations ?? {}), 'example.com/blob': 'x'.repeat(kib * 1024) };
    return JSON.stringify(v);
  }) },
  { weight: 1, arbitrary: fc.nat({ max: 300 }).map((n) => `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`) },
);
