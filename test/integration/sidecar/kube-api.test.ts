import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoscalingV2Api, CoordinationV1Api, PatchStrategy, makeInformer, setHeaderOptions, type V1Lease } from '@kubernetes/client-node';
import { HPA_API, HPAS, KubeApiServer, LEASE_API, hpaObject } from '../../support/kube-api.ts';

let api: KubeApiServer;
/** A raw HTTPS call (node:https, trusting the server's CA), to see status, headers and body as sent. */
function request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: Record<string, unknown>; headers: Record<string, unknown> }> {
  const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${api.url}${path}`, { method, ca: api.caPem, headers: { 'content-type': contentType } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown>, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

beforeAll(async () => {
  api = await KubeApiServer.start({ now: () => Date.parse('2026-02-01T00:00:00Z') });
  api.put(HPA_API, HPAS, hpaObject({ name: 'web', namespace: 'shop', minReplicas: 1, maxReplicas: 5 }));
});
afterAll(async () => {
  await api?.close();
});

describe('local Kubernetes API server', () => {
  it('opens a watch on a quiet resource at once, so an informer starts before any event', async () => {
    const kc = api.kubeConfig();
    const leases = kc.makeApiClient(CoordinationV1Api);
    const path = '/apis/coordination.k8s.io/v1/namespaces/quiet/leases';
    const informer = makeInformer<V1Lease>(kc, path, () => leases.listNamespacedLease({ namespace: 'quiet' }));
    const watchesBefore = api.openWatchCount();
    let connects = 0;
    informer.on('connect', () => connects++);
    try {
      // Resolves once the watch's response headers arrive; nothing exists in the namespace to send.
      // Headers held back until the first event would instead end in the client's watch timeout
      // and a second connect.
      await informer.start();
      expect(connects).toBe(1);
      expect(informer.list()).toEqual([]);
      expect(api.openWatchCount()).toBe(watchesBefore + 1);
      const added = new Promise<V1Lease>((resolve) => informer.on('add', resolve));
      api.put(LEASE_API, 'leases', { metadata: { name: 'first', namespace: 'quiet' }, spec: { holderIdentity: 'a' } });
      expect((await added).metadata?.name).toBe('first');
    } finally {
      await informer.stop();
    }
  });

  it('serves objects with server-owned metadata to @kubernetes/client-node', async () => {
    const hpa = await api.kubeConfig().makeApiClient(AutoscalingV2Api).readNamespacedHorizontalPodAutoscaler({ name: 'web', namespace: 'shop' });
    expect(hpa.metadata).toMatchObject({ name: 'web', namespace: 'shop', generation: 1 });
    expect(hpa.metadata?.resourceVersion).toMatch(/^\d+$/);
    expect(hpa.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(hpa.metadata?.creationTimestamp?.toISOString()).toBe('2026-02-01T00:00:00.000Z');
  });

  it('answers 404 with a NotFound Status', async () => {
    const r = await request('GET', '/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/nope');
    expect(r).toMatchObject({ status: 404, body: { kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404, message: 'horizontalpodautoscalers.autoscaling "nope" not found' } });
  });

  it('refuses a stale resourceVersion with 409 Conflict and an invalid spec with 422', async () => {
    const stale = await request('PATCH', '/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/web', { metadata: { resourceVersion: '1' }, spec: { minReplicas: 2 } }, 'application/merge-patch+json');
    expect(stale).toMatchObject({ status: 409, body: { reason: 'Conflict', code: 409 } });
    const invalid = await request('PATCH', '/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/web', { spec: { minReplicas: 9 } }, 'application/merge-patch+json');
    expect(invalid).toMatchObject({ status: 422, body: { reason: 'Invalid', details: { causes: [{ field: 'spec.maxReplicas' }] } } });
  });

  it('applies JSON patches (with test) and requires a field manager for server-side apply', async () => {
    const ok = await request('PATCH', '/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/web',
      [{ op: 'test', path: '/spec/maxReplicas', value: 5 }, { op: 'replace', path: '/spec/maxReplicas', value: 7 }], 'application/json-patch+json');
    expect(ok.status).toBe(200);
    expect((ok.body.spec as { maxReplicas: number }).maxReplicas).toBe(7);
    const failedTest = await request('PATCH', '/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/web', [{ op: 'test', path: '/spec/maxReplicas', value: 5 }], 'application/json-patch+json');
    expect(failedTest.status).toBe(422);
    const noManager = await request('PATCH', '/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/web', 'spec:\n  maxReplicas: 6\n', 'application/apply-patch+yaml');
    expect(noManager).toMatchObject({ status: 400, body: { reason: 'BadRequest' } });
    const applied = await api.kubeConfig().makeApiClient(AutoscalingV2Api).patchNamespacedHorizontalPodAutoscaler(
      { name: 'web', namespace: 'shop', fieldManager: 'tester', body: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'web' }, spec: { maxReplicas: 6 } } },
      setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply));
    expect(applied.spec?.maxReplicas).toBe(6);
    expect(applied.metadata?.managedFields?.map((m) => m.manager)).toEqual(['tester']);
  });

  it('answers injected faults with Retry-After, then recovers', async () => {
    api.injectFault({ status: 429, retryAfterSeconds: 4, count: 1 });
    const throttled = await request('GET', '/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/web');
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toBe('4');
    expect(throttled.body.reason).toBe('TooManyRequests');
    expect((await request('GET', '/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/web')).status).toBe(200);
  });

  it('runs Deployments into ready pods with metrics, establishes CRDs, filters by field and deletes namespaces with their contents', async () => {
    expect((await request('POST', '/api/v1/namespaces', { metadata: { name: 'lab' } })).status).toBe(201);
    const dep = await request('POST', '/apis/apps/v1/namespaces/lab/deployments', {
      metadata: { name: 'api' }, spec: { replicas: 2, selector: { matchLabels: { app: 'api' } }, template: { metadata: { labels: { app: 'api' } }, spec: { containers: [{ name: 'c', resources: { requests: { cpu: '50m' } } }] } } },
    });
    expect(dep.body.status).toMatchObject({ readyReplicas: 2 });
    const metrics = await request('GET', '/apis/metrics.k8s.io/v1beta1/namespaces/lab/pods?labelSelector=app%3Dapi');
    expect((metrics.body.items as unknown[]).length).toBe(2);
    const crd = await request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { metadata: { name: 'things.example.io' }, spec: {} });
    expect(crd.body.metadata).not.toHaveProperty('namespace');
    expect(crd.body.status).toMatchObject({ conditions: [{ type: 'Established', status: 'True' }, { type: 'NamesAccepted', status: 'True' }] });
    await request('POST', '/api/v1/namespaces/lab/events', { metadata: { name: 'e1' }, involvedObject: { name: 'api' }, reason: 'R' });
    await request('POST', '/api/v1/namespaces/lab/events', { metadata: { name: 'e2' }, involvedObject: { name: 'other' }, reason: 'R' });
    const filtered = await request('GET', '/api/v1/namespaces/lab/events?fieldSelector=involvedObject.name%3Dapi');
    expect((filtered.body.items as { metadata: { name: string } }[]).map((e) => e.metadata.name)).toEqual(['e1']);
    expect((await request('DELETE', '/api/v1/namespaces/lab')).status).toBe(200);
    expect((await request('GET', '/api/v1/namespaces/lab/pods')).body.items).toEqual([]);
    expect((await request('GET', '/apis/apps/v1/namespaces/lab/deployments/api')).status).toBe(404);
  });
});
