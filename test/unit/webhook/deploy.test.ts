import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { validateManifest, validateManifestsYaml } from '../../support/manifests.ts';
import { parseCommandArgs } from '../../../generator/cli/command.ts';
import { sidecarCommand } from '../../../generator/commands/sidecar.ts';
import { webhookCommand } from '../../../generator/commands/webhook.ts';
import { Telemetry } from '../../../webhook/sidecar/telemetry.ts';
import { KubeClusterPort } from '../../../webhook/sidecar/cluster-port.ts';
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
      'Certificate', 'Certificate', 'ClusterRole', 'ClusterRole', 'ClusterRoleBinding', 'ClusterRoleBinding', 'Deployment', 'Deployment', 'Issuer', 'Issuer',
      'MutatingWebhookConfiguration', 'Namespace', 'NetworkPolicy', 'NetworkPolicy', 'PodDisruptionBudget', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Service',
      'ServiceAccount', 'ServiceAccount',
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
    const [pdb] = find('PodDisruptionBudget', 'karma-hpa-webhook');
    expect(pdb!.spec).toEqual({ minAvailable: 1, selector: { matchLabels: { 'app.kubernetes.io/name': 'karma-hpa-webhook' } } });
  });

  it('runs the sidecar as its own 2-replica Deployment: leader election by pod name, metrics and probes on 9464, locked down', async () => {
    const [dep] = find('Deployment', 'karma-hpa-sidecar');
    const [pdb] = find('PodDisruptionBudget', 'karma-hpa-sidecar');
    for (const o of [dep!, pdb!]) expect(() => validateManifest(o)).not.toThrow();
    expect(dep!.spec.replicas).toBe(2);
    expect(dep!.spec.strategy.rollingUpdate).toEqual({ maxUnavailable: 0, maxSurge: 1 });
    const pod = dep!.spec.template.spec;
    expect(dep!.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'karma-hpa-sidecar' });
    expect(pod.serviceAccountName).toBe('karma-hpa-sidecar');
    expect(find('ServiceAccount', 'karma-hpa-sidecar')).toHaveLength(1);
    expect(find('RoleBinding', 'karma-hpa-sidecar-leader-election')[0]!.subjects).toEqual([{ kind: 'ServiceAccount', name: 'karma-hpa-sidecar', namespace: 'karma-hpa' }]);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.labelSelector.matchLabels).toEqual(dep!.spec.selector.matchLabels);
    expect(pod.containers).toHaveLength(1);
    const c = pod.containers[0];
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
    expect(c.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(c.resources.limits.memory).toBeDefined();

    // The real CLI accepts the arguments; the documented overlay patch replaces args[1], the Prometheus URL.
    expect(c.args[0]).toBe('sidecar');
    expect(c.args[1]).toBe('--prometheus=http://prometheus-operated.monitoring.svc:9090');
    const parsed = parseCommandArgs(sidecarCommand, c.args.slice(1));
    if (parsed === 'help') throw new Error('sidecar args asked for help');
    expect(parsed.values['no-leader-election']).toBeUndefined();
    expect(parsed.values.identity).toBeUndefined();
    expect(parsed.values['lease-namespace']).toBeUndefined();
    // Without --identity / --lease-namespace the CLI takes them from the downward API.
    expect(c.env).toEqual([
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ]);
    const metricsPort = Number(parsed.values['metrics-port']);
    expect(c.ports).toEqual([{ name: 'metrics', containerPort: metricsPort, protocol: 'TCP' }]);
    expect(metricsPort).toBe(9464);
    for (const probe of [c.readinessProbe, c.livenessProbe]) expect(probe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });

    // The probe path and /metrics are what the sidecar's telemetry server answers.
    const served = await new Telemetry().serve(0, '127.0.0.1');
    try {
      const status = (path: string) => new Promise<number>((resolve, reject) => {
        get({ host: '127.0.0.1', port: served.port, path }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
      });
      expect(await status(c.livenessProbe.httpGet.path)).toBe(200);
      expect(await status('/metrics')).toBe(200);
    } finally {
      served.server.close();
    }

    expect(pdb!.spec).toEqual({ minAvailable: 1, selector: { matchLabels: dep!.spec.selector.matchLabels } });
    expect(dep!.spec.template.metadata.labels).toMatchObject(dep!.spec.selector.matchLabels);
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

  it('grants least privilege: the webhook reads bundles only; the sidecar gets exactly the calls it makes', () => {
    const [webhookRole] = find('ClusterRole', 'karma-hpa-webhook');
    expect(webhookRole!.rules).toEqual([{ apiGroups: ['karma-hpa.io'], resources: ['policybundles'], verbs: ['get', 'list', 'watch'] }]);
    const [sidecarRole] = find('ClusterRole', 'karma-hpa-sidecar');
    // One line per call of webhook/sidecar/cluster-port.ts (KubeClusterPort), as group/resource verb.
    const granted = (sidecarRole!.rules as Obj[]).flatMap((r) => (r.apiGroups as string[]).flatMap((g) => (r.resources as string[])
      .flatMap((res) => (r.verbs as string[]).map((v) => `${g}/${res} ${v}`)))).sort();
    expect(granted).toEqual([
      '/events create', // createEvent, on clusters without events.k8s.io/v1
      '/pods list', // listPods
      'autoscaling/horizontalpodautoscalers get', // getHpa (re-read after 409)
      'autoscaling/horizontalpodautoscalers list', // listHpas
      'autoscaling/horizontalpodautoscalers patch', // patchHpa (merge or apply)
      'events.k8s.io/events create', // createEvent
      'karma-hpa.io/policybundles list', // listBundles
      'karma-hpa.io/policybundles watch', // watchBundles
      'karma-hpa.io/policybundles/status patch', // patchBundleStatus
      'metrics.k8s.io/pods list', // listPodMetrics
    ]);
    // The list above is the port's: every method of KubeClusterPort but the Lease ones (the Role below) is named.
    const methods = Object.getOwnPropertyNames(KubeClusterPort.prototype).filter((m) => m !== 'constructor' && !m.startsWith('create') && /^(list|get|patch|watch|replace)/.test(m));
    expect(methods.sort()).toEqual(['getHpa', 'getLease', 'listBundles', 'listHpas', 'listPodMetrics', 'listPods', 'patchBundleStatus', 'patchHpa', 'replaceLease', 'watchBundles']);
    const [lease] = find('Role', 'karma-hpa-sidecar-leader-election');
    expect(lease!.rules).toEqual([{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }]);
    const subjects = find('ClusterRoleBinding').map((b) => [b.metadata.name, b.subjects[0].name]);
    expect(subjects).toEqual([['karma-hpa-webhook', 'karma-hpa-webhook'], ['karma-hpa-sidecar', 'karma-hpa-sidecar']]);
  });

  it('admits ingress to the webhook on TCP 8443 only', () => {
    const [np] = find('NetworkPolicy', 'karma-hpa-webhook');
    expect(np!.spec.policyTypes).toEqual(['Ingress']);
    expect(np!.spec.ingress).toEqual([{ ports: [{ protocol: 'TCP', port: 8443 }] }]);
  });

  it('isolates the sidecar: metrics in from monitoring namespaces; out only DNS, the API server and Prometheus', () => {
    const [np] = find('NetworkPolicy', 'karma-hpa-sidecar');
    const [dep] = find('Deployment', 'karma-hpa-sidecar');
    expect(np!.spec.podSelector).toEqual({ matchLabels: dep!.spec.selector.matchLabels });
    expect(np!.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    // Ingress: the container's metrics port, from namespaces carrying the documented label only.
    const metricsPort = dep!.spec.template.spec.containers[0].ports.find((p: Obj) => p.name === 'metrics').containerPort;
    expect(np!.spec.ingress).toEqual([{
      from: [{ namespaceSelector: { matchLabels: { 'karma-hpa.io/metrics-scraper': 'true' } } }],
      ports: [{ protocol: 'TCP', port: metricsPort }],
    }]);
    // Egress: exactly these ports; Prometheus' is the one of the container's --prometheus URL.
    const egress = (np!.spec.egress as Obj[]).flatMap((rule) => (rule.ports as Obj[]).map((p) => `${p.protocol}/${p.port}`)).sort();
    expect(egress).toEqual(['TCP/443', 'TCP/53', 'TCP/6443', 'TCP/9090', 'UDP/53']);
    const prometheus = new URL((dep!.spec.template.spec.containers[0].args as string[]).find((a) => a.startsWith('--prometheus='))!.slice('--prometheus='.length));
    expect(egress).toContain(`TCP/${prometheus.port}`);
    // The label is documented where operators look for it.
    expect(readFileSync(new URL('../../../webhook/README.md', import.meta.url), 'utf8')).toContain('karma-hpa.io/metrics-scraper');
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
    expect(docs.filter((d) => d.kind === 'Deployment').map((d) => d.metadata.name).sort()).toEqual(['karma-hpa-sidecar', 'karma-hpa-webhook']);
  });

  it.skipIf(!hasKubectl())('takes the documented overlay patch that points the sidecar at another Prometheus', () => {
    const overlay = mkdtempSync(join(tmpdir(), 'karma-hpa-overlay-'));
    try {
      // kustomize refuses absolute paths to a base.
      writeFileSync(join(overlay, 'kustomization.yaml'), [
        'apiVersion: kustomize.config.k8s.io/v1beta1', 'kind: Kustomization', 'bases:', `  - ${relative(overlay, BASE)}`,
        'patchesJson6902:', '  - target: { group: apps, version: v1, kind: Deployment, name: karma-hpa-sidecar }', '    path: sidecar-prometheus.yaml', '',
      ].join('\n'));
      writeFileSync(join(overlay, 'sidecar-prometheus.yaml'), [
        '- op: replace', '  path: /spec/template/spec/containers/0/args/1', '  value: --prometheus=http://prometheus.observability.svc:9090', '',
      ].join('\n'));
      const built = execFileSync('kubectl', ['kustomize', overlay], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const docs = validateManifestsYaml(built, 'kubectl kustomize overlay') as Obj[];
      const sidecar = docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'karma-hpa-sidecar')!;
      const args = sidecar.spec.template.spec.containers[0].args as string[];
      expect(args).toEqual(['sidecar', '--prometheus=http://prometheus.observability.svc:9090', '--metrics-port=9464', '--tick-seconds=15']);
      expect(parseCommandArgs(sidecarCommand, args.slice(1))).not.toBe('help');
    } finally {
      rmSync(overlay, { recursive: true, force: true });
    }
  });
});
