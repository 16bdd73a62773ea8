/**
 * Where the webhook gets its PolicyBundles: a directory (watched, reloaded on change) or the cluster
 * (list + watch through the Kubernetes API). Both keep only bundles that pass `validateBundle`.
 */
import type { EventEmitter } from 'node:events';
import type { PolicyBundle } from '../../policies/bundle.ts';

export interface BundleSource {
  /** The bundles currently in force (valid ones only). */
  bundles(): readonly PolicyBundle[];
  /** True once the first complete load finished; /readyz reports it. */
  ready(): boolean;
  /** Load once and start watching; resolves when the first load is done (retrying until then) or the source stops. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Why the source cannot load right now (the bundle directory is missing, the API refuses the list),
   * for /readyz and logs; undefined while it can.
   */
  unavailable?(): string | undefined;
  /**
   * Emits `reloaded` ({ bundles, problems }) after every (re)load, `problem` (string) for a rejected
   * bundle, `unavailable` (string) when the source stops being able to load (once per cause) and
   * `available` (string) when it can again.
   */
  readonly events: EventEmitter;
  /** What the source is, for logs: `dir:/etc/bundles` or `cluster`. */
  readonly description: string;
}

/** A fixed list, for tests and benchmarks. */
export function staticBundleSource(bundles: readonly PolicyBundle[], events: EventEmitter): BundleSource {
  return {
    bundles: () => bundles,
    ready: () => true,
    start: async () => undefined,
    stop: async () => undefined,
    events,
    description: 'static',
  };
}
