import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { kustomizeEntryPoints, layoutFiles, MANAGED_HPA_POINTERS, relocatedKustomization, type LayoutOptions } from '../../../generator/publish/layout.ts';
import { validateManifest } from '../../support/manifests.ts';

const webhookBase = {
  'kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n',
  'deployment.yaml': [
    'apiVersion: apps/v1', 'kind: Deployment', 'metadata:', '  name: karma-hpa-webhook', '  namespace: karma-hpa', 'spec:',
    '  selector: {matchLabels: {app: w}}', '  template:', '    metadata: {labels: {app: w}}', '    spec: {containers: [{name: w, image: "karma-hpa:0.1.0"}]}', '',
  ].join('\n'),
};
const opts: LayoutOptions = {
  cluster: 'prod', repoUrl: 'https://git.example.com/acme/gitops.git', branch: 'main', webhookBase,
  apps: [{ name: 'boutique', namespace: 'shop' }, { name: 'chained-services', namespace: 'chained' }],
};
const files = layoutFiles(opts);
const yaml = (p: string) => parse(files[p]!);

describe('GitOps layout', () => {
  it('is deterministic and has the documented entry points', () => {
    expect(layoutFiles(opts)).toEqual(files);
    expect(kustomizeEntryPoints(files)).toEqual(['base/crd', 'base/webhook', 'clusters/prod/argocd', 'clusters/prod/argocd/apps', 'clusters/prod/flux']);
  });

  it('copies the webhook base and health-checks its Deployment in Flux', () => {
    expect(files['base/webhook/deployment.yaml']).toBe(webhookBase['deployment.yaml']);
    const webhook = yaml('clusters/prod/flux/karma-hpa-webhook.yaml');
    expect(webhook.spec.dependsOn).toEqual([{ name: 'karma-hpa-crd' }]);
    expect(webhook.spec.healthChecks).toEqual([{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'karma-hpa-webhook', namespace: 'karma-hpa' }]);
  });

  it('drops references that leave the copied webhook base (the CRD has its own entry point)', () => {
    const text = 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: karma-hpa\nbases:\n  - ../../../policies/crd\nresources:\n  - deployment.yaml\n  - ../shared/x.yaml\n';
    const out = parse(relocatedKustomization(text));
    expect(out).toEqual({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', namespace: 'karma-hpa', resources: ['deployment.yaml'] });
    expect(relocatedKustomization(text)).toContain('dropped (the CRD comes from base/crd): ../../../policies/crd, ../shared/x.yaml');
    expect(relocatedKustomization(webhookBase['kustomization.yaml'])).toBe(webhookBase['kustomization.yaml']);
  });

  it('orders Flux: CRD → webhook → each bundle, with health checks and the HPA drift annotation', () => {
    const crd = yaml('clusters/prod/flux/karma-hpa-crd.yaml');
    expect(crd.spec.healthChecks[0]).toMatchObject({ kind: 'CustomResourceDefinition', name: 'policybundles.karma-hpa.io' });
    const app = yaml('clusters/prod/flux/karma-hpa-boutique.yaml');
    expect(app.spec.path).toBe('./bundles/prod/boutique');
    expect(app.spec.dependsOn).toEqual([{ name: 'karma-hpa-webhook' }]);
    expect(app.spec.healthChecks).toEqual([{ apiVersion: 'karma-hpa.io/v1alpha1', kind: 'PolicyBundle', name: 'boutique', namespace: 'shop' }]);
    expect(app.spec.patches[0].target).toEqual({ group: 'autoscaling', kind: 'HorizontalPodAutoscaler', labelSelector: 'karma-hpa.io/governed=true' });
    expect(parse(app.spec.patches[0].patch).metadata.annotations).toEqual({ 'kustomize.toolkit.fluxcd.io/ssa': 'IfNotPresent' });
    expect(yaml('clusters/prod/flux/kustomization.yaml').resources).toEqual([
      'gitrepository.yaml', 'karma-hpa-crd.yaml', 'karma-hpa-webhook.yaml', 'karma-hpa-boutique.yaml', 'karma-hpa-chained-services.yaml',
    ]);
  });

  it('orders Argo CD by sync waves and ignores the HPA fields karma-hpa manages', () => {
    const wave = (p: string) => Number(yaml(p).metadata.annotations['argocd.argoproj.io/sync-wave']);
    expect(wave('clusters/prod/argocd/karma-hpa-crd.application.yaml')).toBe(-2);
    expect(wave('clusters/prod/argocd/karma-hpa-webhook.application.yaml')).toBe(-1);
    expect(wave('clusters/prod/argocd/karma-hpa-bundles.applicationset.yaml')).toBe(0);
    const set = yaml('clusters/prod/argocd/karma-hpa-bundles.applicationset.yaml');
    expect(set.spec.generators[0].git.directories).toEqual([{ path: 'bundles/prod/*' }]);
    for (const spec of [set.spec.template.spec, yaml('clusters/prod/argocd/apps/karma-hpa-boutique.application.yaml').spec]) {
      expect(spec.ignoreDifferences).toEqual([{ group: 'autoscaling', kind: 'HorizontalPodAutoscaler', jsonPointers: MANAGED_HPA_POINTERS }]);
      expect(spec.syncPolicy.syncOptions).toContain('RespectIgnoreDifferences=true');
    }
    expect(MANAGED_HPA_POINTERS).toEqual(expect.arrayContaining(['/spec/minReplicas', '/spec/maxReplicas']));
  });

  it('every manifest validates against the upstream schemas', () => {
    let n = 0;
    for (const [path, text] of Object.entries(files)) {
      if (!/\.ya?ml$/.test(path) || path.endsWith('kustomization.yaml') || path.startsWith('.github/')) continue;
      expect(() => validateManifest(parse(text)), path).not.toThrow();
      n++;
    }
    expect(n).toBe(15);
  });
});
