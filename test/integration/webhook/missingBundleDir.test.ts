import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { dirBundleSource } from '../../../webhook/bundles/dirSource.ts';
import { memoryLogger } from '../../../webhook/server/logger.ts';
import { startWebhookServer, type WebhookServer } from '../../../webhook/server/server.ts';
import { createTestPki, type TestPki } from '../../support/tls.ts';
import { checkoutBundle } from '../../unit/webhook/fixtures.ts';
import { httpsCall } from './client.ts';

let root: string | undefined;
let pki: TestPki | undefined;
let server: WebhookServer | undefined;
afterEach(async () => {
  await server?.shutdown({ graceMs: 100 });
  pki?.cleanup();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('--bundles-from dir:PATH with a directory that does not exist yet', () => {
  it('logs the error, explains it on /readyz, and turns ready once the directory appears', async () => {
    root = mkdtempSync(join(tmpdir(), 'karma-hpa-late-'));
    const dir = join(root, 'bundles');
    pki = createTestPki();
    const cert = pki.issue('late-bundles');
    const logger = memoryLogger();
    const source = dirBundleSource(dir);
    server = await startWebhookServer({ port: 0, host: '127.0.0.1', certFile: cert.certFile, keyFile: cert.keyFile, source, logger,
      now: () => Date.parse('2026-11-25T10:00:05Z'), watchCertificate: false });

    const notReady = await httpsCall(server.url, pki.caPem, '/readyz', undefined);
    expect(notReady.status).toBe(503);
    expect(notReady.text).toBe(`bundles not loaded yet: bundle directory ${dir} does not exist\n`);
    expect(logger.records.filter((r) => r.level === 'error')).toEqual([
      { level: 'error', msg: 'bundle source unavailable', source: `dir:${dir}`, problem: `bundle directory ${dir} does not exist; waiting for it to appear` },
    ]);
    expect(server.metrics.render()).toMatch(/karma_hpa_webhook_bundle_load_errors_total\{source="dir"\} 1/);
    // Liveness is unaffected: restarting would not create the directory.
    expect((await httpsCall(server.url, pki.caPem, '/healthz', undefined)).status).toBe(200);

    const staging = join(root, 'staging');
    mkdirSync(staging);
    writeFileSync(join(staging, 'checkout.yaml'), stringify(checkoutBundle()));
    renameSync(staging, dir);
    await server.whenReady;

    const ready = await httpsCall(server.url, pki.caPem, '/readyz', undefined);
    expect(ready.status).toBe(200);
    expect(ready.text).toBe('ok: 1 bundles\n');
    expect(logger.records.some((r) => r.msg === 'bundle source available' && r.detail === `bundle directory ${dir} is readable again`)).toBe(true);
  });
});
