/**
 * What the end-to-end tests need of a real cluster: a kubeconfig from KUBECONFIG, a throw-away namespace,
 * the PolicyBundle CRD from policies/crd, and waiting for conditions the cluster reaches on its own.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiextensionsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';

export const KUBECONFIG = process.env.KUBECONFIG;
/** An address of this machine the cluster's API server can reach (kind: the docker network gateway); enables the webhook tests. */
export const WEBHOOK_HOST = process.env.KARMA_E2E_WEBHOOK_HOST;
export const SKIP_REASON = 'KUBECONFIG is not set: the end-to-end tests need a real cluster (e.g. `kind create cluster`, then KUBECONFIG=~/.kube/config npm run test:e2e)';

export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(KUBECONFIG!);
  return kc;
}

/** Poll `check` until it returns a value (not undefined), or fail after `timeoutMs` with `what`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 180_000, everyMs = 2_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Install the CRD (unless present); returns whether this call created it, so cleanup removes only its own. */
export async function installCrd(kc: KubeConfig): Promise<boolean> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const crd = parseYaml(readFileSync(new URL('../../policies/crd/policybundle.crd.yaml', import.meta.url), 'utf8'));
  let created = false;
  try {
    await api.readCustomResourceDefinition({ name: crd.metadata.name });
  } catch {
    await api.createCustomResourceDefinition({ body: crd });
    created = true;
  }
  await eventually('the PolicyBundle CRD to be established', async () => {
    const c = await api.readCustomResourceDefinition({ name: crd.metadata.name });
    return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True') ? true : undefined;
  }, 60_000, 1_000);
  return created;
}

export async function removeCrd(kc: KubeConfig): Promise<void> {
  await kc.makeApiClient(ApiextensionsV1Api).deleteCustomResourceDefinition({ name: 'policybundles.karma-hpa.io' }).catch(() => undefined);
}

export async function createNamespace(kc: KubeConfig, prefix: string): Promise<string> {
  const name = `${prefix}-${Date.now().toString(36)}`;
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name, labels: { 'app.kubernetes.io/part-of': 'karma-hpa-e2e' } } } });
  return name;
}

export async function deleteNamespace(kc: KubeConfig, name: string): Promise<void> {
  await kc.makeApiClient(CoreV1Api).deleteNamespace({ name }).catch(() => undefined);
}

/** A CA and a serving certificate for an IP address (the API server checks IP SANs when it calls an IP). */
export function certificateForIp(dir: string, ip: string): { caPem: string; certFile: string; keyFile: string } {
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1',
    '-subj', '/CN=karma-hpa e2e CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'webhook.key', '-out', 'webhook.csr', '-subj', '/CN=karma-hpa-webhook']);
  writeFileSync(join(dir, 'webhook.ext'), `subjectAltName=IP:${ip},IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n`);
  openssl(['x509', '-req', '-in', 'webhook.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'webhook.ext', '-out', 'webhook.crt']);
  return { caPem: readFileSync(join(dir, 'ca.crt'), 'utf8'), certFile: join(dir, 'webhook.crt'), keyFile: join(dir, 'webhook.key') };
}
