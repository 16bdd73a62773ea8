import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { main } from '../../../generator/cli/main.ts';
import { captureIo } from '../../support/io.ts';
import { createTestPki, type TestPki } from '../../support/tls.ts';
import { FIXTURE_DIR, fixtureText } from '../../unit/webhook/fixtures.ts';
import { httpsCall } from './client.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
let pki: TestPki;
let bundles: string;

beforeAll(() => {
  pki = createTestPki();
  bundles = mkdtempSync(join(tmpdir(), 'karma-hpa-cli-bundles-'));
  copyFileSync(join(FIXTURE_DIR, 'bundles/checkout.json'), join(bundles, 'checkout.json'));
});

afterAll(() => {
  pki?.cleanup();
  if (bundles) rmSync(bundles, { recursive: true, force: true });
});

describe('karma-hpa webhook', () => {
  it('explains bad options without a stack trace', async () => {
    const io = captureIo();
    expect(await main(['webhook', '--key', 'k.pem'], io)).toBe(2);
    expect(io.stderr()).toBe("karma-hpa webhook: error: karma-hpa webhook: missing required option --cert\n  hint: run 'karma-hpa webhook --help'\n");
    const io2 = captureIo();
    const cert = pki.issue('cli-opts');
    expect(await main(['webhook', '--cert', cert.certFile, '--key', cert.keyFile, '--bundles-from', 'git:somewhere'], io2)).toBe(2);
    expect(io2.stderr()).toContain('--bundles-from must be "cluster" or "dir:PATH", got "git:somewhere"');
    const io3 = captureIo();
    expect(await main(['webhook', '--cert', '/nonexistent/tls.crt', '--key', cert.keyFile, '--bundles-from', `dir:${bundles}`, '--port', '0'], io3)).toBe(2);
    expect(io3.stderr()).toBe("karma-hpa webhook: error: /nonexistent/tls.crt: cannot read the certificate (ENOENT)\n  hint: pass --cert with a PEM certificate file\n");
  });

  it('serves over HTTPS, logs JSON lines with the request uid, and exits 0 on SIGTERM', async () => {
    const cert = pki.issue('cli');
    const child = spawn(process.execPath, [join(ROOT, 'generator/cli/karma-hpa.js'), 'webhook', '--port', '0', '--host', '127.0.0.1', '--cert', cert.certFile, '--key', cert.keyFile,
      '--bundles-from', `dir:${bundles}`, '--log-level', 'debug', '--shutdown-delay-seconds', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const records: Record<string, unknown>[] = [];
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const lines = createInterface(child.stdout!);
    let exitCode: number | null | undefined;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
      exitCode = code;
      resolve(code);
    }));
    // A child that dies (say, on a module that fails to load) fails the test with its stderr instead of hanging it.
    const waitFor = (pred: (r: Record<string, unknown>) => boolean) => new Promise<Record<string, unknown>>((resolve, reject) => {
      if (exitCode !== undefined) return reject(new Error(`karma-hpa webhook exited with ${exitCode}: ${stderr}`));
      void exited.then((code) => reject(new Error(`karma-hpa webhook exited with ${code}: ${stderr}`)));
      const found = records.find(pred);
      if (found) return resolve(found);
      const on = (line: string) => {
        const r = JSON.parse(line) as Record<string, unknown>;
        if (pred(r)) {
          lines.off('line', on);
          resolve(r);
        }
      };
      lines.on('line', on);
    });
    lines.on('line', (line) => records.push(JSON.parse(line) as Record<string, unknown>));

    const listening = await waitFor((r) => r.msg === 'webhook listening');
    await waitFor((r) => r.msg === 'bundles loaded');
    const url = `https://127.0.0.1:${String(listening.port)}`;
    const reply = await httpsCall(url, pki.caPem, '/mutate/hpa', fixtureText('hpa-update-gitops-resync.json'));
    expect(reply.status).toBe(200);
    const logged = await waitFor((r) => r.uid === 'b1a7c0de-0003-4c3e-9f00-000000000003');
    expect(logged).toMatchObject({ level: 'info', msg: 'admission reviewed', path: '/mutate/hpa', outcome: 'patched', operation: 'UPDATE', namespace: 'shop', name: 'checkout' });
    expect(typeof logged.time).toBe('string');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(records.map((r) => r.msg)).toContain('shut down');
    expect(records.find((r) => r.msg === 'signal received')).toMatchObject({ signal: 'SIGTERM' });
    expect(stderr).toBe('');
  });
});
