import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { canonicalPrettyJson } from '../../../policies/canonical.ts';
import {
  guardsFor, nextVersion, sealBundle, specDigest, targetFor, validateBundle,
  type PolicyBundle, type UnsealedSpec,
} from '../../../policies/bundle.ts';
import { chainedServicesExample, EXAMPLE_PATH } from '../../../generator/bundle/example.ts';
import { buildBundle } from '../../../generator/bundle/build.ts';
import { decodeWeights, encodeWeights } from '../../../policies/network.ts';

const example = (): PolicyBundle => JSON.parse(readFileSync(EXAMPLE_PATH, 'utf8')) as PolicyBundle;

describe('example bundle', () => {
  it('is in sync with its generator and valid (schema + digest)', () => {
    // It embeds the default organisation: after changing policies/organisations/default.yaml, run
    // `node generator/bundle/example.ts --write`.
    expect(readFileSync(EXAMPLE_PATH, 'utf8') === canonicalPrettyJson(chainedServicesExample()), 'policies/examples/chained-services.bundle.json is stale: run node generator/bundle/example.ts --write').toBe(true);
    const r = validateBundle(example());
    expect(r.ok ? [] : r.errors).toEqual([]);
  });

  it('is byte-identical for the same seed and differs for another', () => {
    const a = canonicalPrettyJson(chainedServicesExample({ seed: 3 }));
    expect(canonicalPrettyJson(chainedServicesExample({ seed: 3 }))).toBe(a);
    expect(canonicalPrettyJson(chainedServicesExample({ seed: 4 }))).not.toBe(a);
  });
});

describe('bundle size', () => {
  it('a typical bundle (4 agents, 2 hidden layers of 64) stays far below the 1.5 MiB etcd object limit', () => {
    const text = canonicalPrettyJson(chainedServicesExample({ hidden: [64, 64] }));
    // 4 × (12·64 + 64 + 64·64 + 64 + 64·7 + 7) float32 in base64 ≈ 4 × 29 KB, plus the organisation.
    expect(text.length).toBeGreaterThan(100_000);
    expect(text.length).toBeLessThan(200_000);
  });
});

describe('validateBundle', () => {
  it('fails with a digest error when one weight is changed', () => {
    const b = example();
    const w = decodeWeights(b.spec.agents[1]!.network.weights);
    w[5] = w[5]! + 0.25;
    b.spec.agents[1]!.network.weights = encodeWeights(w);
    const r = validateBundle(b);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errors.join('\n')).toMatch(/^\/spec\/digest: does not match the content \(expected sha256:[0-9a-f]{64}\)/);
  });

  it('names the field path of schema violations', () => {
    const b = example() as unknown as { spec: Record<string, unknown> & { guards: Record<string, unknown>; agents: Record<string, unknown>[] } };
    b.spec.guards.maxStep = 0;
    b.spec.agents[0]!.role = undefined;
    b.spec.version = '1.0';
    const r = validateBundle(b);
    expect(r.ok).toBe(false);
    const text = !r.ok ? r.errors.join('\n') : '';
    expect(text).toContain('/spec/guards/maxStep: must be >= 1');
    expect(text).toContain('/spec/agents/0/role: is required but missing');
    expect(text).toContain('/spec/version: must match pattern');
  });

  it('accepts an HPA base the agents were trained on, and names what is wrong in one', () => {
    const withBase = (hpaBase: unknown): PolicyBundle => {
      const b = example();
      return sealBundle({ ...b, spec: { ...b.spec, hpaBase } as PolicyBundle['spec'] });
    };
    const good = validateBundle(withBase({ source: 'tuned-hpa', cpuTargetPercent: 60, behavior: { scaleDown: { stabilizationWindowSeconds: 60 }, scaleUp: { selectPolicy: 'Max', policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }] } } }));
    expect(good.ok ? [] : good.errors).toEqual([]);
    const bad = validateBundle(withBase({ source: 'tuned-hpa', cpuTargetPercent: 0, behavior: { scaleDown: { policies: [{ type: 'Replicas', value: 1, periodSeconds: 15 }] } } }));
    const text = !bad.ok ? bad.errors.join('\n') : '';
    expect(text).toContain('/spec/hpaBase/cpuTargetPercent: must be >= 1');
    expect(text).toContain('/spec/hpaBase/behavior/scaleDown/policies/0/type: must be one of "Pods", "Percent"');
  });

  it('checks what the schema cannot: sizes agree, names unique, bounds ordered', () => {
    const b = example();
    b.spec.agents[0]!.observation.mean.pop();
    b.spec.agents[1]!.name = b.spec.agents[0]!.name;
    b.spec.agents[2]!.network.weights = encodeWeights(new Float32Array([1, 2, 3]));
    b.spec.guards.minReplicas = 9;
    b.spec.agents[3]!.rules = [{ conditions: [{ feature: 'nope', op: '>', threshold: 1 }], action: 1, support: 0.5 }];
    const r = validateBundle(sealBundle(b));
    const text = !r.ok ? r.errors.join('\n') : '';
    expect(text).toContain('/spec/agents/0/observation/mean: has 11 values for 12 features');
    expect(text).toContain('/spec/agents/1/name: agent name "bottleneck-manager" is used twice');
    expect(text).toMatch(/\/spec\/agents\/2\/network\/weights: holds 12 bytes; a 12×8×7 network needs \d+/);
    expect(text).toContain('/spec/guards/minReplicas: 9 is above maxReplicas 6');
    expect(text).toContain('/spec/agents/3/rules/0/conditions/0/feature: "nope" is not one of');
  });

  it('reports the organisation through its own schema', () => {
    const b = example() as unknown as { spec: { organisation: Record<string, unknown> } };
    b.spec.organisation.roles = [];
    const r = validateBundle(b);
    expect(!r.ok && r.errors.join('\n')).toContain('/spec/organisation/roles: must NOT have fewer than 1 items');
  });
});

describe('sealBundle', () => {
  it('sets the digest of the spec without the digest field and does not modify its argument', () => {
    const b = example();
    const { digest: _d, ...unsealed } = b.spec;
    const sealed = sealBundle(unsealed);
    expect(sealed.digest).toBe(b.spec.digest);
    expect(specDigest(sealed)).toBe(b.spec.digest);
    expect('digest' in unsealed).toBe(false);
    const changed = sealBundle({ ...b, spec: { ...b.spec, paused: true } });
    expect(changed.spec.digest).not.toBe(b.spec.digest);
    expect(validateBundle(changed).ok).toBe(true);
  });

  it('round-trips float32 weights exactly', () => {
    const values = new Float32Array([0, -0.5, 1e-7, 3.4e38, -123.456]);
    expect(Array.from(decodeWeights(encodeWeights(values)))).toEqual(Array.from(values));
  });
});

describe('targetFor / guardsFor', () => {
  const b = example();
  b.spec.targets = [
    { service: 'A', namespace: 'shop', hpaName: 'frontend', guards: { maxReplicas: 4, fallback: { minConfidence: 0.9 } } },
    { service: 'B', namespace: 'shop', selector: { matchLabels: { tier: 'cart' } } },
    { service: 'C', namespace: 'shop' },
    { service: 'C', namespace: 'other' },
  ];
  const cases: [string, { namespace: string; name: string; labels?: Record<string, string> }, string | undefined][] = [
    ['exact HPA name', { namespace: 'shop', name: 'frontend' }, 'A'],
    ['selector on labels', { namespace: 'shop', name: 'cart-hpa', labels: { tier: 'cart', x: 'y' } }, 'B'],
    ['named like the service', { namespace: 'shop', name: 'C' }, 'C'],
    ['other namespace', { namespace: 'nowhere', name: 'frontend' }, undefined],
    ['labels that do not match', { namespace: 'shop', name: 'cart-hpa', labels: { tier: 'web' } }, undefined],
  ];
  it.each(cases)('%s', (_label, hpa, service) => {
    expect(targetFor(b, hpa)?.service).toBe(service);
  });

  it('lays target guards over spec guards field by field', () => {
    const g = guardsFor(b, b.spec.targets[0]);
    expect(g).toEqual({ ...b.spec.guards, maxReplicas: 4, fallback: { ...b.spec.guards.fallback, minConfidence: 0.9 } });
    expect(guardsFor(b, b.spec.targets[2])).toEqual(b.spec.guards);
    expect(guardsFor(b, undefined)).toEqual(b.spec.guards);
  });
});

describe('nextVersion', () => {
  const base = (): UnsealedSpec => {
    const { digest: _d, ...s } = example().spec;
    return JSON.parse(JSON.stringify({ ...s, version: '2.3.4' })) as UnsealedSpec;
  };
  const cases: [string, (s: UnsealedSpec) => void, string][] = [
    ['nothing changed', () => {}, '2.3.4'],
    ['guards changed', (s) => { s.guards.maxStep = 2; }, '2.3.5'],
    ['evaluation added', (s) => { s.evaluation = { scenarios: [{ scenario: 'ddos', method: 'karma', successRate: 0.9 }] }; }, '2.3.5'],
    ['rules changed', (s) => { s.agents[0]!.rules = [{ conditions: [], action: 0, support: 1 }]; }, '2.3.5'],
    ['provenance changed', (s) => { s.provenance.seeds = [1, 2]; }, '2.3.5'],
    ['one weight changed', (s) => { const w = decodeWeights(s.agents[2]!.network.weights); w[0] = 0.125; s.agents[2]!.network.weights = encodeWeights(w); }, '2.4.0'],
    ['normalisation changed', (s) => { s.agents[0]!.observation.mean[0] = 0.5; }, '2.4.0'],
    ['observation features changed', (s) => { s.agents[0]!.observation.features[0] = 'errorRate'; }, '3.0.0'],
    ['organisation changed', (s) => { s.organisation.description = 'other'; }, '3.0.0'],
    ['agent removed', (s) => { s.agents.pop(); }, '3.0.0'],
    ['HPA base added', (s) => { s.hpaBase = { source: 'tuned-hpa', cpuTargetPercent: 60 }; }, '3.0.0'],
    ['weights and features changed', (s) => { s.agents[0]!.observation.features.reverse(); s.agents[1]!.network.activation = 'relu'; }, '3.0.0'],
  ];
  it.each(cases)('%s', (_label, change, expected) => {
    const previous = base();
    const next = base();
    change(next);
    expect(nextVersion(previous, next)).toBe(expected);
  });
  it('starts at 1.0.0', () => expect(nextVersion(undefined, base())).toBe('1.0.0'));

  it('is what buildBundle uses', () => {
    const first = chainedServicesExample();
    expect(first.spec.version).toBe('1.0.0');
    const again = buildBundle({
      app: 'chained-services', namespace: 'chained-services', organisation: first.spec.organisation,
      agents: first.spec.agents, guards: { ...first.spec.guards, cooldownSeconds: 60 }, targets: first.spec.targets,
      provenance: first.spec.provenance, description: first.spec.description, previous: first,
    });
    expect(again.spec.version).toBe('1.0.1');
    expect(validateBundle(again).ok).toBe(true);
  });
});
