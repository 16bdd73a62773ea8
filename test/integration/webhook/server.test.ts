import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sealBundle, type PolicyBundle } from '../../../policies/bundle.ts';
import { reviewHpaMutation } from '../../../webhook/admission/hpaMutation.ts';
import { reviewHpaValidation } from '../../../webhook/admission/hpaValidation.ts';
import { reviewBundleValidation } from '../../../webhook/admission/bundleValidation.ts';
import type { AdmissionReview, AdmissionReviewResponse } from '../../../webhook/admission/review.ts';
import type { JsonValue } from '../../../webhook/admission/jsonPatch.ts';
import { dirBundleSource } from '../../../webhook/bundles/dirSource.ts';
import type { BundleSource } from '../../../webhook/bundles/source.ts';
import { memoryLogger } from '../../../webhook/server/logger.ts';
import { startWebhookServer, type WebhookServer } from '../../../webhook/server/server.ts';
import { createTestPki, type TestPki } from '../../support/tls.ts';
import { checkoutBundle, decodePatch, FIXTURE_DIR, fixture, fixtureText, patchedObject, reinvocation } from '../../unit/webhook/fixtures.ts';
import { httpsCall } from './client.ts';

const NOW = Date.parse('2026-11-25T10:00:05Z');
let pki: TestPki;
let bundleDir: string;
let source: BundleSource;
let server: WebhookServer;
const logger = memoryLogger();
const agent = new Agent({ keepAlive: true, maxSockets: 4 });

const post = (path: string, body: string | Buffer, opts: { contentType?: string | null } = {}) => httpsCall(server.url, pki.caPem, path, body, { ...opts, agent });
const get = (path: string) => httpsCall(server.url, pki.caPem, path, undefined, { agent });

beforeAll(async () => {
  pki = createTestPki();
  const cert = pki.issue('webhook', { dnsNames: ['karma-hpa-webhook.karma-hpa.svc'] });
  bundleDir = mkdtempSync(join(tmpdir(), 'karma-hpa-bundles-'));
  copyFileSync(join(FIXTURE_DIR, 'bundles/checkout.json'), join(bundleDir, 'checkout.json'));
  source = dirBundleSource(bundleDir);
  server = await startWebhookServer({ port: 0, host: '127.0.0.1', certFile: cert.certFile, keyFile: cert.keyFile, source, logger, now: () => NOW, watchCertificate: false });
  await server.whenReady;
});

afterAll(async () => {
  agent.destroy();
  await server?.shutdown({ graceMs: 1000 });
  pki?.cleanup();
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
});

function metricValue(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelPart = line.slice(name.length).split(' ')[0]!;
    if (want.every((w) => labelPart.includes(w))) return Number(line.split(' ').at(-1));
  }
  return 0;
}

const cases: { fixture: string; path: '/mutate/hpa' | '/validate/hpa' | '/validate/bundle' }[] = [];
for (const f of ['hpa-create-governed.json', 'hpa-create-over-ceiling.json', 'hpa-update-gitops-resync.json', 'hpa-update-gitops-resync-dryrun.json',
  'hpa-update-sidecar-decision.json', 'hpa-update-decision-breaks-guards.json', 'hpa-delete.json', 'hpa-create-keda.json', 'hpa-create-cart-warn.json',
  'hpa-create-ungoverned.json', 'deployment-scale-update.json', 'pod-exec-connect.json']) {
  cases.push({ fixture: f, path: '/mutate/hpa' }, { fixture: f, path: '/validate/hpa' });
}
for (const f of ['bundle-create.json', 'bundle-update-tampered.json', 'bundle-create-invalid.json', 'deployment-scale-update.json']) cases.push({ fixture: f, path: '/validate/bundle' });

function expected(path: string, review: AdmissionReview, bundles: PolicyBundle[]): AdmissionReviewResponse {
  if (path === '/mutate/hpa') return reviewHpaMutation(review, bundles, NOW).review;
  if (path === '/validate/hpa') return reviewHpaValidation(review, bundles, NOW).review;
  return reviewBundleValidation(review, NOW).review;
}

describe('admission over HTTPS, replaying API server requests', () => {
  it.each(cases)('$path $fixture: every response field', async ({ fixture: name, path }) => {
    const review = fixture(name);
    const reply = await post(path, fixtureText(name));
    expect(reply.status).toBe(200);
    expect(String(reply.headers['content-type'])).toMatch(/^application\/json/);
    const body = JSON.parse(reply.text) as AdmissionReviewResponse;
    expect(Object.keys(body).sort()).toEqual(['apiVersion', 'kind', 'response']);
    expect(body.apiVersion).toBe('admission.k8s.io/v1');
    expect(body.kind).toBe('AdmissionReview');
    expect(body.response.uid).toBe(review.request.uid);
    expect(body).toEqual(expected(path, review, [checkoutBundle()]));
    const allowedKeys = ['uid', 'allowed', 'status', 'patchType', 'patch', 'warnings'];
    expect(Object.keys(body.response).every((k) => allowedKeys.includes(k))).toBe(true);
    if (body.response.patch !== undefined) expect(body.response.patchType).toBe('JSONPatch');
    if (!body.response.allowed) expect(body.response.status).toMatchObject({ code: expect.any(Number), message: expect.any(String) });
    for (const w of body.response.warnings ?? []) expect([...w].length).toBeLessThanOrEqual(120);
  });

  it('accepts the ?timeout= query the API server appends to the webhook path', async () => {
    const reply = await post('/mutate/hpa?timeout=5s', fixtureText('hpa-update-gitops-resync.json'));
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.text)).toEqual(reviewHpaMutation(fixture('hpa-update-gitops-resync.json'), [checkoutBundle()], NOW).review);
  });

  it('the decoded patch applied to the object gives the mutated HPA, and re-sending it patches nothing', async () => {
    const review = fixture('hpa-update-gitops-resync.json');
    const body = JSON.parse((await post('/mutate/hpa', fixtureText('hpa-update-gitops-resync.json'))).text) as AdmissionReviewResponse;
    expect(decodePatch(body)).toEqual([{ op: 'replace', path: '/spec/minReplicas', value: 5 }]);
    const after = patchedObject(review, body);
    expect(after.spec).toMatchObject({ minReplicas: 5, maxReplicas: 8 });
    const again = JSON.parse((await post('/mutate/hpa', JSON.stringify(reinvocation(review, after as JsonValue)))).text) as AdmissionReviewResponse;
    expect(again.response).toEqual({ uid: review.request.uid, allowed: true });
  });

  it('counts re-applied decisions but not dry runs, counts denials, and logs with the request uid', async () => {
    const metric = async () => metricValue((await get('/metrics')).text, 'karma_hpa_webhook_decisions_applied_total', { bundle: 'prod/checkout@1.2.0' });
    const before = await metric();
    await post('/mutate/hpa', fixtureText('hpa-update-gitops-resync-dryrun.json'));
    expect(await metric()).toBe(before);
    await post('/mutate/hpa', fixtureText('hpa-update-gitops-resync.json'));
    expect(await metric()).toBe(before + 1);

    const denials = async () => metricValue((await get('/metrics')).text, 'karma_hpa_webhook_denials_total', { path: '/validate/hpa', guard: 'maxReplicas' });
    const d0 = await denials();
    await post('/validate/hpa', fixtureText('hpa-create-over-ceiling.json'));
    expect(await denials()).toBe(d0 + 1);
    const denial = logger.records.filter((r) => r.uid === 'b1a7c0de-0002-4c3e-9f00-000000000002' && r.outcome === 'denied');
    expect(denial.at(-1)).toMatchObject({ level: 'info', msg: 'admission reviewed', path: '/validate/hpa', namespace: 'shop', name: 'checkout', dryRun: false });
  });

  it('serves Prometheus text that promtool accepts, with the duration histogram by path and outcome', async () => {
    const reply = await get('/metrics');
    expect(reply.status).toBe(200);
    expect(String(reply.headers['content-type'])).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(reply.text).toContain('# TYPE karma_hpa_webhook_request_duration_seconds histogram');
    expect(metricValue(reply.text, 'karma_hpa_webhook_request_duration_seconds_count', { path: '/mutate/hpa', outcome: 'patched' })).toBeGreaterThan(0);
    expect(metricValue(reply.text, 'karma_hpa_webhook_request_duration_seconds_bucket', { path: '/validate/hpa', outcome: 'denied', le: '+Inf' })).toBeGreaterThan(0);
    execFileSync('promtool', ['check', 'metrics'], { input: reply.text });
  });

  it('refuses bad input with a 4xx and a message, never a 5xx', async () => {
    const wrongType = await post('/mutate/hpa', fixtureText('hpa-create-governed.json'), { contentType: 'text/plain' });
    expect(wrongType.status).toBe(415);
    expect(JSON.parse(wrongType.text)).toEqual({ code: 415, message: 'Content-Type must be application/json, got "text/plain"' });
    const noType = await post('/mutate/hpa', '{}', { contentType: null });
    expect(noType.status).toBe(415);
    const badJson = await post('/validate/hpa', '{"kind": "AdmissionReview",');
    expect(badJson.status).toBe(400);
    expect(JSON.parse(badJson.text).message).toMatch(/^body is not valid JSON: /);
    const notReview = await post('/validate/bundle', '{"kind":"Pod"}');
    expect(notReview.status).toBe(400);
    expect(JSON.parse(notReview.text).message).toBe('not an AdmissionReview: kind must be "AdmissionReview", got "Pod"');
    const huge = await httpsCall(server.url, pki.caPem, '/mutate/hpa', Buffer.alloc(3 * 1024 * 1024 + 1, 0x20));
    expect(huge.status).toBe(413);
    expect(JSON.parse(huge.text).message).toContain('exceeds the limit of 3145728 bytes');
    const unknown = await get('/mutate/pods');
    expect(unknown.status).toBe(404);
    const metrics = (await get('/metrics')).text;
    expect(metricValue(metrics, 'karma_hpa_webhook_errors_total', { path: '/mutate/hpa', kind: 'unsupported_media_type' })).toBe(2);
    expect(metricValue(metrics, 'karma_hpa_webhook_errors_total', { path: '/mutate/hpa', kind: 'too_large' })).toBe(1);
  });

  it('healthz and readyz answer', async () => {
    expect((await get('/healthz')).status).toBe(200);
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.text).toBe('ok: 1 bundles\n');
  });

  it('reloads the bundle directory when a file changes', async () => {
    const review = fixture('hpa-create-ungoverned.json');
    const before = JSON.parse((await post('/mutate/hpa', fixtureText('hpa-create-ungoverned.json'))).text) as AdmissionReviewResponse;
    expect(before.response.patch).toBeUndefined();
    const search = structuredClone(checkoutBundle()) as unknown as { metadata: { name: string }; spec: Record<string, unknown> };
    search.metadata.name = 'search';
    search.spec.version = '2.0.0';
    search.spec.targets = [{ service: 'search', namespace: 'shop' }];
    const sealed = sealBundle(search as never);
    const reloaded = new Promise<{ bundles: PolicyBundle[] }>((resolve) => {
      const onReload = (e: { bundles: PolicyBundle[] }) => {
        if (e.bundles.length === 2) {
          source.events.off('reloaded', onReload);
          resolve(e);
        }
      };
      source.events.on('reloaded', onReload);
    });
    writeFileSync(join(bundleDir, 'search.yaml'), JSON.stringify(sealed));
    await reloaded;
    const after = JSON.parse((await post('/mutate/hpa', fixtureText('hpa-create-ungoverned.json'))).text) as AdmissionReviewResponse;
    const obj = patchedObject(review, after) as { metadata: { annotations: Record<string, string> }; spec: { minReplicas: number; maxReplicas: number } };
    expect(obj.metadata.annotations['karma-hpa.io/bundle']).toBe('prod/search@2.0.0');
    expect(obj.spec).toMatchObject({ minReplicas: 2, maxReplicas: 8 });
    expect((await get('/readyz')).text).toBe('ok: 2 bundles\n');
  });
});

describe('request timeout', () => {
  it('answers 408 and closes a request whose body stalls past the timeout', async () => {
    const cert = pki.issue('timeout');
    const s = await startWebhookServer({ port: 0, host: '127.0.0.1', certFile: cert.certFile, keyFile: cert.keyFile,
      source: dirBundleSource(bundleDir), logger: memoryLogger(), now: () => NOW, watchCertificate: false, requestTimeoutMs: 300 });
    const reply = await new Promise<{ status: number; closed: boolean }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: s.port, path: '/mutate/hpa', method: 'POST', ca: pki.caPem, agent: false,
        headers: { 'content-type': 'application/json', 'content-length': 1000 } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, closed: res.headers.connection === 'close' }));
      });
      req.on('error', reject);
      req.write('{"kind":"AdmissionReview",');
    });
    expect(reply).toEqual({ status: 408, closed: true });
    await s.shutdown({ graceMs: 100 });
  });
});

describe('readiness and graceful shutdown', () => {
  it('is not ready before bundles load, and finishes an in-flight review after SIGTERM-style shutdown', async () => {
    const cert = pki.issue('shutdown');
    let loaded = false;
    const events = new EventEmitter();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    const slowSource: BundleSource = {
      bundles: () => (loaded ? [checkoutBundle()] : []), ready: () => loaded, events, description: 'gated',
      start: async () => { await gate; loaded = true; }, stop: async () => undefined,
    };
    const s = await startWebhookServer({ port: 0, host: '127.0.0.1', certFile: cert.certFile, keyFile: cert.keyFile, source: slowSource, logger: memoryLogger(), now: () => NOW, watchCertificate: false });
    const notReady = await httpsCall(s.url, pki.caPem, '/readyz', undefined);
    expect(notReady.status).toBe(503);
    expect(notReady.text).toBe('bundles not loaded yet\n');
    release();
    await s.whenReady;
    expect((await httpsCall(s.url, pki.caPem, '/readyz', undefined)).status).toBe(200);

    // Start a request and hold back the end of its body while the server shuts down.
    const text = fixtureText('hpa-update-gitops-resync.json');
    const inFlight = new Promise<{ status: number; body: string; connection: string | undefined }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: s.port, path: '/mutate/hpa', method: 'POST', ca: pki.caPem, agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
      });
      req.on('error', reject);
      req.write(text.slice(0, 100));
      req.once('socket', (sock) => sock.once('secureConnect', () => {
        req.write(text.slice(100, 200));
        void startShutdown(() => req.end(text.slice(200)));
      }));
    });
    let shutdownDone: Promise<void> = Promise.resolve();
    async function startShutdown(finish: () => void) {
      let endDrain: () => void = () => undefined;
      const drainUntil = new Promise<void>((r) => { endDrain = r; });
      const draining = once(s.events, 'draining');
      shutdownDone = s.shutdown({ graceMs: 5000, drainUntil });
      await draining;
      // While endpoints update: not ready, but new connections are still served.
      const whileDraining = await httpsCall(s.url, pki.caPem, '/readyz', undefined);
      expect(whileDraining.status).toBe(503);
      expect(whileDraining.text).toBe('shutting down\n');
      const lateCall = await httpsCall(s.url, pki.caPem, '/validate/hpa', fixtureText('hpa-create-governed.json'));
      expect(lateCall.status).toBe(200);
      endDrain();
      await once(s.events, 'listener-closed');
      // Then new connections are refused while the in-flight one is served.
      await expect(httpsCall(s.url, pki.caPem, '/healthz', undefined)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      finish();
    }
    const reply = await inFlight;
    expect(reply.status).toBe(200);
    expect(reply.connection).toBe('close');
    expect(JSON.parse(reply.body).response).toMatchObject({ uid: 'b1a7c0de-0003-4c3e-9f00-000000000003', allowed: true, patchType: 'JSONPatch' });
    await shutdownDone;
  });
});
