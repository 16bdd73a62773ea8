import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoscalingV2Api, CoordinationV1Api, PatchStrategy, makeInformer, setHeaderOptions, type V1Lease } from '@kubernetes/client-node';
import { EVENTS_API, HPA_API, HPAS, KubeApiServer, LEASE_API, hpaObject } from '../../support/kube-api.ts';

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

  it('serves the PolicyBundle status subresource: writes there change only status, writes to the object ignore it', async () => {
    const base = '/apis/karma-hpa.io/v1alpha1/namespaces/shop/policybundles';
    // Create ignores status.
    const created = await request('POST', base, { apiVersion: 'karma-hpa.io/v1alpha1', kind: 'PolicyBundle', metadata: { name: 'p' }, spec: { version: '1.0.0' }, status: { governedHpas: 9 } });
    expect(created.status).toBe(201);
    expect(created.body).not.toHaveProperty('status');
    const rv0 = (created.body.metadata as { resourceVersion: string }).resourceVersion;
    // A merge patch of /status sets status only: spec and labels in the body are ignored; generation stays.
    const patched = await request('PATCH', `${base}/p/status`, { metadata: { labels: { x: 'y' } }, spec: { version: '9.9.9' }, status: { governedHpas: 1, conditions: [{ type: 'Accepted', status: 'True' }] } },
      'application/merge-patch+json');
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ spec: { version: '1.0.0' }, status: { governedHpas: 1 }, metadata: { generation: 1 } });
    expect((patched.body.metadata as { labels?: unknown }).labels).toBeUndefined();
    const rv1 = (patched.body.metadata as { resourceVersion: string }).resourceVersion;
    expect(Number(rv1)).toBeGreaterThan(Number(rv0));
    expect((await request('GET', `${base}/p/status`)).body).toMatchObject({ status: { governedHpas: 1 } });
    // A write to the object keeps the stored status, whatever its body says; a new spec bumps generation.
    const put = await request('PUT', `${base}/p`, { apiVersion: 'karma-hpa.io/v1alpha1', kind: 'PolicyBundle', metadata: { name: 'p', resourceVersion: rv1 }, spec: { version: '1.1.0' }, status: { governedHpas: 5 } });
    expect(put.body).toMatchObject({ spec: { version: '1.1.0' }, status: { governedHpas: 1 }, metadata: { generation: 2 } });
    const merged = await request('PATCH', `${base}/p`, { status: null }, 'application/merge-patch+json');
    expect(merged.body).toMatchObject({ status: { governedHpas: 1 } });
    // PUT on /status needs the resourceVersion and refuses a stale one; null in a merge patch removes a field.
    expect((await request('PUT', `${base}/p/status`, { metadata: { name: 'p' }, status: {} })).status).toBe(422);
    expect((await request('PUT', `${base}/p/status`, { metadata: { name: 'p', resourceVersion: rv1 }, status: {} })).status).toBe(409);
    const removed = await request('PATCH', `${base}/p/status`, { status: { governedHpas: null } }, 'application/merge-patch+json');
    expect(removed.body.status).toEqual({ conditions: [{ type: 'Accepted', status: 'True' }] });
    // A missing object: 404 NotFound on the subresource too.
    expect(await request('PATCH', `${base}/nope/status`, { status: {} }, 'application/merge-patch+json')).toMatchObject({
      status: 404, body: { reason: 'NotFound', message: 'policybundles.karma-hpa.io "nope" not found' },
    });
    // Other kinds have no status subresource here.
    expect((await request('GET', '/apis/coordination.k8s.io/v1/namespaces/shop/leases/x/status')).status).toBe(404);
  });

  it('validates events.k8s.io/v1 Events as the API server does, and answers 404 for a group it does not serve', async () => {
    const base = '/apis/events.k8s.io/v1/namespaces/shop/events';
    const good = {
      metadata: { generateName: 'web.' }, eventTime: '2026-02-01T00:00:00.123456Z', reportingController: 'karma-hpa.io/sidecar', reportingInstance: 'sidecar-0',
      action: 'Scale', reason: 'KarmaDecision', note: 'ok', type: 'Normal', regarding: { kind: 'HorizontalPodAutoscaler', name: 'web', namespace: 'shop' },
    };
    const created = await request('POST', base, good);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { namespace: 'shop' } });
    expect((created.body.metadata as { name: string }).name).toMatch(/^web\./);
    const refused = await request('POST', base, { ...good, eventTime: '2026-02-01T00:00:00.123Z', reportingController: '', type: 'Info', note: 'x'.repeat(1025), deprecatedCount: 1 });
    expect(refused.status).toBe(422);
    const causes = (refused.body.details as { causes: { field: string }[] }).causes.map((c) => c.field);
    expect(causes).toEqual(['eventTime', 'reportingController', 'type', 'note', 'deprecatedCount']);
    expect((await request('POST', base, { ...good, regarding: { name: 'web', namespace: 'other' } })).status).toBe(422);
    const listed = await request('GET', base);
    expect(listed.body).toMatchObject({ kind: 'EventList', apiVersion: 'events.k8s.io/v1' });

    const old = await KubeApiServer.start();
    try {
      old.unserve(EVENTS_API);
      const r = await new Promise<number>((resolve, reject) => {
        httpsRequest(`${old.url}${base}`, { method: 'POST', ca: old.caPem, headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject).end(JSON.stringify(good));
      });
      expect(r).toBe(404);
    } finally {
      await old.close();
    }
  });
});
