/**
 * The end-to-end suite (test/e2e, `npm run test:e2e`) run as a whole against the local HTTPS server that
 * speaks the Kubernetes API, so the suite itself is exercised on every test run, not only in kind: the
 * same KUBECONFIG-driven code path, namespace, CRD, Deployment, HPA, bundle, status and Events. The
 * webhook leg needs an API server that calls admission webhooks and stays skipped here.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { KubeApiServer } from '../../support/kube-api.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function runE2e(kubeconfig: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, KUBECONFIG: kubeconfig, CI: 'true' };
    delete env.KARMA_E2E_WEBHOOK_HOST;
    const child = spawn(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', 'test/e2e/vitest.e2e.config.ts'], { cwd: ROOT, env });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('the end-to-end suite', () => {
  it('passes against the local Kubernetes API server, with only the webhook leg skipped', async () => {
    const api = await KubeApiServer.start();
    try {
      const { code, output } = await runE2e(api.writeKubeconfig());
      // eslint-disable-next-line no-control-regex
      const plain = output.replace(/\u001b\[[0-9;]*m/g, '');
      expect(code, plain).toBe(0);
      expect(plain).toMatch(/Tests\s+2 passed \| 1 skipped \(3\)/);
      // It really talked to this server: the CRD, the bundle's status and an events.k8s.io Event.
      const paths = api.requests.map((r) => `${r.method} ${r.path}`);
      expect(paths.some((p) => p.startsWith('POST /apis/apiextensions.k8s.io/v1/customresourcedefinitions'))).toBe(true);
      expect(paths.some((p) => /^PATCH \/apis\/karma-hpa\.io\/v1alpha1\/namespaces\/[^/]+\/policybundles\/[^/]+\/status/.test(p))).toBe(true);
      expect(paths.some((p) => /^POST \/apis\/events\.k8s\.io\/v1\/namespaces\/[^/]+\/events/.test(p))).toBe(true);
    } finally {
      await api.close();
    }
  }, 300_000);
});
