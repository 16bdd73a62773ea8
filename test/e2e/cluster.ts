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

/**
 * Install this tree's CRD (status subresource and printer columns included), replacing an older one left
 * on the cluster; returns whether this call created it, so cleanup removes only its own. A CRD still
 * being deleted (a previous run's) is waited out first: creating over it would fail.
 */
export async function installCrd(kc: KubeConfig): Promise<boolean> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const crd = parseYaml(readFileSync(new URL('../../policies/crd/policybundle.crd.yaml', import.meta.url), 'utf8'));
  const read = () => api.readCustomResourceDefinition({ name: crd.metadata.name }).catch((e: { code?: number }) => {
    if (e.code === 404) return undefined;
    throw e;
  });
  let existing = await read();
  if (existing?.metadata?.deletionTimestamp) {
    await eventually('the previous PolicyBundle CRD to be deleted', async () => ((await read()) === undefined ? true : undefined), 120_000, 2_000);
    existing = undefined;
  }
  if (existing) {
    await api.replaceCustomResourceDefinition({ name: crd.metadata.name, body: { ...crd, metadata: { ...crd.metadata, resourceVersion: existing.metadata?.resourceVersion } } });
  } else {
    await api.createCustomResourceDefinition({ body: crd });
  }
  await eventually('the PolicyBundle CRD to be established', async () => {
    const c = await api.readCustomResourceDefinition({ name: crd.metadata.name });
    return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True') ? true : undefined;
  }, 60_000, 1_000);
  return existing === undefined;
}

export async function removeCrd(kc: KubeConfig): Promise<void> {
  await kc.makeApiClient(ApiextensionsV1Api).deleteCustomResourceDefinition({ name: 'policybundles.karma-hpa.io' }).catch(() => undefined);
}

export async function createNamespace(kc: KubeConfig, prefix: string): Promise<string> {
  const name = `${prefix}-${Date.now().toString(36)}`;
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name, labels: { 'app.kubernetes.io/part-of': 'karma-hpa-e2e' } } } });
  return name;
}

/**
 * Delete a namespace and wait until it is gone: deletion is asynchronous (the namespace is Terminating
 * while its pods stop and its objects, PolicyBundles included, are removed), so removing the CRD
 * before then would race the namespace controller. A namespace still there after the wait is reported.
 */
export async function deleteNamespace(kc: KubeConfig, name: string, timeoutMs = 180_000): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.deleteNamespace({ name }).catch(() => undefined);
  await eventually(`namespace ${name} to be deleted`, async () => {
    try {
      await core.readNamespace({ name });
      return undefined;
    } catch (e) {
      if ((e as { code?: number }).code === 404) return true;
      throw e;
    }
  }, timeoutMs, 2_000).catch((e: Error) => console.warn(e.message));
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
