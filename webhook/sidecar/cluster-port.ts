/**
 * Everything the sidecar asks of the Kubernetes API, as one small interface. KubeClusterPort implements
 * it with @kubernetes/client-node; tests and benchmarks may pass an in-process implementation.
 * Failures arrive as ApiError (HTTP status, Retry-After, the API's Status message) whatever the transport.
 */
import {
  AutoscalingV2Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, Watch, setHeaderOptions,
} from '@kubernetes/client-node';
import type { LeaseRecord } from './lease.ts';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface HpaObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: { minReplicas?: number; maxReplicas: number; [field: string]: unknown };
  status?: { currentReplicas?: number; desiredReplicas?: number; [field: string]: unknown };
}

/** The fields the sidecar changes on an HPA, with the resourceVersion it read (merge patch only). */
export interface HpaChange {
  resourceVersion?: string;
  minReplicas: number;
  maxReplicas: number;
  annotations: Record<string, string | null>;
}

export interface PodObject {
  metadata: ObjectMeta;
  spec?: { containers?: { name: string; resources?: { requests?: Record<string, string> } }[] };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; ready?: boolean; restartCount?: number; state?: { waiting?: { reason?: string } } }[];
  };
}

export interface PodMetricsObject {
  metadata: ObjectMeta;
  timestamp?: string;
  window?: string;
  containers?: { name: string; usage?: Record<string, string> }[];
}

export interface LeaseObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: LeaseRecord;
}

/** A core/v1 Event about an HPA: what `kubectl describe hpa` lists. */
export interface HpaEvent {
  namespace: string;
  hpaName: string;
  hpaUid?: string;
  type: 'Normal' | 'Warning';
  reason: string;
  action: string;
  message: string;
  timeMs: number;
  reportingInstance: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface ClusterPort {
  listHpas(namespace: string | undefined, labelSelector: string): Promise<HpaObject[]>;
  getHpa(namespace: string, name: string): Promise<HpaObject>;
  patchHpa(namespace: string, name: string, change: HpaChange, strategy: PatchMode): Promise<HpaObject>;
  listPods(namespace: string, labelSelector: string): Promise<PodObject[]>;
  listPodMetrics(namespace: string, labelSelector: string): Promise<PodMetricsObject[]>;
  createEvent(event: HpaEvent): Promise<void>;
  getLease(namespace: string, name: string): Promise<LeaseObject | undefined>;
  createLease(namespace: string, name: string, spec: LeaseRecord): Promise<LeaseObject>;
  replaceLease(lease: LeaseObject): Promise<LeaseObject>;
  listBundles(namespace: string | undefined): Promise<{ items: unknown[]; resourceVersion: string }>;
  /** Open a watch; `onDone` fires once when the stream ends for any reason. */
  watchBundles(namespace: string | undefined, resourceVersion: string, onEvent: (type: WatchEventType, object: unknown) => void,
    onDone: (err: unknown) => void): Promise<{ stop: () => void }>;
}

/** merge: JSON merge patch carrying metadata.resourceVersion (optimistic concurrency); apply: server-side apply. */
export type PatchMode = 'merge' | 'apply';

export const FIELD_MANAGER = 'karma-hpa';

/** A failed API call: status 0 means the server was not reached. */
export class ApiError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly retryAfterSeconds: number | undefined;

  constructor(status: number, reason: string, message: string, retryAfterSeconds?: number) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.reason = reason;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

/** Turn whatever the client threw (ApiException, fetch errors) into an ApiError. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  const x = e as { code?: unknown; statusCode?: unknown; body?: unknown; headers?: Record<string, string>; message?: string };
  const status = typeof x?.code === 'number' ? x.code : typeof x?.statusCode === 'number' ? x.statusCode : 0;
  let reason = status === 0 ? 'Unreachable' : 'Unknown';
  let message = x?.message ?? String(e);
  const body = typeof x?.body === 'string' ? safeJson(x.body) : x?.body;
  if (body && typeof body === 'object') {
    const b = body as { reason?: string; message?: string };
    if (b.reason) reason = b.reason;
    if (b.message) message = b.message;
  }
  const retryAfter = x?.headers?.['retry-after'];
  const seconds = retryAfter !== undefined && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
  return new ApiError(status, reason, message.split('\n')[0]!, seconds);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function call<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    throw toApiError(e);
  }
}

function microTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000Z');
}

/** The ClusterPort of a real API server, through @kubernetes/client-node. */
export class KubeClusterPort implements ClusterPort {
  private readonly kc: KubeConfig;
  private readonly autoscaling: AutoscalingV2Api;
  private readonly coordination: CoordinationV1Api;
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;

  constructor(kc: KubeConfig) {
    this.kc = kc;
    this.autoscaling = kc.makeApiClient(AutoscalingV2Api);
    this.coordination = kc.makeApiClient(CoordinationV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  listHpas(namespace: string | undefined, labelSelector: string): Promise<HpaObject[]> {
    return call(async () => {
      const list = namespace === undefined
        ? await this.autoscaling.listHorizontalPodAutoscalerForAllNamespaces({ labelSelector })
        : await this.autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace, labelSelector });
      return list.items as unknown as HpaObject[];
    });
  }

  getHpa(namespace: string, name: string): Promise<HpaObject> {
    return call(async () => (await this.autoscaling.readNamespacedHorizontalPodAutoscaler({ namespace, name })) as unknown as HpaObject);
  }

  patchHpa(namespace: string, name: string, change: HpaChange, mode: PatchMode): Promise<HpaObject> {
    return call(async () => {
      if (mode === 'apply') {
        // Server-side apply: only the fields karma-hpa owns; force takes them over from the Git sync.
        const annotations = Object.fromEntries(Object.entries(change.annotations).filter(([, v]) => v !== null)) as Record<string, string>;
        const body = {
          apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler',
          metadata: { name, namespace, annotations },
          spec: { minReplicas: change.minReplicas, maxReplicas: change.maxReplicas },
        };
        return (await this.autoscaling.patchNamespacedHorizontalPodAutoscaler(
          { namespace, name, body, fieldManager: FIELD_MANAGER, force: true },
          setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
        )) as unknown as HpaObject;
      }
      const body = {
        metadata: { ...(change.resourceVersion ? { resourceVersion: change.resourceVersion } : {}), annotations: change.annotations },
        spec: { minReplicas: change.minReplicas, maxReplicas: change.maxReplicas },
      };
      return (await this.autoscaling.patchNamespacedHorizontalPodAutoscaler(
        { namespace, name, body, fieldManager: FIELD_MANAGER },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      )) as unknown as HpaObject;
    });
  }

  listPods(namespace: string, labelSelector: string): Promise<PodObject[]> {
    return call(async () => (await this.core.listNamespacedPod({ namespace, labelSelector })).items as unknown as PodObject[]);
  }

  listPodMetrics(namespace: string, labelSelector: string): Promise<PodMetricsObject[]> {
    return call(async () => {
      const list = (await this.custom.listNamespacedCustomObject({ group: 'metrics.k8s.io', version: 'v1beta1', namespace, plural: 'pods', labelSelector })) as { items?: PodMetricsObject[] };
      return list.items ?? [];
    });
  }

  createEvent(event: HpaEvent): Promise<void> {
    return call(async () => {
      const time = new Date(event.timeMs).toISOString();
      await this.core.createNamespacedEvent({
        namespace: event.namespace,
        body: {
          metadata: { generateName: `${event.hpaName}.`, namespace: event.namespace },
          involvedObject: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: event.hpaName, namespace: event.namespace, uid: event.hpaUid },
          type: event.type,
          reason: event.reason,
          action: event.action,
          message: event.message,
          source: { component: 'karma-hpa-sidecar' },
          reportingComponent: 'karma-hpa.io/sidecar',
          reportingInstance: event.reportingInstance,
          firstTimestamp: time as unknown as Date,
          lastTimestamp: time as unknown as Date,
          eventTime: microTime(event.timeMs) as unknown as Date,
          count: 1,
        },
      });
    });
  }

  async getLease(namespace: string, name: string): Promise<LeaseObject | undefined> {
    try {
      return (await this.coordination.readNamespacedLease({ namespace, name })) as unknown as LeaseObject;
    } catch (e) {
      const err = toApiError(e);
      if (err.status === 404) return undefined;
      throw err;
    }
  }

  createLease(namespace: string, name: string, spec: LeaseRecord): Promise<LeaseObject> {
    return call(async () => (await this.coordination.createNamespacedLease({
      namespace,
      body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: spec as never },
    })) as unknown as LeaseObject);
  }

  replaceLease(lease: LeaseObject): Promise<LeaseObject> {
    return call(async () => (await this.coordination.replaceNamespacedLease({
      namespace: lease.metadata.namespace!, name: lease.metadata.name, body: lease as never,
    })) as unknown as LeaseObject);
  }

  listBundles(namespace: string | undefined): Promise<{ items: unknown[]; resourceVersion: string }> {
    return call(async () => {
      const list = (namespace === undefined
        ? await this.custom.listClusterCustomObject({ group: 'karma-hpa.io', version: 'v1alpha1', plural: 'policybundles' })
        : await this.custom.listNamespacedCustomObject({ group: 'karma-hpa.io', version: 'v1alpha1', namespace, plural: 'policybundles' })) as { items?: unknown[]; metadata?: { resourceVersion?: string } };
      return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '' };
    });
  }

  async watchBundles(namespace: string | undefined, resourceVersion: string, onEvent: (type: WatchEventType, object: unknown) => void,
    onDone: (err: unknown) => void): Promise<{ stop: () => void }> {
    const path = namespace === undefined
      ? '/apis/karma-hpa.io/v1alpha1/policybundles'
      : `/apis/karma-hpa.io/v1alpha1/namespaces/${namespace}/policybundles`;
    const watch = new Watch(this.kc);
    // Ask for bookmarks so a quiet stream still advances our resume point.
    const controller = await watch.watch(path, { resourceVersion, allowWatchBookmarks: true },
      (type: string, object: unknown) => onEvent(type as WatchEventType, object), onDone);
    return { stop: () => controller.abort() };
  }
}
