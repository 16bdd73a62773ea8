import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { staticBundleSource } from '../../../webhook/bundles/source.ts';
import { memoryLogger } from '../../../webhook/server/logger.ts';
import { startWebhookServer, type WebhookServer } from '../../../webhook/server/server.ts';
import type { CertificatePair } from '../../../webhook/server/servingCertificate.ts';
import { EventEmitter } from 'node:events';
import { createTestPki, type ServerCertificate, type TestPki } from '../../support/tls.ts';
import { checkoutBundle, fixtureText } from '../../unit/webhook/fixtures.ts';
import { httpsCall } from './client.ts';

let pki: TestPki;
let mount: string;
let server: WebhookServer;
const logger = memoryLogger();
let generation = 0;

/** Lay out files as the kubelet does for a Secret volume: tls.crt -> ..data/tls.crt, ..data -> ..<timestamped dir>. */
function publishKubeletStyle(cert: ServerCertificate): void {
  const dir = `..gen_${++generation}`;
  mkdirSync(join(mount, dir));
  copyFileSync(cert.certFile, join(mount, dir, 'tls.crt'));
  copyFileSync(cert.keyFile, join(mount, dir, 'tls.key'));
  symlinkSync(dir, join(mount, '..data_tmp'));
  renameSync(join(mount, '..data_tmp'), join(mount, '..data'));
}

function nextReload(fingerprint: string): Promise<CertificatePair> {
  return new Promise((resolve) => {
    const on = (pair: CertificatePair) => {
      if (pair.fingerprint256 === fingerprint) {
        server.certificate.events.off('reloaded', on);
        resolve(pair);
      }
    };
    server.certificate.events.on('reloaded', on);
  });
}

beforeAll(async () => {
  pki = createTestPki();
  mount = mkdtempSync(join(tmpdir(), 'karma-hpa-tls-'));
  const first = pki.issue('first');
  publishKubeletStyle(first);
  symlinkSync('..data/tls.crt', join(mount, 'tls.crt'));
  symlinkSync('..data/tls.key', join(mount, 'tls.key'));
  server = await startWebhookServer({
    port: 0, host: '127.0.0.1', certFile: join(mount, 'tls.crt'), keyFile: join(mount, 'tls.key'),
    source: staticBundleSource([checkoutBundle()], new EventEmitter()), logger, now: () => Date.parse('2026-11-25T10:00:05Z'),
  });
});

afterAll(async () => {
  await server?.shutdown({ graceMs: 1000 });
  pki?.cleanup();
  if (mount) rmSync(mount, { recursive: true, force: true });
});

describe('serving certificate rotation', () => {
  it('new connections get the new certificate after the mounted files change; no request fails meanwhile', async () => {
    const body = fixtureText('hpa-update-gitops-resync.json');
    // Each entry: how many reloads had completed when the request started, and the certificate it saw.
    const seen: { phase: number; fingerprint: string }[] = [];
    let phase = 0;
    const failures: unknown[] = [];
    let stop = false;
    // Each request opens a new TLS connection, so each one shows the certificate in force at that moment.
    const worker = async () => {
      while (!stop) {
        const startedIn = phase;
        try {
          const r = await httpsCall(server.url, pki.caPem, '/mutate/hpa', body);
          if (r.status !== 200 || JSON.parse(r.text).response?.allowed !== true) failures.push(r.status);
          seen.push({ phase: startedIn, fingerprint: r.peerFingerprint256 });
        } catch (e) {
          failures.push(e);
        }
      }
    };
    const initial = server.certificate.current.fingerprint256;
    const workers = [worker(), worker(), worker()];

    // 1) kubelet-style atomic swap of the ..data symlink.
    const second = pki.issue('second');
    const reloadedSecond = nextReload(second.fingerprint256);
    publishKubeletStyle(second);
    await reloadedSecond;
    phase = 1;
    const afterSecond = await httpsCall(server.url, pki.caPem, '/healthz', undefined);
    expect(afterSecond.peerFingerprint256).toBe(second.fingerprint256);

    // 2) a non-atomic rewrite: key first, then certificate; the half-written pair is refused until complete.
    const third = pki.issue('third');
    const reloadedThird = nextReload(third.fingerprint256);
    const dataDir = join(mount, `..gen_${generation}`);
    writeFileSync(join(dataDir, 'tls.key'), third.keyPem);
    writeFileSync(join(dataDir, 'tls.crt'), third.certPem);
    await reloadedThird;
    phase = 2;
    const afterThird = await httpsCall(server.url, pki.caPem, '/healthz', undefined);
    expect(afterThird.peerFingerprint256).toBe(third.fingerprint256);

    stop = true;
    await Promise.all(workers);
    expect(failures).toEqual([]);
    expect(seen[0]!.fingerprint).toBe(initial);
    // Requests that started after a reload completed never see an older certificate.
    expect(seen.filter((x) => x.phase === 1).every((x) => x.fingerprint === second.fingerprint256 || x.fingerprint === third.fingerprint256)).toBe(true);
    expect(seen.filter((x) => x.phase === 2).every((x) => x.fingerprint === third.fingerprint256)).toBe(true);
    expect(seen.some((x) => x.phase === 0)).toBe(true);
    const reloads = logger.records.filter((r) => r.msg === 'serving certificate reloaded').map((r) => r.fingerprint256);
    expect(reloads).toEqual([second.fingerprint256, third.fingerprint256]);
  });

  it('keeps serving with the current certificate when the files are unusable', () => {
    const before = server.certificate.current.fingerprint256;
    const dataDir = join(mount, `..gen_${generation}`);
    writeFileSync(join(dataDir, 'tls.crt'), 'not a certificate');
    expect(server.reloadCertificate()).toBe(false);
    expect(server.certificate.current.fingerprint256).toBe(before);
  });
});
