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

/** `HTTP 503: <Status message>` for an API error (whose message spans body and headers), else the first line. */
function describeError(err: unknown): string {
  const e = err as { code?: unknown; body?: unknown; message?: unknown } | undefined;
  if (typeof e?.code === 'number' && typeof e.body === 'string') {
    try {
      const status = JSON.parse(e.body) as { message?: unknown };
      if (typeof status.message === 'string') return `HTTP ${e.code}: ${status.message}`;
    } catch {
      // not a Status body; fall through to the message
    }
    return `HTTP ${e.code}`;
  }
  return String(e?.message ?? err).split('\n')[0]!;
}

export interface ClusterSourceOptions {
  /** Pause before listing and watching again after an error (default 2 s). */
  retryDelayMs?: number;
}

export function clusterBundleSource(kc: KubeConfig, opts: ClusterSourceOptions = {}): BundleSource {
  const events = new EventEmitter();
  const api = kc.makeApiClient(CustomObjectsApi);
  const retryDelayMs = opts.retryDelayMs ?? 2000;
  // informer.start() also returns after a failed list (it reports the error and stops), so whether a
  // list succeeded is recorded here: readiness follows the first complete list.
  let listed = false;
  const informer = makeInformer<KubernetesObject>(kc, BUNDLE_LIST_PATH, async () => {
    const list = await api.listCustomObjectForAllNamespaces({ group: BUNDLE_GROUP, version: BUNDLE_VERSION, resourcePlural: BUNDLE_PLURAL });
    listed = true;
    return list;
  });
  let isReady = false;
  let stopped = false;
  /** The last list or watch failure before the first list succeeded, for /readyz. */
  let lastFailure: string | undefined;
  let settleStart: () => void = () => undefined;
  const started = new Promise<void>((resolve) => { settleStart = resolve; });

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

  // informer.start() returns once the listed items are stored and the watch is open (or either failed).
  const run = async (): Promise<void> => {
    try {
      await informer.start();
    } catch (e) {
      events.emit('problem', `listing ${BUNDLE_LIST_PATH} failed: ${describeError(e)}`);
      return;
    }
    if (stopped || isReady || !listed) return;
    isReady = true;
    refresh();
    settleStart();
  };

  informer.on('add', (o) => refresh(o));
  informer.on('update', (o) => refresh(o));
  informer.on('delete', () => refresh());
  informer.on('error', (err: unknown) => {
    // Stopping aborts the open watch, which the informer reports as an error.
    if (stopped) return;
    lastFailure = `watching ${BUNDLE_LIST_PATH} failed: ${describeError(err)}; retrying`;
    events.emit('problem', lastFailure);
    // The informer stops on error; resume after a short pause.
    setTimeout(() => void run(), retryDelayMs).unref();
  });

  return {
    description: 'cluster',
    events,
    bundles: () => cached,
    ready: () => isReady,
    unavailable: () => (isReady ? undefined : lastFailure),
    async start() {
      void run();
      await started;
    },
    async stop() {
      stopped = true;
      await informer.stop();
      settleStart();
    },
  };
}
