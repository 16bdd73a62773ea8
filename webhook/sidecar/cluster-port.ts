/**
 * Everything the sidecar asks of the Kubernetes API, as one small interface. KubeClusterPort implements
 * it with @kubernetes/client-node; tests and benchmarks may pass an in-process implementation.
 * Failures arrive as ApiError (HTTP status, Retry-After, the API's Status message) whatever the transport.
 */
import {
  AutoscalingV2Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, EventsV1Api, KubeConfig, PatchStrategy, V1MicroTime, Watch, setHeaderOptions,
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

/** The Event `action`s the sidecar reports (what it did about the HPA). */
export const EVENT_ACTIONS = ['Scale', 'Keep', 'Hold', 'Pause', 'Fallback', 'Shadow'] as const;
export type EventAction = typeof EVENT_ACTIONS[number];

/** An Event about an HPA (events.k8s.io/v1; core/v1 where that is not served): what `kubectl describe hpa` lists. */
export interface HpaEvent {
  namespace: string;
  hpaName: string;
  hpaUid?: string;
  type: 'Normal' | 'Warning';
  reason: 'KarmaDecision' | 'KarmaFallback';
  action: EventAction;
  /** The decision in words (at most 1 KiB). */
  note: string;
  timeMs: number;
  reportingInstance: string;
}

/** Who reports the sidecar's Events (events.k8s.io/v1 `reportingController`). */
export const REPORTING_CONTROLLER = 'karma-hpa.io/sidecar';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface ClusterPort {
  listHpas(namespace: string | undefined, labelSelector: string): Promise<HpaObject[]>;
  getHpa(namespace: string, name: string): Promise<HpaObject>;
  patchHpa(namespace: string, name: string, change: HpaChange, strategy: PatchMode): Promise<HpaObject>;
  listPods(namespace: string, labelSelector: string): Promise<PodObject[]>;
  listPodMetrics(namespace: string, labelSelector: string): Promise<PodMetricsObject[]>;
  createEvent(event: HpaEvent): Promise<void>;
  /** JSON merge patch of a PolicyBundle's `status` through its `/status` subresource; returns the new resourceVersion. */
  patchBundleStatus(namespace: string, name: string, status: Record<string, unknown>): Promise<{ resourceVersion?: string }>;
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


/** The ClusterPort of a real API server, through @kubernetes/client-node. */
export class KubeClusterPort implements ClusterPort {
  private readonly kc: KubeConfig;
  private readonly autoscaling: AutoscalingV2Api;
  private readonly coordination: CoordinationV1Api;
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly events: EventsV1Api;
  /** Set once the API answered 404 for events.k8s.io/v1 and core/v1 worked instead (very old clusters). */
  private coreEventsOnly = false;

  constructor(kc: KubeConfig) {
    this.kc = kc;
    this.autoscaling = kc.makeApiClient(AutoscalingV2Api);
    this.coordination = kc.makeApiClient(CoordinationV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.events = kc.makeApiClient(EventsV1Api);
  }

  /** Whether Events go to core/v1 because this cluster does not serve events.k8s.io/v1. */
  get eventsApi(): 'events.k8s.io/v1' | 'v1' {
    return this.coreEventsOnly ? 'v1' : 'events.k8s.io/v1';
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

  async createEvent(event: HpaEvent): Promise<void> {
    if (!this.coreEventsOnly) {
      try {
        await this.createEventV1(event);
        return;
      } catch (e) {
        const err = toApiError(e);
        if (err.status !== 404) throw err;
        // 404 is either an API server without events.k8s.io/v1 or a missing namespace: core/v1 tells which.
        await this.createCoreEvent(event);
        this.coreEventsOnly = true;
        return;
      }
    }
    await this.createCoreEvent(event);
  }

  private createEventV1(event: HpaEvent): Promise<unknown> {
    return this.events.createNamespacedEvent({
      namespace: event.namespace,
      body: {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { generateName: `${event.hpaName}.`, namespace: event.namespace },
        regarding: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: event.hpaName, namespace: event.namespace, uid: event.hpaUid },
        reportingController: REPORTING_CONTROLLER,
        reportingInstance: event.reportingInstance,
        action: event.action,
        reason: event.reason,
        note: event.note,
        type: event.type,
        // MicroTime: six fractional digits, which the API server requires.
        eventTime: new V1MicroTime(event.timeMs),
      },
    });
  }

  private createCoreEvent(event: HpaEvent): Promise<void> {
    return call(async () => {
      const time = new Date(event.timeMs);
      await this.core.createNamespacedEvent({
        namespace: event.namespace,
        body: {
          metadata: { generateName: `${event.hpaName}.`, namespace: event.namespace },
          involvedObject: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: event.hpaName, namespace: event.namespace, uid: event.hpaUid },
          type: event.type,
          reason: event.reason,
          action: event.action,
          message: event.note,
          source: { component: REPORTING_CONTROLLER },
          reportingComponent: REPORTING_CONTROLLER,
          reportingInstance: event.reportingInstance,
          firstTimestamp: time,
          lastTimestamp: time,
          eventTime: new V1MicroTime(event.timeMs),
          count: 1,
        },
      });
    });
  }

  patchBundleStatus(namespace: string, name: string, status: Record<string, unknown>): Promise<{ resourceVersion?: string }> {
    return call(async () => {
      const written = (await this.custom.patchNamespacedCustomObjectStatus(
        { group: 'karma-hpa.io', version: 'v1alpha1', namespace, plural: 'policybundles', name, body: { status }, fieldManager: FIELD_MANAGER },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      )) as { metadata?: { resourceVersion?: string } };
      return { resourceVersion: written?.metadata?.resourceVersion };
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
