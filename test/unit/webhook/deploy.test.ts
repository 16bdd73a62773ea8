import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { validateManifestsYaml } from '../../support/manifests.ts';
import { parseCommandArgs } from '../../../generator/cli/command.ts';
import { webhookCommand } from '../../../generator/commands/webhook.ts';
import { ADMISSION_PATHS } from '../../../webhook/server/app.ts';
import { REQUEST_TIMEOUT_MS } from '../../../webhook/server/server.ts';

const BASE = fileURLToPath(new URL('../../../webhook/deploy/base/', import.meta.url));
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function hasKubectl(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const kustomization = parseYaml(readFileSync(`${BASE}kustomization.yaml`, 'utf8')) as Obj;
const files = kustomization.resources as string[];
const objects: Obj[] = files.flatMap((f) => validateManifestsYaml(readFileSync(`${BASE}${f}`, 'utf8'), f) as Obj[]);
const find = (kind: string, name?: string) => objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));

describe('webhook/deploy/base', () => {
  it('lists every file of the directory and uses only fields kustomize v2.0.3 knows', () => {
    const yamlFiles = readdirSync(BASE).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
    expect([...files].sort()).toEqual(yamlFiles);
    expect(Object.keys(kustomization).sort()).toEqual(['apiVersion', 'bases', 'commonLabels', 'kind', 'namespace', 'resources']);
    expect(kustomization.bases).toEqual(['../../../policies/crd']);
  });

  it('every object validates against the upstream schema of its kind', () => {
    // validateManifestsYaml threw at load time on any invalid object; these are all that passed.
    expect(objects.map((o) => o.kind).sort()).toEqual([
      'Certificate', 'Certificate', 'ClusterRole', 'ClusterRole', 'ClusterRoleBinding', 'ClusterRoleBinding', 'Deployment', 'Issuer', 'Issuer',
      'MutatingWebhookConfiguration', 'Namespace', 'NetworkPolicy', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Service', 'ServiceAccount', 'ServiceAccount',
      'ValidatingWebhookConfiguration',
    ]);
  });

  it('runs 2 non-root replicas on a read-only file system, spread by anti-affinity, probed on /healthz and /readyz', () => {
    const [dep] = find('Deployment', 'karma-hpa-webhook');
    expect(dep!.spec.replicas).toBe(2);
    const pod = dep!.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm).toMatchObject({ topologyKey: 'kubernetes.io/hostname' });
    const c = pod.containers[0];
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(c.readinessProbe.httpGet).toMatchObject({ path: '/readyz', scheme: 'HTTPS' });
    expect(c.livenessProbe.httpGet).toMatchObject({ path: '/healthz', scheme: 'HTTPS' });
    expect(c.resources.requests).toBeDefined();
    expect(c.resources.limits.memory).toBeDefined();
    // The container's arguments are accepted by the real CLI.
    const parsed = parseCommandArgs(webhookCommand, c.args.slice(1));
    expect(parsed).not.toBe('help');
    expect(c.args[0]).toBe('webhook');
    const [pdb] = find('PodDisruptionBudget');
    expect(pdb!.spec).toEqual({ minAvailable: 1, selector: { matchLabels: { 'app.kubernetes.io/name': 'karma-hpa-webhook' } } });
  });

  it('configures the admission webhooks as documented', () => {
    const [mwc] = find('MutatingWebhookConfiguration');
    const [vwc] = find('ValidatingWebhookConfiguration');
    const all = [...mwc!.webhooks, ...vwc!.webhooks] as Obj[];
    for (const w of all) {
      expect(w).toMatchObject({ admissionReviewVersions: ['v1'], sideEffects: 'None', matchPolicy: 'Equivalent', timeoutSeconds: 5 });
      expect(REQUEST_TIMEOUT_MS).toBeLessThan(w.timeoutSeconds * 1000);
      expect(ADMISSION_PATHS).toContain(w.clientConfig.service.path);
      expect(w.clientConfig.service).toMatchObject({ name: 'karma-hpa-webhook', namespace: 'karma-hpa', port: 443 });
      expect(w.namespaceSelector.matchExpressions[0]).toMatchObject({ key: 'kubernetes.io/metadata.name', operator: 'NotIn' });
      expect(w.namespaceSelector.matchExpressions[0].values).toContain('kube-system');
    }
    const byPath = Object.fromEntries(all.map((w) => [w.clientConfig.service.path, w]));
    expect(byPath['/mutate/hpa']).toMatchObject({ failurePolicy: 'Ignore', reinvocationPolicy: 'IfNeeded', objectSelector: { matchLabels: { 'karma-hpa.io/governed': 'true' } } });
    expect(byPath['/validate/hpa']).toMatchObject({ failurePolicy: 'Ignore', objectSelector: { matchLabels: { 'karma-hpa.io/governed': 'true' } } });
    expect(byPath['/validate/hpa'].namespaceSelector.matchExpressions[0].values).toEqual(['kube-system', 'karma-hpa']);
    expect(byPath['/validate/bundle']).toMatchObject({ failurePolicy: 'Fail', rules: [{ apiGroups: ['karma-hpa.io'], resources: ['policybundles'] }] });
    // cert-manager injects the CA of the serving Certificate, which must exist under that name.
    const [cert] = find('Certificate', 'karma-hpa-webhook');
    for (const cfg of [mwc!, vwc!]) expect(cfg.metadata.annotations['cert-manager.io/inject-ca-from']).toBe(`karma-hpa/${cert!.metadata.name}`);
    expect(cert!.spec.dnsNames).toContain('karma-hpa-webhook.karma-hpa.svc');
    const [dep] = find('Deployment', 'karma-hpa-webhook');
    expect(dep!.spec.template.spec.volumes.find((v: Obj) => v.name === 'tls').secret.secretName).toBe(cert!.spec.secretName);
  });

  it('grants least privilege: the webhook reads bundles only; the sidecar gets HPA patch, Events and its Lease', () => {
    const [webhookRole] = find('ClusterRole', 'karma-hpa-webhook');
    expect(webhookRole!.rules).toEqual([{ apiGroups: ['karma-hpa.io'], resources: ['policybundles'], verbs: ['get', 'list', 'watch'] }]);
    const [sidecarRole] = find('ClusterRole', 'karma-hpa-sidecar');
    const verbsOn = (resource: string, group: string) => (sidecarRole!.rules as Obj[]).filter((r) => r.resources.includes(resource) && r.apiGroups.includes(group)).flatMap((r) => r.verbs);
    expect(verbsOn('horizontalpodautoscalers', 'autoscaling')).toContain('patch');
    expect(verbsOn('events', 'events.k8s.io')).toContain('create');
    for (const r of sidecarRole!.rules as Obj[]) {
      expect(r.verbs).not.toContain('delete');
      expect(r.verbs).not.toContain('*');
      expect(r.resources).not.toContain('secrets');
    }
    const [lease] = find('Role', 'karma-hpa-sidecar-leader-election');
    expect(lease!.rules).toEqual([{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }]);
    const subjects = find('ClusterRoleBinding').map((b) => [b.metadata.name, b.subjects[0].name]);
    expect(subjects).toEqual([['karma-hpa-webhook', 'karma-hpa-webhook'], ['karma-hpa-sidecar', 'karma-hpa-sidecar']]);
  });

  it('admits ingress on TCP 8443 only', () => {
    const [np] = find('NetworkPolicy');
    expect(np!.spec.policyTypes).toEqual(['Ingress']);
    expect(np!.spec.ingress).toEqual([{ ports: [{ protocol: 'TCP', port: 8443 }] }]);
  });

  it.skipIf(!hasKubectl())('builds with kubectl kustomize, including the PolicyBundle CRD, and the result validates', () => {
    const built = execFileSync('kubectl', ['kustomize', BASE], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const docs = validateManifestsYaml(built, 'kubectl kustomize webhook/deploy/base') as Obj[];
    expect(docs.find((d) => d.kind === 'CustomResourceDefinition')?.metadata.name).toBe('policybundles.karma-hpa.io');
    for (const d of docs) {
      expect(d.metadata.labels?.['app.kubernetes.io/part-of']).toBe('karma-hpa');
      if (!['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'].includes(d.kind)) {
        expect(d.metadata.namespace, `${d.kind}/${d.metadata.name}`).toBe('karma-hpa');
      }
    }
    // commonLabels must not reach the webhooks' object selectors, or HPAs would need the label to be governed.
    const mwc = docs.find((d) => d.kind === 'MutatingWebhookConfiguration')!;
    expect(mwc.webhooks[0].objectSelector).toEqual({ matchLabels: { 'karma-hpa.io/governed': 'true' } });
  });
});
