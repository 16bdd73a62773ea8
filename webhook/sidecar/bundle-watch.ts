/**
 * Keeps the sidecar's view of PolicyBundles current without restarts: list, then watch from the list's
 * resourceVersion; on a dropped stream resume from the last resourceVersion seen, on 410 Gone list
 * again. Every bundle is validated (schema + digest); a refused one never replaces the last good one.
 */
import { validateBundle, type PolicyBundle } from '../../policies/bundle.ts';
import type { Scheduler } from './clock.ts';
import type { ClusterPort, WatchEventType } from './cluster-port.ts';

export interface BundleEntry {
  /** The last version that passed validation, if any. */
  good?: PolicyBundle;
  /** The latest version, when it was refused. */
  refused?: { resourceVersion?: string; errors: string[] };
  /** The object as last seen: its generation, resourceVersion and the status written on it. */
  observed?: { uid?: string; generation?: number; resourceVersion?: string; status?: Record<string, unknown> };
}

export interface BundleWatcherOptions {
  /** Watch one namespace, or all when undefined. */
  namespace?: string;
  reconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  onLoad?: (key: string, bundle: PolicyBundle) => void;
  onRefuse?: (key: string, errors: string[]) => void;
  log?: (line: string) => void;
}

type Meta = { name?: string; namespace?: string; uid?: string; resourceVersion?: string; generation?: number };

export class BundleWatcher {
  readonly entries = new Map<string, BundleEntry>();
  /** Counts for tests and metrics. */
  readonly stats = { lists: 0, watches: 0, loads: 0, refusals: 0 };
  private readonly port: ClusterPort;
  private readonly scheduler: Scheduler;
  private readonly opts: BundleWatcherOptions;
  private resourceVersion = '';
  private stream: { stop: () => void } | undefined;
  private relist = false;
  private stopped = true;
  private failures = 0;
  private retryTimer: unknown;

  constructor(port: ClusterPort, scheduler: Scheduler, opts: BundleWatcherOptions = {}) {
    this.port = port;
    this.scheduler = scheduler;
    this.opts = opts;
  }

  /** List and open the watch. Resolves after the first attempt (failures are retried in the background). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.sync(true);
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer !== undefined) this.scheduler.clearTimeout(this.retryTimer);
    this.stream?.stop();
    this.stream = undefined;
  }

  /** Whether a watch stream is open now. */
  isWatching(): boolean {
    return this.stream !== undefined;
  }

  /** The bundles in force: the last good version of each. */
  goodBundles(): PolicyBundle[] {
    return [...this.entries.values()].flatMap((e) => (e.good ? [e.good] : []));
  }

  private async sync(list: boolean): Promise<void> {
    try {
      if (list) await this.list();
      if (this.stopped) return;
      this.stats.watches++;
      // A stream that fails to open reports its end before watchBundles returns: then it is not ours to keep.
      let ended = false;
      const stream = await this.port.watchBundles(this.opts.namespace, this.resourceVersion, (t, o) => this.onEvent(t, o), (err) => {
        ended = true;
        this.onDone(err);
      });
      if (ended) return;
      this.stream = stream;
      this.failures = 0;
    } catch (e) {
      this.opts.log?.(`policy bundles: ${list ? 'list' : 'watch'} failed: ${(e as Error).message}`);
      this.scheduleRetry(list);
    }
  }

  private async list(): Promise<void> {
    this.stats.lists++;
    const { items, resourceVersion } = await this.port.listBundles(this.opts.namespace);
    const seen = new Set<string>();
    for (const item of items) seen.add(this.apply('ADDED', item));
    for (const key of [...this.entries.keys()]) if (!seen.has(key)) this.entries.delete(key);
    this.resourceVersion = resourceVersion;
    this.relist = false;
  }

  private onEvent(type: WatchEventType, object: unknown): void {
    if (type === 'ERROR') {
      const code = (object as { code?: number })?.code;
      // 410 Gone: our resourceVersion is older than the server keeps; only a fresh list can resume.
      if (code === 410) this.relist = true;
      this.opts.log?.(`policy bundles: watch error ${code ?? ''} ${(object as { message?: string })?.message ?? ''}`.trim());
      this.stream?.stop();
      return;
    }
    const rv = (object as { metadata?: Meta })?.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (type === 'BOOKMARK') return;
    this.apply(type, object);
  }

  private onDone(err: unknown): void {
    this.stream = undefined;
    if (this.stopped) return;
    if (err) this.opts.log?.(`policy bundles: watch ended: ${(err as Error).message ?? String(err)}`);
    this.scheduleRetry(this.relist);
  }

  private scheduleRetry(list: boolean): void {
    if (this.stopped) return;
    const base = this.opts.reconnectDelayMs ?? 1000;
    const delay = Math.min(this.opts.maxReconnectDelayMs ?? 30_000, base * 2 ** Math.min(this.failures, 10));
    this.failures++;
    this.retryTimer = this.scheduler.setTimeout(() => this.sync(list || this.relist), delay);
  }

  /** Validate and record one bundle; returns its key. */
  private apply(type: WatchEventType, object: unknown): string {
    const meta = (object as { metadata?: Meta })?.metadata ?? {};
    const key = `${meta.namespace ?? ''}/${meta.name ?? ''}`;
    if (type === 'DELETED') {
      this.entries.delete(key);
      return key;
    }
    const entry = this.entries.get(key) ?? {};
    // The status is the in-cluster side's report, not the bundle: it is neither validated nor digested.
    const { status, ...content } = (object ?? {}) as { status?: unknown };
    const observed = {
      ...(meta.uid !== undefined ? { uid: meta.uid } : {}),
      generation: meta.generation,
      resourceVersion: meta.resourceVersion,
      ...(status !== null && typeof status === 'object' ? { status: status as Record<string, unknown> } : {}),
    };
    // Same object (a bundle deleted and created again while the watch was down starts over at generation 1)
    // and same generation: the spec is the one already judged.
    const sameGeneration = entry.observed !== undefined && meta.generation !== undefined && entry.observed.generation === meta.generation
      && entry.observed.uid === meta.uid;
    if (sameGeneration) {
      // Only the status (or metadata) changed: the verdict on the spec stands.
      this.entries.set(key, { ...entry, observed });
      return key;
    }
    const result = validateBundle(content);
    if (result.ok) {
      const changed = entry.good?.spec.digest !== result.bundle.spec.digest;
      this.entries.set(key, { good: result.bundle, observed });
      if (changed) {
        this.stats.loads++;
        this.opts.onLoad?.(key, result.bundle);
      }
    } else {
      this.stats.refusals++;
      this.entries.set(key, { ...(entry.good ? { good: entry.good } : {}), refused: { resourceVersion: meta.resourceVersion, errors: result.errors }, observed });
      this.opts.onRefuse?.(key, result.errors);
    }
    return key;
  }
}
