import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealBundle, type PolicyBundle } from '../../../policies/bundle.ts';
import { BUNDLE_LIST_PATH, clusterBundleSource } from '../../../webhook/bundles/clusterSource.ts';
import type { BundleSource } from '../../../webhook/bundles/source.ts';
import { BUNDLE_API, KubeApiServer, type KubeObject } from '../../support/kube-api.ts';
import { checkoutBundle, fixture, fixtureText } from '../../unit/webhook/fixtures.ts';
import { reviewHpaMutation } from '../../../webhook/admission/hpaMutation.ts';
import { memoryLogger } from '../../../webhook/server/logger.ts';
import { startWebhookServer } from '../../../webhook/server/server.ts';
import { createTestPki } from '../../support/tls.ts';
import { httpsCall } from './client.ts';

let api: KubeApiServer;
let source: BundleSource;

function whenBundles(predicate: (bundles: readonly PolicyBundle[]) => boolean): Promise<readonly PolicyBundle[]> {
  return new Promise((resolve) => {
    if (predicate(source.bundles())) {
      resolve(source.bundles());
      return;
    }
    const on = (e: { bundles: PolicyBundle[] }) => {
      if (predicate(e.bundles)) {
        source.events.off('reloaded', on);
        resolve(e.bundles);
      }
    };
    source.events.on('reloaded', on);
  });
}

beforeAll(async () => {
  api = await KubeApiServer.start();
  api.put(BUNDLE_API, 'policybundles', checkoutBundle() as unknown as KubeObject);
  source = clusterBundleSource(api.kubeConfig());
});

afterAll(async () => {
  await source?.stop();
  await api?.close();
});

describe('PolicyBundles from the cluster (list + watch of /apis/karma-hpa.io/v1alpha1/policybundles)', () => {
  it('lists on start, follows updates and deletions, and skips invalid bundles', async () => {
    expect(source.ready()).toBe(false);
    await source.start();
    expect(source.ready()).toBe(true);
    expect(source.bundles().map((b) => `${b.metadata.namespace}/${b.metadata.name}@${b.spec.version}`)).toEqual(['prod/checkout@1.2.0']);
    expect(api.requests.some((r) => r.method === 'GET' && r.path === '/apis/karma-hpa.io/v1alpha1/policybundles' && r.query.watch !== 'true')).toBe(true);

    const next = structuredClone(checkoutBundle()) as unknown as { spec: Record<string, unknown> };
    next.spec.version = '1.3.0';
    api.put(BUNDLE_API, 'policybundles', sealBundle(next as never) as unknown as KubeObject);
    await whenBundles((bs) => bs.length === 1 && bs[0]!.spec.version === '1.3.0');

    const problems: string[] = [];
    source.events.on('problem', (p: string) => problems.push(p));
    const broken = structuredClone(checkoutBundle()) as unknown as { metadata: { name: string }; spec: { guards: { maxReplicas: number } } };
    broken.metadata.name = 'tampered';
    broken.spec.guards.maxReplicas = 99;
    const seenTampered = new Promise<void>((resolve) => source.events.once('reloaded', () => resolve()));
    api.put(BUNDLE_API, 'policybundles', broken as unknown as KubeObject);
    await seenTampered;
    expect(source.bundles().map((b) => b.metadata.name)).toEqual(['checkout']);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^PolicyBundle prod\/tampered: \/spec\/digest: does not match/);
    expect(api.requests.some((r) => r.query.watch === 'true' || r.query.watch === '1')).toBe(true);

    api.remove(BUNDLE_API, 'policybundles', 'prod', 'checkout');
    await whenBundles((bs) => bs.length === 0);
  });

  it('is ready on a cluster with no bundles yet, and picks up the first one from the watch', async () => {
    const kube = await KubeApiServer.start();
    const quiet = clusterBundleSource(kube.kubeConfig());
    try {
      await quiet.start();
      expect(quiet.ready()).toBe(true);
      expect(quiet.bundles()).toEqual([]);
      expect(kube.openWatchCount()).toBe(1);
      const first = new Promise<void>((resolve) => quiet.events.on('reloaded', (e: { bundles: PolicyBundle[] }) => { if (e.bundles.length === 1) resolve(); }));
      kube.put(BUNDLE_API, 'policybundles', checkoutBundle() as unknown as KubeObject);
      await first;
      expect(quiet.bundles().map((b) => b.metadata.name)).toEqual(['checkout']);
    } finally {
      await quiet.stop();
      await kube.close();
    }
  });

  it('stays not ready while the first list fails, and becomes ready when a retry lists', async () => {
    const kube = await KubeApiServer.start();
    kube.put(BUNDLE_API, 'policybundles', checkoutBundle() as unknown as KubeObject);
    kube.injectFault({ status: 503, count: 1, match: (r) => r.method === 'GET' && r.path === BUNDLE_LIST_PATH });
    const flaky = clusterBundleSource(kube.kubeConfig(), { retryDelayMs: 10 });
    const problems: string[] = [];
    flaky.events.on('problem', (p: string) => {
      problems.push(p);
      // The failed list has been reported; the informer's start() has returned, yet nothing is listed.
      expect(flaky.ready()).toBe(false);
      expect(flaky.unavailable?.()).toBe(p);
    });
    try {
      await flaky.start();
      expect(flaky.ready()).toBe(true);
      expect(flaky.unavailable?.()).toBeUndefined();
      expect(flaky.bundles().map((b) => b.metadata.name)).toEqual(['checkout']);
      expect(kube.requestsTo('GET', BUNDLE_LIST_PATH).filter((r) => r.query.watch === undefined).map((r) => r.status)).toEqual([503, 200]);
      expect(problems).toEqual(['watching /apis/karma-hpa.io/v1alpha1/policybundles failed: HTTP 503: injected fault: ServiceUnavailable; retrying']);
    } finally {
      await flaky.stop();
      await kube.close();
    }
  });

  it('serves admission with bundles from the cluster once they are listed', async () => {
    const kube = await KubeApiServer.start();
    const pki = createTestPki();
    try {
      kube.put(BUNDLE_API, 'policybundles', checkoutBundle() as unknown as KubeObject);
      const cert = pki.issue('cluster-webhook');
      const server = await startWebhookServer({ port: 0, host: '127.0.0.1', certFile: cert.certFile, keyFile: cert.keyFile,
        source: clusterBundleSource(kube.kubeConfig()), logger: memoryLogger(), now: () => Date.parse('2026-11-25T10:00:05Z'), watchCertificate: false });
      await server.whenReady;
      expect((await httpsCall(server.url, pki.caPem, '/readyz', undefined)).text).toBe('ok: 1 bundles\n');
      const reply = await httpsCall(server.url, pki.caPem, '/mutate/hpa', fixtureText('hpa-update-gitops-resync.json'));
      expect(JSON.parse(reply.text)).toEqual(reviewHpaMutation(fixture('hpa-update-gitops-resync.json'), [checkoutBundle()], Date.parse('2026-11-25T10:00:05Z')).review);
      expect(JSON.parse(reply.text).response.patchType).toBe('JSONPatch');
      await server.shutdown({ graceMs: 500 });
    } finally {
      pki.cleanup();
      await kube.close();
    }
  });
});
