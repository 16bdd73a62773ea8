import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EventEmitter } from 'node:events';
import { Agent, request } from 'node:https';
import type { AdmissionReviewResponse } from '../../../webhook/admission/review.ts';
import type { JsonValue } from '../../../webhook/admission/jsonPatch.ts';
import { staticBundleSource } from '../../../webhook/bundles/source.ts';
import { memoryLogger } from '../../../webhook/server/logger.ts';
import { startWebhookServer, type WebhookServer } from '../../../webhook/server/server.ts';
import { createTestPki, type TestPki } from '../../support/tls.ts';
import { checkoutBundle } from '../../unit/webhook/fixtures.ts';
import { anyBodyText } from '../../unit/webhook/arbitraryReviews.ts';
import { assertWellFormed } from '../../unit/webhook/wellFormed.ts';
import { httpsCall } from './client.ts';

let pki: TestPki;
let server: WebhookServer;
const agent = new Agent({ keepAlive: true, maxSockets: 8 });
const logger = memoryLogger();

beforeAll(async () => {
  pki = createTestPki();
  const cert = pki.issue('robust');
  server = await startWebhookServer({ port: 0, host: '127.0.0.1', certFile: cert.certFile, keyFile: cert.keyFile,
    source: staticBundleSource([checkoutBundle()], new EventEmitter()), logger, now: () => Date.parse('2026-11-25T10:00:05Z'), watchCertificate: false });
});

afterAll(async () => {
  agent.destroy();
  await server?.shutdown({ graceMs: 1000 });
  pki?.cleanup();
});

const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'Application/JSON') },
  { weight: 2, arbitrary: fc.constantFrom('text/plain', 'application/yaml', 'application/x-www-form-urlencoded', 'application/jsonx', '') },
);
const path = fc.constantFrom('/mutate/hpa', '/validate/hpa', '/validate/bundle');

describe('over HTTPS, random and damaged requests', () => {
  it('300 requests: never a 5xx; a well-formed AdmissionReview (200) or a 4xx with a message', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(fc.asyncProperty(path, contentType, anyBodyText, async (p, ct, text) => {
      const reply = await httpsCall(server.url, pki.caPem, p, text, { agent, contentType: ct === '' ? null : ct });
      expect(reply.status).toBeLessThan(500);
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
      const body = JSON.parse(reply.text) as Record<string, unknown>;
      if (reply.status === 200) {
        const sent = JSON.parse(text) as { apiVersion: string; request: { uid: string; object?: JsonValue } };
        assertWellFormed(sent.request.uid, sent.apiVersion, body as unknown as AdmissionReviewResponse, sent.request.object);
      } else {
        expect([400, 413, 415]).toContain(reply.status);
        expect(body).toEqual({ code: reply.status, message: expect.any(String) });
        expect((body.message as string).length).toBeGreaterThan(10);
      }
    }), { numRuns: 300, seed: 6443 });
    // Both kinds of answer were exercised, not only refusals.
    expect(statuses.get(200)).toBeGreaterThan(60);
    expect((statuses.get(400) ?? 0) + (statuses.get(415) ?? 0)).toBeGreaterThan(30);
    expect(logger.records.filter((r) => r.level === 'error')).toEqual([]);
  });

  it('refuses a chunked body that grows past 3 MiB with 413 and keeps serving', async () => {
    const reply = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, path: '/mutate/hpa', method: 'POST', ca: pki.caPem, agent: false,
        headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(256 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < 4 * 1024 * 1024) {
          sent += chunk.length;
          if (!req.write(chunk)) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    });
    expect(reply.status).toBe(413);
    expect(JSON.parse(reply.text).message).toBe('request body exceeds the limit of 3145728 bytes');
    expect((await httpsCall(server.url, pki.caPem, '/healthz', undefined)).status).toBe(200);
  });

  it('refuses a body nested 100,000 levels deep with 400', async () => {
    const text = `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const reply = await httpsCall(server.url, pki.caPem, '/validate/bundle', text, { agent });
    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.text).message).toBe('body nests deeper than 100 levels; no AdmissionReview of an HPA or PolicyBundle does');
  });
});
