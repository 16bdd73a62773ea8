/**
 * The sidecar against a real cluster: a namespace with a Deployment and its governed HPA, the example
 * PolicyBundle (re-targeted at that namespace), metrics from the metrics API (metrics-server). Shadow
 * mode records an Event and patches nothing; then a decision is applied, annotated and explained.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdmissionregistrationV1Api, AppsV1Api, AutoscalingV2Api, CustomObjectsApi, EventsV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { clusterBundleSource } from '../../webhook/bundles/clusterSource.ts';
import { startWebhookServer, type WebhookServer } from '../../webhook/server/server.ts';
import { silentLogger } from '../../webhook/server/logger.ts';
import { sealBundle, validateBundle, type PolicyBundle, type UnsealedPolicyBundle } from '../../policies/bundle.ts';
import { DECISION_ANNOTATION, GOVERNED_LABEL, parseDecision } from '../../policies/annotations.ts';
import { systemScheduler } from '../../webhook/sidecar/clock.ts';
import { KubeClusterPort } from '../../webhook/sidecar/cluster-port.ts';
import { MetricsCollector } from '../../webhook/sidecar/metrics-source.ts';
import { Sidecar } from '../../webhook/sidecar/sidecar.ts';
import { KUBECONFIG, SKIP_REASON, WEBHOOK_HOST, certificateForIp, createNamespace, deleteNamespace, eventually, installCrd, kubeConfig, removeCrd } from './cluster.ts';

if (!KUBECONFIG) console.warn(`skipping the sidecar end-to-end tests: ${SKIP_REASON}`);
else if (!WEBHOOK_HOST) console.warn('skipping the webhook end-to-end tests: set KARMA_E2E_WEBHOOK_HOST to an address of this machine the API server can reach (kind: the docker network gateway)');

describe.skipIf(!KUBECONFIG)('sidecar end to end (real cluster)', () => {
  let kc: KubeConfig;
  let namespace = '';
  let createdCrd = false;

  /** The example bundle, governing HPA `a` (service A) in the test namespace, with one always-true rule (+1). */
  function e2eBundle(ns: string): PolicyBundle {
    const example = JSON.parse(readFileSync(new URL('../../policies/examples/chained-services.bundle.json', import.meta.url), 'utf8')) as PolicyBundle;
    const { digest: _digest, ...spec } = example.spec;
    const unsealed: UnsealedPolicyBundle = {
      apiVersion: example.apiVersion, kind: example.kind,
      metadata: { name: 'e2e-policy', namespace: ns },
      spec: {
        ...spec,
        evaluator: 'rules',
        targets: [{ service: 'A', namespace: ns, hpaName: 'a', guards: { maxReplicas: 5 } }],
        guards: { ...spec.guards, cooldownSeconds: 0, fallback: { staleMetricsSeconds: 300, minConfidence: 0 } },
        // The ddos-manager alone: the changes of all agents on a service are averaged, so agents holding
        // at 0 beside it would round its +1 away.
        agents: spec.agents.filter((a) => a.name === 'ddos-manager')
          .map((a) => ({ ...a, rules: [{ conditions: [{ feature: 'replicas', op: '>', threshold: 0 }], action: 1, support: 1 }] })),
      },
    };
    const sealed = sealBundle(unsealed);
    const check = validateBundle(sealed);
    if (!check.ok) throw new Error(`the e2e bundle is invalid: ${check.errors.join('; ')}`);
    return sealed;
  }

  beforeAll(async () => {
    kc = kubeConfig();
    createdCrd = await installCrd(kc);
    namespace = await createNamespace(kc, 'karma-hpa-e2e');
    const apps = kc.makeApiClient(AppsV1Api);
    await apps.createNamespacedDeployment({ namespace, body: {
      metadata: { name: 'a', labels: { app: 'A' } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'A' } },
        template: { metadata: { labels: { app: 'A' } }, spec: { containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.9', resources: { requests: { cpu: '20m', memory: '16Mi' } } }] } },
      },
    } });
    await kc.makeApiClient(AutoscalingV2Api).createNamespacedHorizontalPodAutoscaler({ namespace, body: {
      metadata: { name: 'a', labels: { [GOVERNED_LABEL]: 'true' } },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'a' }, minReplicas: 1, maxReplicas: 5,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
      },
    } });
    await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: 'karma-hpa.io', version: 'v1alpha1', namespace, plural: 'policybundles', body: e2eBundle(namespace) });
    await eventually('deployment a to be ready', async () => {
      const d = await apps.readNamespacedDeployment({ name: 'a', namespace });
      return (d.status?.readyReplicas ?? 0) >= 1 ? true : undefined;
    });
    // metrics-server reports a pod only after a scrape or two of a running pod (about a minute on kind);
    // until its APIService is available the metrics API answers 503, which `eventually` retries.
    const port = new KubeClusterPort(kc);
    await eventually('the metrics API to report the pod (is metrics-server installed?)', async () => {
      const m = await port.listPodMetrics(namespace, 'app=A');
      return m.length > 0 ? true : undefined;
    }, 240_000, 3_000);
  });

  let webhook: WebhookServer | undefined;
  let certDir: string | undefined;
  afterAll(async () => {
    if (!kc) return;
    const admission = kc.makeApiClient(AdmissionregistrationV1Api);
    await admission.deleteValidatingWebhookConfiguration({ name: `${namespace}-bundles` }).catch(() => undefined);
    await admission.deleteMutatingWebhookConfiguration({ name: `${namespace}-hpas` }).catch(() => undefined);
    await webhook?.shutdown({ graceMs: 1000 });
    if (certDir) rmSync(certDir, { recursive: true, force: true });
    if (namespace) await deleteNamespace(kc, namespace);
    if (createdCrd) await removeCrd(kc);
  });

  const sidecar = (shadow: boolean, identity: string) => {
    const port = new KubeClusterPort(kc);
    return new Sidecar({
      port, scheduler: systemScheduler, collector: new MetricsCollector({ port }), identity, namespace, shadow,
      leaderElection: { namespace, leaseDurationSeconds: 15, retryPeriodSeconds: 5 },
      log: (line) => console.log(`[${identity}] ${line}`),
    });
  };
  // events.k8s.io/v1, as the sidecar writes them (filtered here: field selectors on `regarding` vary by version).
  const eventsOfHpa = async () => (await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace })).items
    .filter((e) => e.regarding?.name === 'a' && e.reason === 'KarmaDecision');
  type Condition = { type: string; status: string; reason: string; observedGeneration?: number };
  const bundleStatus = async () => ((await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObjectStatus({
    group: 'karma-hpa.io', version: 'v1alpha1', namespace, plural: 'policybundles', name: 'e2e-policy',
  })) as { metadata: { generation?: number }; status?: { conditions?: Condition[]; governedHpas?: number; observedVersion?: string; lastDecisionTime?: string } });
  const condition = (status: { conditions?: Condition[] } | undefined, type: string) => status?.conditions?.find((c) => c.type === type);

  it('in shadow mode decides from the metrics API, records an Event and leaves the HPA alone', async () => {
    const s = sidecar(true, 'e2e-shadow');
    await s.start({ ticking: false });
    try {
      expect(s.elector?.isLeader()).toBe(true);
      const report = await s.tick();
      expect(report.error).toBeUndefined();
      expect(report.outcomes[0]).toMatchObject({ hpa: `${namespace}/a`, result: 'shadow' });
      const hpa = await kc.makeApiClient(AutoscalingV2Api).readNamespacedHorizontalPodAutoscaler({ name: 'a', namespace });
      expect(hpa.spec?.minReplicas).toBe(1);
      expect(hpa.metadata?.annotations?.[DECISION_ANNOTATION]).toBeUndefined();
      const events = await eventually('the shadow decision Event', async () => {
        const e = await eventsOfHpa();
        return e.length > 0 ? e : undefined;
      }, 30_000, 1_000);
      expect(events[0]).toMatchObject({ action: 'Shadow', type: 'Normal', reportingController: 'karma-hpa.io/sidecar', reportingInstance: 'e2e-shadow',
        regarding: { kind: 'HorizontalPodAutoscaler', name: 'a', namespace } });
      expect(events[0]?.note).toMatch(/^shadow mode, not applied: ddos-manager \(ddos-manager\) \+1 for A/);
      expect(events[0]?.eventTime).toBeDefined();
      // The leader reported on the bundle through the status subresource: accepted, but only shadowing.
      const bundle = await bundleStatus();
      expect(condition(bundle.status, 'Accepted')).toMatchObject({ status: 'True', reason: 'Valid', observedGeneration: bundle.metadata.generation });
      expect(condition(bundle.status, 'Active')).toMatchObject({ status: 'False', reason: 'Shadow' });
      expect(bundle.status?.governedHpas).toBe(1);
    } finally {
      await s.stop();
    }
  });

  it('applies the decision: the HPA is patched, annotated and explained by an Event', async () => {
    const s = sidecar(false, 'e2e-apply');
    await s.start({ ticking: false });
    try {
      const report = await s.tick();
      expect(report.error).toBeUndefined();
      expect(report.outcomes[0]?.result).toBe('applied');
      const hpa = await kc.makeApiClient(AutoscalingV2Api).readNamespacedHorizontalPodAutoscaler({ name: 'a', namespace });
      expect(hpa.spec?.minReplicas).toBe(2);
      const decision = parseDecision(hpa.metadata?.annotations?.[DECISION_ANNOTATION] ?? '');
      expect(decision.ok && decision.value).toMatchObject({ agent: 'ddos-manager', role: 'ddos-manager', replicaChange: 1, minReplicas: 2, bundleVersion: '1.0.0' });
      const events = await eventually('the applied decision Event', async () => {
        const e = (await eventsOfHpa()).filter((x) => x.action === 'Scale');
        return e.length > 0 ? e : undefined;
      }, 30_000, 1_000);
      expect(events[0]?.note).toContain('minReplicas 2 (was 1)');
      expect(events[0]).toMatchObject({ reportingController: 'karma-hpa.io/sidecar', reportingInstance: 'e2e-apply', type: 'Normal' });
      const bundle = await bundleStatus();
      expect(condition(bundle.status, 'Accepted')?.status).toBe('True');
      expect(condition(bundle.status, 'Active')).toMatchObject({ status: 'True', reason: 'Deciding' });
      expect(bundle.status).toMatchObject({ governedHpas: 1, observedVersion: '1.0.0' });
      expect(Date.parse(bundle.status?.lastDecisionTime ?? '')).toBeGreaterThan(0);
    } finally {
      await s.stop();
    }
  });

  it.skipIf(!WEBHOOK_HOST)('the webhook refuses a tampered bundle and re-applies the decision when Git re-syncs the HPA', async () => {
    certDir = mkdtempSync(join(tmpdir(), 'karma-hpa-e2e-'));
    const cert = certificateForIp(certDir, WEBHOOK_HOST!);
    const source = clusterBundleSource(kc);
    webhook = await startWebhookServer({ port: 0, host: '0.0.0.0', certFile: cert.certFile, keyFile: cert.keyFile, source, logger: silentLogger, enforcement: 'deny' });
    await webhook.whenReady;
    const caBundle = Buffer.from(cert.caPem).toString('base64');
    const base = `https://${WEBHOOK_HOST}:${webhook.port}`;
    const inNamespace = { matchLabels: { 'kubernetes.io/metadata.name': namespace } };
    const admission = kc.makeApiClient(AdmissionregistrationV1Api);
    await admission.createValidatingWebhookConfiguration({ body: {
      metadata: { name: `${namespace}-bundles` },
      webhooks: [{ name: 'policybundle.validate.karma-hpa.io', clientConfig: { url: `${base}/validate/bundle`, caBundle },
        rules: [{ apiGroups: ['karma-hpa.io'], apiVersions: ['v1alpha1'], operations: ['CREATE', 'UPDATE'], resources: ['policybundles'] }],
        namespaceSelector: inNamespace, sideEffects: 'None', admissionReviewVersions: ['v1'], failurePolicy: 'Fail', timeoutSeconds: 5 }],
    } });
    await admission.createMutatingWebhookConfiguration({ body: {
      metadata: { name: `${namespace}-hpas` },
      webhooks: [{ name: 'hpa.mutate.karma-hpa.io', clientConfig: { url: `${base}/mutate/hpa`, caBundle },
        rules: [{ apiGroups: ['autoscaling'], apiVersions: ['v2'], operations: ['CREATE', 'UPDATE'], resources: ['horizontalpodautoscalers'] }],
        namespaceSelector: inNamespace, objectSelector: { matchLabels: { [GOVERNED_LABEL]: 'true' } },
        sideEffects: 'None', admissionReviewVersions: ['v1'], failurePolicy: 'Fail', reinvocationPolicy: 'IfNeeded', timeoutSeconds: 5 }],
    } });

    // A bundle changed after sealing: denied by the API server on the webhook's word, naming the digest.
    const tampered = e2eBundle(namespace);
    tampered.metadata.name = 'tampered';
    tampered.spec.guards.maxReplicas = 50;
    const custom = kc.makeApiClient(CustomObjectsApi);
    const denial = await eventually('the bundle webhook to deny a tampered bundle', async () => {
      try {
        await custom.createNamespacedCustomObject({ group: 'karma-hpa.io', version: 'v1alpha1', namespace, plural: 'policybundles', body: tampered });
        // Admitted before the configuration took effect: remove it and try again.
        await custom.deleteNamespacedCustomObject({ group: 'karma-hpa.io', version: 'v1alpha1', namespace, plural: 'policybundles', name: 'tampered' });
        return undefined;
      } catch (e) {
        return String((e as { body?: unknown }).body ?? e);
      }
    }, 60_000, 2_000);
    expect(denial).toContain('digest');

    // Git re-syncs the HPA with its base bounds; the webhook re-applies the sidecar's decision (minReplicas 2).
    await kc.makeApiClient(AutoscalingV2Api).patchNamespacedHorizontalPodAutoscaler(
      { name: 'a', namespace, body: { spec: { minReplicas: 1, maxReplicas: 5 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const hpa = await kc.makeApiClient(AutoscalingV2Api).readNamespacedHorizontalPodAutoscaler({ name: 'a', namespace });
    expect(hpa.spec?.minReplicas).toBe(2);
  });
});
