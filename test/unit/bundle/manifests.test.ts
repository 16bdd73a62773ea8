import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { validateManifest, validateManifestsYaml } from '../../support/manifests.ts';

describe('validateManifest (upstream schemas)', () => {
  it('accepts a valid Deployment and names the failed rule of an invalid one', () => {
    const ok = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } } } };
    expect(() => validateManifest(ok)).not.toThrow();
    const bad = { ...ok, spec: { ...ok.spec, replicas: 'three' } };
    expect(() => validateManifest(bad)).toThrow(/apps\/v1 Deployment "web".*replicas must be integer/);
  });

  it('checks HPAs, Argo CD, Flux and cert-manager objects', () => {
    expect(() => validateManifest({ apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'a' }, spec: { scaleTargetRef: { kind: 'Deployment', name: 'a' }, maxReplicas: 'x' } })).toThrow(/maxReplicas must be integer/);
    expect(() => validateManifest({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', metadata: { name: 'a' }, spec: { destination: {}, project: 'default' } })).not.toThrow();
    expect(() => validateManifest({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', metadata: { name: 'a' }, spec: { project: 'default' } })).toThrow(/destination/);
    expect(() => validateManifest({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: 'a' }, spec: { interval: '5m', prune: true, sourceRef: { kind: 'GitRepository', name: 'r' } } })).not.toThrow();
    expect(() => validateManifest({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: 'a' }, spec: { interval: '5m' } })).toThrow(/prune|sourceRef/);
    expect(() => validateManifest({ apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'c' }, spec: { secretName: 's', issuerRef: { name: 'i' } } })).not.toThrow();
  });

  it('refuses kinds it has no schema for, and objects without a name', () => {
    expect(() => validateManifest({ apiVersion: 'example.com/v1', kind: 'Thing', metadata: { name: 'x' } })).toThrow(/no upstream schema/);
    expect(() => validateManifest({ apiVersion: 'v1', kind: 'ConfigMap', metadata: {} })).toThrow(/metadata.name is required/);
  });

  it('validates PolicyBundles with the bundle schema and digest', () => {
    const bundle = JSON.parse(readFileSync(new URL('../../../policies/examples/chained-services.bundle.json', import.meta.url), 'utf8'));
    expect(() => validateManifest(bundle)).not.toThrow();
    bundle.spec.guards.maxStep = 2;
    expect(() => validateManifest(bundle)).toThrow(/digest/);
  });

  it('reads multi-document YAML', () => {
    const objs = validateManifestsYaml('apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: b, namespace: a}\n');
    expect(objs.map((o) => o.kind)).toEqual(['Namespace', 'ServiceAccount']);
    expect(() => validateManifestsYaml('apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: x}]}\n', 'svc.yaml')).toThrow(/svc.yaml: document 1/);
  });
});
