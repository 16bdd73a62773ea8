/**
 * Bundles from the cluster: an informer lists and watches PolicyBundles in all namespaces. Thin on
 * purpose; the client library does list, watch, resume and relist. Only valid bundles are kept (the
 * validating webhook should already have refused the others).
 */
import { EventEmitter } from 'node:events';
import { CustomObjectsApi, makeInformer, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { validateBundle, type PolicyBundle } from '../../policies/bundle.ts';
import type { BundleSource } from './source.ts';

export const BUNDLE_GROUP = 'karma-hpa.io';
export const BUNDLE_VERSION = 'v1alpha1';
export const BUNDLE_PLURAL = 'policybundles';
export const BUNDLE_LIST_PATH = `/apis/${BUNDLE_GROUP}/${BUNDLE_VERSION}/${BUNDLE_PLURAL}`;

export function clusterBundleSource(kc: KubeConfig): BundleSource {
  const events = new EventEmitter();
  const api = kc.makeApiClient(CustomObjectsApi);
  // Readiness follows the first complete list, not the watch connection, so the webhook serves as
  // soon as it knows every bundle.
  let listed: () => void = () => undefined;
  const firstList = new Promise<void>((resolve) => { listed = resolve; });
  const informer = makeInformer<KubernetesObject>(kc, BUNDLE_LIST_PATH, async () => {
    const list = await api.listCustomObjectForAllNamespaces({ group: BUNDLE_GROUP, version: BUNDLE_VERSION, resourcePlural: BUNDLE_PLURAL });
    listed();
    return list;
  });
  let isReady = false;
  let stopped = false;

  const current = (): PolicyBundle[] => {
    const out: PolicyBundle[] = [];
    for (const obj of informer.list()) {
      const { status: _status, ...rest } = obj as KubernetesObject & { status?: unknown };
      const r = validateBundle(rest);
      if (r.ok) out.push(r.bundle);
    }
    return out;
  };
  let cached: PolicyBundle[] = [];
  const refresh = (obj?: KubernetesObject) => {
    cached = current();
    if (obj && !cached.some((b) => b.metadata.name === obj.metadata?.name && b.metadata.namespace === obj.metadata?.namespace)) {
      const r = validateBundle(obj);
      if (!r.ok) events.emit('problem', `PolicyBundle ${obj.metadata?.namespace}/${obj.metadata?.name}: ${r.errors.slice(0, 5).join('; ')}`);
    }
    events.emit('reloaded', { bundles: cached, problems: [] });
  };
  informer.on('add', (o) => refresh(o));
  informer.on('update', (o) => refresh(o));
  informer.on('delete', () => refresh());
  informer.on('error', (err: unknown) => {
    events.emit('problem', `watching ${BUNDLE_LIST_PATH} failed: ${(err as Error)?.message ?? String(err)}; retrying`);
    // The informer stops on error; resume after a short pause unless we are shutting down.
    if (!stopped) setTimeout(() => void informer.start().catch(() => undefined), 2000).unref();
  });

  return {
    description: 'cluster',
    events,
    bundles: () => cached,
    ready: () => isReady,
    async start() {
      informer.start().catch((e: unknown) => events.emit('problem', `listing ${BUNDLE_LIST_PATH} failed: ${(e as Error).message}`));
      await firstList;
      // The informer stores the listed items right after the list resolves; read them on the next turn.
      await new Promise<void>((resolve) => setImmediate(resolve));
      isReady = true;
      refresh();
    },
    async stop() {
      stopped = true;
      await informer.stop();
    },
  };
}
