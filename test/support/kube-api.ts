/**
 * A local HTTPS server on 127.0.0.1 that speaks enough of the Kubernetes REST API for the sidecar and the
 * webhook to be tested against real HTTP: HPAs (autoscaling/v2), Leases, Events (events.k8s.io/v1 and core
 * v1), Pods, PodMetrics (metrics.k8s.io/v1beta1) and PolicyBundles (karma-hpa.io/v1alpha1) with get / list /
 * create / replace / patch (merge, strategic, JSON patch, server-side apply) / delete / watch. Objects and
 * error bodies are shaped as the API server returns them (metadata.resourceVersion/uid/creationTimestamp;
 * `Status` for 404, 409, 410, 422, 429, 500). PolicyBundles have a `/status` subresource with the API
 * server's semantics, and events.k8s.io/v1 Events are validated as on create. Faults can be injected for
 * the next N requests or while a condition holds, open watches can be cut to exercise reconnects, and a
 * group version can be withdrawn (`unserve`) to play an older cluster.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { KubeConfig } from '@kubernetes/client-node';
import { createTestPki, type TestPki } from './tls.ts';

export type KubeObject = {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    generateName?: string;
    managedFields?: unknown[];
    [k: string]: unknown;
  };
  [k: string]: unknown;
};

/** A resource type the server knows: where it lives in the URL space and what its objects are called. */
interface ResourceType {
  /** `/api/v1` or `/apis/<group>/<version>`. */
  prefix: string;
  plural: string;
  kind: string;
  group: string;
  namespaced: boolean;
  /** Served with a `/status` subresource: writes there change only `status`, writes to the object ignore it. */
  statusSubresource?: boolean;
  validate?: (obj: KubeObject) => string[];
}

const hpaValidation = (obj: KubeObject): string[] => {
  const spec = (obj.spec ?? {}) as { minReplicas?: number; maxReplicas?: number };
  const causes: string[] = [];
  if (!Number.isInteger(spec.maxReplicas) || (spec.maxReplicas ?? 0) < 1) causes.push('spec.maxReplicas: Invalid value: must be greater than or equal to 1');
  if (spec.minReplicas !== undefined && (!Number.isInteger(spec.minReplicas) || spec.minReplicas < 1)) causes.push('spec.minReplicas: Invalid value: must be greater than or equal to 1');
  if (spec.minReplicas !== undefined && spec.maxReplicas !== undefined && spec.minReplicas > spec.maxReplicas) {
    causes.push(`spec.maxReplicas: Invalid value: ${spec.maxReplicas}: must be greater than or equal to \`minReplicas\``);
  }
  return causes;
};

const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** What the API server checks when an events.k8s.io/v1 Event is created (validateEventCreate). */
const eventsV1Validation = (obj: KubeObject): string[] => {
  const e = obj as KubeObject & { eventTime?: unknown; reportingController?: string; reportingInstance?: string; action?: string; reason?: string; note?: string; type?: string;
    regarding?: { namespace?: string }; deprecatedFirstTimestamp?: unknown; deprecatedLastTimestamp?: unknown; deprecatedCount?: number; deprecatedSource?: { component?: string; host?: string } };
  const causes: string[] = [];
  const required = (field: string, v: unknown) => {
    if (v === undefined || v === null || v === '') causes.push(`${field}: Required value`);
  };
  required('eventTime', e.eventTime);
  // The API server parses eventTime as RFC 3339 with exactly six fractional digits (metav1.MicroTime).
  if (typeof e.eventTime === 'string' && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/.test(e.eventTime)) {
    causes.push(`eventTime: Invalid value: "${e.eventTime}": parsing time as "2006-01-02T15:04:05.000000Z07:00"`);
  }
  required('reportingController', e.reportingController);
  if (e.reportingController && !QUALIFIED_NAME.test(e.reportingController)) causes.push(`reportingController: Invalid value: "${e.reportingController}": must be a qualified name`);
  for (const field of ['reportingInstance', 'action', 'reason'] as const) {
    required(field, e[field]);
    if ((e[field]?.length ?? 0) > 128) causes.push(`${field}: Too long: may not be longer than 128`);
  }
  if (e.type !== 'Normal' && e.type !== 'Warning') causes.push(`type: Invalid value: "${e.type ?? ''}": has invalid value`);
  if (Buffer.byteLength(e.note ?? '') > 1024) causes.push('note: Too long: may not be longer than 1024');
  if (e.regarding?.namespace && e.regarding.namespace !== obj.metadata.namespace) causes.push('regarding.namespace: Invalid value: does not match event.namespace');
  if (e.deprecatedFirstTimestamp || e.deprecatedLastTimestamp) causes.push('deprecatedFirstTimestamp: Invalid value: needs to be unset');
  if (e.deprecatedCount) causes.push('deprecatedCount: Invalid value: needs to be unset');
  if (e.deprecatedSource?.component || e.deprecatedSource?.host) causes.push('deprecatedSource: Invalid value: needs to be unset');
  return causes;
};

const RESOURCE_TYPES: ResourceType[] = [
  { prefix: '/apis/autoscaling/v2', plural: 'horizontalpodautoscalers', kind: 'HorizontalPodAutoscaler', group: 'autoscaling', namespaced: true, validate: hpaValidation },
  { prefix: '/apis/coordination.k8s.io/v1', plural: 'leases', kind: 'Lease', group: 'coordination.k8s.io', namespaced: true },
  { prefix: '/apis/events.k8s.io/v1', plural: 'events', kind: 'Event', group: 'events.k8s.io', namespaced: true, validate: eventsV1Validation },
  { prefix: '/api/v1', plural: 'events', kind: 'Event', group: '', namespaced: true },
  { prefix: '/api/v1', plural: 'pods', kind: 'Pod', group: '', namespaced: true },
  { prefix: '/apis/metrics.k8s.io/v1beta1', plural: 'pods', kind: 'PodMetrics', group: 'metrics.k8s.io', namespaced: true },
  { prefix: '/apis/karma-hpa.io/v1alpha1', plural: 'policybundles', kind: 'PolicyBundle', group: 'karma-hpa.io', namespaced: true, statusSubresource: true },
  { prefix: '/apis/apps/v1', plural: 'deployments', kind: 'Deployment', group: 'apps', namespaced: true },
  { prefix: '/api/v1', plural: 'namespaces', kind: 'Namespace', group: '', namespaced: false },
  { prefix: '/apis/apiextensions.k8s.io/v1', plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition', group: 'apiextensions.k8s.io', namespaced: false },
  { prefix: '/apis/admissionregistration.k8s.io/v1', plural: 'validatingwebhookconfigurations', kind: 'ValidatingWebhookConfiguration', group: 'admissionregistration.k8s.io', namespaced: false },
  { prefix: '/apis/admissionregistration.k8s.io/v1', plural: 'mutatingwebhookconfigurations', kind: 'MutatingWebhookConfiguration', group: 'admissionregistration.k8s.io', namespaced: false },
];

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  status: number;
  body: unknown;
}

export interface Fault {
  status: 429 | 500 | 502 | 503 | 504 | 409;
  /** For 429: the Retry-After header in seconds. */
  retryAfterSeconds?: number;
  /** Which requests fail (default: all but watches). */
  match?: (req: { method: string; path: string }) => boolean;
  /** Fail this many matching requests, then stop (default: unlimited while `while` holds). */
  count?: number;
  /** Fail while this returns true (e.g. a window on an injected clock). */
  while?: () => boolean;
}

interface WatchEvent { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: KubeObject; rv: number; key: string }

interface OpenWatch { type: ResourceType; namespace: string | undefined; res: ServerResponse; selector: LabelSelector }

type LabelSelector = (labels: Record<string, string> | undefined) => boolean;

export class KubeApiServer {
  readonly url: string;
  readonly caPem: string;
  readonly requests: RecordedRequest[] = [];
  private readonly server: Server;
  private readonly pki: TestPki;
  private readonly store = new Map<string, KubeObject>();
  private readonly history: WatchEvent[] = [];
  private readonly watches = new Set<OpenWatch>();
  private faults: Fault[] = [];
  /** API group versions answered with 404, as on a cluster that does not serve them. */
  private readonly unserved = new Set<string>();
  private revision = 100;
  /** Watches asking to resume from a resourceVersion below this get 410 Gone. */
  private compactedBelow = 0;
  private readonly now: () => number;

  private constructor(server: Server, url: string, pki: TestPki, now: () => number) {
    this.server = server;
    this.url = url;
    this.caPem = pki.caPem;
    this.pki = pki;
    this.now = now;
  }

  /** Start on a free loopback port. `now` stamps creationTimestamp and Event times (defaults to the wall clock). */
  static async start(opts: { now?: () => number } = {}): Promise<KubeApiServer> {
    const pki = createTestPki('kube-api test CA');
    const tls = pki.issue('kube-apiserver');
    const server = createServer({ key: tls.keyPem, cert: tls.certPem });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('kube-api: no port');
    const instance = new KubeApiServer(server, `https://127.0.0.1:${addr.port}`, pki, opts.now ?? (() => Date.now()));
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void instance.handle(req, res));
    return instance;
  }

  /** A kubeconfig (YAML) that points at this server and trusts its CA. */
  kubeconfigYaml(namespace = 'default'): string {
    return toYaml({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'local', cluster: { server: this.url, 'certificate-authority-data': Buffer.from(this.caPem).toString('base64') } }],
      users: [{ name: 'local', user: { token: 'local-test-token' } }],
      contexts: [{ name: 'local', context: { cluster: 'local', user: 'local', namespace } }],
      'current-context': 'local',
    });
  }

  /** Write the kubeconfig to a file (for the CLI's --kubeconfig) and return its path. */
  writeKubeconfig(namespace = 'default'): string {
    const file = join(this.pki.dir, 'kubeconfig.yaml');
    writeFileSync(file, this.kubeconfigYaml(namespace));
    return file;
  }

  kubeConfig(namespace = 'default'): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromString(this.kubeconfigYaml(namespace));
    return kc;
  }

  async close(): Promise<void> {
    this.disconnectWatches();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.pki.cleanup();
  }

  // ---- seeding and inspection (bypass HTTP, but bump resourceVersion and notify watches like a write) ----

  /** Create or overwrite an object, e.g. `put('/apis/autoscaling/v2', 'horizontalpodautoscalers', hpa)`. */
  put(prefix: string, plural: string, obj: KubeObject): KubeObject {
    const type = this.typeOf(prefix, plural);
    const ns = type.namespaced ? obj.metadata.namespace ?? 'default' : '';
    const key = keyOf(type, ns, obj.metadata.name);
    const existing = this.store.get(key);
    const stored = this.stamp(type, structuredClone(obj), ns, existing);
    this.store.set(key, stored);
    this.record(existing ? 'MODIFIED' : 'ADDED', key, stored);
    return structuredClone(stored);
  }

  get(prefix: string, plural: string, namespace: string, name: string): KubeObject | undefined {
    const obj = this.store.get(keyOf(this.typeOf(prefix, plural), namespace, name));
    return obj ? structuredClone(obj) : undefined;
  }

  list(prefix: string, plural: string, namespace?: string): KubeObject[] {
    const type = this.typeOf(prefix, plural);
    return [...this.store.entries()]
      .filter(([k]) => k.startsWith(`${type.prefix}/${type.plural}|${namespace ?? ''}`))
      .map(([, o]) => structuredClone(o));
  }

  remove(prefix: string, plural: string, namespace: string, name: string): void {
    const type = this.typeOf(prefix, plural);
    const key = keyOf(type, namespace, name);
    const existing = this.store.get(key);
    if (!existing) return;
    this.store.delete(key);
    this.record('DELETED', key, { ...existing, metadata: { ...existing.metadata, resourceVersion: String(++this.revision) } });
  }

  /** Make the following matching requests fail (see Fault). Faults are checked in the order added. */
  injectFault(fault: Fault): void {
    this.faults.push({ ...fault });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** Stop serving a group version (e.g. `/apis/events.k8s.io/v1`): its paths answer 404, as on an old cluster. */
  unserve(prefix: string): void {
    this.unserved.add(prefix);
  }

  /** Close every open watch stream, as an API server restart or a load balancer timeout would. */
  disconnectWatches(): void {
    for (const w of this.watches) w.res.end();
    this.watches.clear();
  }

  /** Forget history older than now: a watch resuming from an earlier resourceVersion gets 410 Gone. */
  compactHistory(): void {
    this.compactedBelow = this.revision;
    this.history.length = 0;
  }

  openWatchCount(): number {
    return this.watches.size;
  }

  /** Requests that reached the server (faulted ones included), filtered by method and a path fragment. */
  requestsTo(method: string, pathFragment: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path.includes(pathFragment));
  }

  // ---- HTTP ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const query = Object.fromEntries(url.searchParams.entries());
    const method = req.method ?? 'GET';
    const raw = await readBody(req);
    const contentType = req.headers['content-type']?.split(';')[0]?.trim();
    const entry: RecordedRequest = { method, path: url.pathname, query, contentType, status: 0, body: undefined };
    this.requests.push(entry);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      entry.status = status;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    try {
      let parsedBody: unknown;
      if (raw.length > 0) {
        parsedBody = contentType === 'application/apply-patch+yaml' ? parseYaml(raw) : JSON.parse(raw);
      }
      entry.body = parsedBody;
      const route = this.route(url.pathname);
      const isWatch = method === 'GET' && (query.watch === '1' || query.watch === 'true');
      const fault = isWatch ? undefined : this.takeFault(method, url.pathname);
      if (fault) {
        const headers: Record<string, string> = fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
        const reason = fault.status === 429 ? 'TooManyRequests' : fault.status === 409 ? 'Conflict' : fault.status === 500 ? 'InternalError' : 'ServiceUnavailable';
        send(fault.status, statusBody(fault.status, reason, `injected fault: ${reason}`), headers);
        return;
      }
      if (!route) {
        send(404, statusBody(404, 'NotFound', 'the server could not find the requested resource'));
        return;
      }
      const { type, namespace, name } = route;
      if (isWatch && !route.status) {
        this.openWatch(type, namespace, query, res, entry);
        return;
      }
      const result = route.status
        ? this.serveStatus(method, type, namespace!, name!, query, contentType, parsedBody)
        : this.serve(method, type, namespace, name, query, contentType, parsedBody);
      send(result.status, result.body);
    } catch (e) {
      send(400, statusBody(400, 'BadRequest', `malformed request: ${(e as Error).message}`));
    }
  }

  private takeFault(method: string, path: string): Fault | undefined {
    for (const f of this.faults) {
      if (f.match && !f.match({ method, path })) continue;
      if (f.while && !f.while()) continue;
      if (f.count !== undefined) {
        if (f.count <= 0) continue;
        f.count--;
      }
      return f;
    }
    return undefined;
  }

  private route(path: string): { type: ResourceType; namespace: string | undefined; name: string | undefined; status?: boolean } | undefined {
    for (const type of RESOURCE_TYPES) {
      if (!path.startsWith(`${type.prefix}/`) || this.unserved.has(type.prefix)) continue;
      const rest = path.slice(type.prefix.length + 1).split('/');
      if (type.namespaced && rest[0] === 'namespaces' && rest[2] === type.plural && rest.length <= 4) return { type, namespace: rest[1], name: rest[3] };
      if (type.namespaced && type.statusSubresource && rest[0] === 'namespaces' && rest[2] === type.plural && rest.length === 5 && rest[3] && rest[4] === 'status') {
        return { type, namespace: rest[1], name: rest[3], status: true };
      }
      if (type.namespaced && rest[0] === type.plural && rest.length === 1) return { type, namespace: undefined, name: undefined };
      // Cluster-scoped objects live under the empty namespace.
      if (!type.namespaced && rest[0] === type.plural && rest.length <= 2) return { type, namespace: '', name: rest[1] };
    }
    return undefined;
  }

  private serve(method: string, type: ResourceType, ns: string | undefined, name: string | undefined, query: Record<string, string>,
    contentType: string | undefined, body: unknown): { status: number; body: unknown } {
    const resourceName = `${type.plural}${type.group ? `.${type.group}` : ''}`;
    const notFound = (n: string) => ({ status: 404, body: statusBody(404, 'NotFound', `${resourceName} "${n}" not found`, { name: n, group: type.group, kind: type.plural }) });
    if (method === 'GET' && name === undefined) {
      const selector = parseLabelSelector(query.labelSelector);
      const fields = parseFieldSelector(query.fieldSelector);
      const items = [...this.store.entries()]
        .filter(([k]) => k.startsWith(`${type.prefix}/${type.plural}|${ns === undefined ? '' : `${ns}|`}`))
        .map(([, o]) => o)
        .filter((o) => selector(o.metadata.labels) && fields(o))
        // PodMetrics without a timestamp are "fresh": stamped with the server's clock, as metrics-server keeps them current.
        .map((o) => (type.kind === 'PodMetrics' && o.timestamp === undefined ? { ...o, timestamp: new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z') } : o));
      return { status: 200, body: { kind: `${type.kind}List`, apiVersion: apiVersionOf(type), metadata: { resourceVersion: String(this.revision) }, items } };
    }
    if (ns === undefined) return { status: 405, body: statusBody(405, 'MethodNotAllowed', 'namespace required') };
    if (method === 'POST' && name === undefined) {
      const obj = body as KubeObject;
      if (!obj?.metadata?.name && obj?.metadata?.generateName) obj.metadata.name = `${obj.metadata.generateName}${randomUUID().slice(0, 5)}`;
      if (!obj?.metadata?.name) return { status: 422, body: statusBody(422, 'Invalid', `${type.kind} is invalid: metadata.name: Required value`) };
      // With a status subresource, status is not set on create.
      if (type.statusSubresource) delete obj.status;
      const key = keyOf(type, ns, obj.metadata.name);
      if (this.store.has(key)) {
        return { status: 409, body: statusBody(409, 'AlreadyExists', `${resourceName} "${obj.metadata.name}" already exists`, { name: obj.metadata.name, group: type.group, kind: type.plural }) };
      }
      return this.write(type, ns, key, undefined, obj, 201);
    }
    if (name === undefined) return { status: 405, body: statusBody(405, 'MethodNotAllowed', `${method} needs a name`) };
    const key = keyOf(type, ns, name);
    const existing = this.store.get(key);
    switch (method) {
      case 'GET':
        return existing ? { status: 200, body: existing } : notFound(name);
      case 'DELETE':
        if (!existing) return notFound(name);
        this.remove(type.prefix, type.plural, ns, name);
        if (type.kind === 'Namespace') {
          for (const k of [...this.store.keys()]) {
            const t = RESOURCE_TYPES.find((r) => k.startsWith(`${r.prefix}/${r.plural}|${name}|`));
            if (t) this.remove(t.prefix, t.plural, name, k.split('|')[2]!);
          }
        }
        return { status: 200, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: type.group, kind: type.plural, uid: existing.metadata.uid } } };
      case 'PUT': {
        if (!existing) return notFound(name);
        const obj = body as KubeObject;
        const rv = obj?.metadata?.resourceVersion;
        if (rv === undefined || rv === '') return { status: 422, body: statusBody(422, 'Invalid', `${type.kind}.${type.group} "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`) };
        if (rv !== existing.metadata.resourceVersion) return conflict(resourceName, name);
        return this.write(type, ns, key, existing, withStatusOf(type, obj, existing), 200);
      }
      case 'PATCH': {
        let next: KubeObject;
        if (contentType === 'application/apply-patch+yaml') {
          if (!query.fieldManager) return { status: 400, body: statusBody(400, 'BadRequest', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch') };
          const applied = body as KubeObject;
          const rv = applied?.metadata?.resourceVersion;
          if (existing && rv !== undefined && rv !== existing.metadata.resourceVersion) return conflict(resourceName, name);
          next = mergePatch(existing ?? { apiVersion: apiVersionOf(type), kind: type.kind, metadata: { name, namespace: ns } }, applied) as KubeObject;
          const managers = new Set([...(existing?.metadata.managedFields ?? []) as { manager: string }[]].map((m) => m.manager));
          managers.add(query.fieldManager);
          next.metadata.managedFields = [...managers].sort().map((manager) => ({ manager, operation: manager === query.fieldManager ? 'Apply' : 'Update', apiVersion: apiVersionOf(type) }));
        } else {
          if (!existing) return notFound(name);
          if (contentType === 'application/json-patch+json') {
            const applied = applyJsonPatch(existing, body as JsonPatchOp[]);
            if (typeof applied === 'string') return { status: 422, body: statusBody(422, 'Invalid', applied) };
            next = applied;
          } else if (contentType === 'application/merge-patch+json' || contentType === 'application/strategic-merge-patch+json') {
            next = mergePatch(existing, body) as KubeObject;
          } else {
            return { status: 415, body: statusBody(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, got ${contentType}`) };
          }
          const rv = next.metadata?.resourceVersion;
          if (rv !== undefined && rv !== existing.metadata.resourceVersion) return conflict(resourceName, name);
        }
        return this.write(type, ns, key, existing, withStatusOf(type, next, existing), existing ? 200 : 201);
      }
      default:
        return { status: 405, body: statusBody(405, 'MethodNotAllowed', `${method} is not supported`) };
    }
  }

  /**
   * `.../{name}/status`: GET returns the object; PUT and PATCH change only its status (everything else
   * in the body is ignored), with the same resourceVersion precondition as the object itself.
   */
  private serveStatus(method: string, type: ResourceType, ns: string, name: string, query: Record<string, string>,
    contentType: string | undefined, body: unknown): { status: number; body: unknown } {
    const resourceName = `${type.plural}${type.group ? `.${type.group}` : ''}`;
    const key = keyOf(type, ns, name);
    const existing = this.store.get(key);
    if (!existing) return { status: 404, body: statusBody(404, 'NotFound', `${resourceName} "${name}" not found`, { name, group: type.group, kind: type.plural }) };
    if (method === 'GET') return { status: 200, body: existing };
    if (method !== 'PUT' && method !== 'PATCH') return { status: 405, body: statusBody(405, 'MethodNotAllowed', `${method} is not supported on the status subresource`) };
    let next: KubeObject;
    if (method === 'PUT') {
      const rv = (body as KubeObject | undefined)?.metadata?.resourceVersion;
      if (rv === undefined || rv === '') return { status: 422, body: statusBody(422, 'Invalid', `${type.kind}.${type.group} "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`) };
      next = body as KubeObject;
    } else if (contentType === 'application/json-patch+json') {
      const applied = applyJsonPatch(existing, body as JsonPatchOp[]);
      if (typeof applied === 'string') return { status: 422, body: statusBody(422, 'Invalid', applied) };
      next = applied;
    } else if (contentType === 'application/merge-patch+json' || contentType === 'application/strategic-merge-patch+json' || contentType === 'application/apply-patch+yaml') {
      if (contentType === 'application/apply-patch+yaml' && !query.fieldManager) {
        return { status: 400, body: statusBody(400, 'BadRequest', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch') };
      }
      next = mergePatch(existing, body) as KubeObject;
    } else {
      return { status: 415, body: statusBody(415, 'UnsupportedMediaType', `the body of the request was in an unknown format: ${contentType}`) };
    }
    const rv = next?.metadata?.resourceVersion;
    if (rv !== undefined && rv !== existing.metadata.resourceVersion) return conflict(resourceName, name);
    const updated: KubeObject = structuredClone(existing);
    if (next?.status === undefined) delete updated.status;
    else updated.status = structuredClone(next.status);
    return this.write(type, ns, key, existing, updated, 200);
  }

  private write(type: ResourceType, ns: string, key: string, existing: KubeObject | undefined, obj: KubeObject, status: number): { status: number; body: unknown } {
    const candidate = structuredClone(obj);
    // The namespace comes from the URL, before validation looks at it.
    if (type.namespaced) candidate.metadata.namespace = ns;
    const causes = type.validate?.(candidate) ?? [];
    if (causes.length > 0) {
      return {
        status: 422,
        body: {
          ...statusBody(422, 'Invalid', `${type.kind}.${type.group} "${candidate.metadata.name}" is invalid: ${causes.join(', ')}`, { name: candidate.metadata.name, group: type.group, kind: type.kind }),
          details: { name: candidate.metadata.name, group: type.group, kind: type.kind, causes: causes.map((c) => ({ reason: 'FieldValueInvalid', message: c, field: c.split(':')[0] })) },
        },
      };
    }
    const stored = this.stamp(type, candidate, ns, existing);
    this.store.set(key, stored);
    this.record(existing ? 'MODIFIED' : 'ADDED', key, stored);
    this.control(type, stored);
    return { status, body: structuredClone(this.store.get(key) ?? stored) };
  }

  /**
   * The little the cluster's controllers would do for the kinds tests create: a Deployment gets ready
   * pods (with fresh pod metrics) and a ready status, a CRD becomes Established, deleting a Namespace
   * deletes what is in it.
   */
  private control(type: ResourceType, obj: KubeObject): void {
    const ns = obj.metadata.namespace ?? '';
    if (type.kind === 'Deployment') {
      const spec = obj.spec as { replicas?: number; template?: { metadata?: { labels?: Record<string, string> }; spec?: { containers?: { resources?: { requests?: { cpu?: string } } }[] } } };
      const labels = spec.template?.metadata?.labels ?? {};
      const replicas = spec.replicas ?? 1;
      const cpuRequest = spec.template?.spec?.containers?.[0]?.resources?.requests?.cpu ?? '100m';
      for (let i = 0; i < replicas; i++) {
        const name = `${obj.metadata.name}-${i}`;
        const pod = podObject({ name, namespace: ns, app: labels.app ?? obj.metadata.name, cpuRequest });
        pod.metadata.labels = { ...labels };
        this.put(CORE_API, 'pods', pod);
        const metrics = podMetricsObject({ name, namespace: ns, app: labels.app ?? obj.metadata.name, cpu: '1m' });
        metrics.metadata.labels = { ...labels };
        this.put(METRICS_API, 'pods', metrics);
      }
      const key = keyOf(type, ns, obj.metadata.name);
      this.store.set(key, { ...obj, status: { replicas, readyReplicas: replicas, availableReplicas: replicas, observedGeneration: obj.metadata.generation } });
    } else if (type.kind === 'CustomResourceDefinition') {
      this.store.set(keyOf(type, '', obj.metadata.name), { ...obj, status: { conditions: [{ type: 'Established', status: 'True' }, { type: 'NamesAccepted', status: 'True' }] } });
    }
  }

  /** Server-owned metadata: identity and creation time are kept, resourceVersion always advances. */
  private stamp(type: ResourceType, obj: KubeObject, ns: string, existing: KubeObject | undefined): KubeObject {
    obj.apiVersion = apiVersionOf(type);
    obj.kind = type.kind;
    const specChanged = existing === undefined || JSON.stringify(existing.spec) !== JSON.stringify(obj.spec);
    obj.metadata = {
      ...obj.metadata,
      ...(type.namespaced ? { namespace: ns } : {}),
      uid: existing?.metadata.uid ?? randomUUID(),
      creationTimestamp: existing?.metadata.creationTimestamp ?? new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      resourceVersion: String(++this.revision),
      generation: (existing?.metadata.generation ?? 0) + (specChanged ? 1 : 0),
    };
    return obj;
  }

  private record(type: WatchEvent['type'], key: string, object: KubeObject): void {
    const event: WatchEvent = { type, object: structuredClone(object), rv: Number(object.metadata.resourceVersion), key };
    this.history.push(event);
    for (const w of this.watches) {
      if (!key.startsWith(`${w.type.prefix}/${w.type.plural}|${w.namespace === undefined ? '' : `${w.namespace}|`}`)) continue;
      if (!w.selector(object.metadata.labels)) continue;
      w.res.write(`${JSON.stringify({ type, object })}\n`);
    }
  }

  private openWatch(type: ResourceType, ns: string | undefined, query: Record<string, string>, res: ServerResponse, entry: RecordedRequest): void {
    entry.status = 200;
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    // Headers go out now, as the API server sends them: a client waits for them before it counts the
    // watch as open, and a quiet resource may send no event for a long time.
    res.flushHeaders();
    const prefix = `${type.prefix}/${type.plural}|${ns === undefined ? '' : `${ns}|`}`;
    const selector = parseLabelSelector(query.labelSelector);
    const from = query.resourceVersion;
    if (from === undefined || from === '' || from === '0') {
      // No resume point: the current state arrives as ADDED events, then changes.
      for (const [k, o] of this.store) if (k.startsWith(prefix) && selector(o.metadata.labels)) res.write(`${JSON.stringify({ type: 'ADDED', object: o })}\n`);
    } else {
      const rv = Number(from);
      if (!Number.isFinite(rv) || rv < this.compactedBelow) {
        res.write(`${JSON.stringify({ type: 'ERROR', object: statusBody(410, 'Expired', `too old resource version: ${from} (${this.compactedBelow})`) })}\n`);
        res.end();
        return;
      }
      for (const e of this.history) if (e.rv > rv && e.key.startsWith(prefix) && selector(e.object.metadata.labels)) res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
    }
    const w: OpenWatch = { type, namespace: ns, res, selector };
    this.watches.add(w);
    res.on('close', () => this.watches.delete(w));
  }

  private typeOf(prefix: string, plural: string): ResourceType {
    const t = RESOURCE_TYPES.find((r) => r.prefix === prefix && r.plural === plural);
    if (!t) throw new Error(`kube-api: unknown resource ${prefix}/${plural}`);
    return t;
  }
}

/** Writes to an object with a status subresource keep the stored status, whatever the body says. */
function withStatusOf(type: ResourceType, next: KubeObject, existing: KubeObject | undefined): KubeObject {
  if (!type.statusSubresource) return next;
  const out = { ...next };
  if (existing?.status === undefined) delete out.status;
  else out.status = structuredClone(existing.status);
  return out;
}

function keyOf(type: ResourceType, ns: string, name: string): string {
  return `${type.prefix}/${type.plural}|${ns}|${name}`;
}

function apiVersionOf(type: ResourceType): string {
  return type.prefix === '/api/v1' ? 'v1' : type.prefix.slice('/apis/'.length);
}

export function statusBody(code: number, reason: string, message: string, details?: Record<string, unknown>): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

function conflict(resourceName: string, name: string): { status: number; body: unknown } {
  return {
    status: 409,
    body: statusBody(409, 'Conflict', `Operation cannot be fulfilled on ${resourceName} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      { name, group: resourceName.split('.').slice(1).join('.'), kind: resourceName.split('.')[0] }),
  };
}

function parseLabelSelector(raw: string | undefined): LabelSelector {
  if (!raw) return () => true;
  const terms = raw.split(',').map((t) => t.trim()).filter(Boolean).map((t) => {
    const neg = t.includes('!=');
    const [k, v] = t.split(neg ? '!=' : t.includes('==') ? '==' : '=');
    return { k: k!.trim(), v: v?.trim(), neg };
  });
  return (labels) => terms.every(({ k, v, neg }) => {
    const actual = labels?.[k];
    if (v === undefined) return actual !== undefined;
    return neg ? actual !== v : actual === v;
  });
}

/** Equality field selectors (`involvedObject.name=web,type=Warning`) on dotted paths. */
function parseFieldSelector(raw: string | undefined): (obj: KubeObject) => boolean {
  if (!raw) return () => true;
  const terms = raw.split(',').filter(Boolean).map((t) => {
    const neg = t.includes('!=');
    const [path, value] = t.split(neg ? '!=' : t.includes('==') ? '==' : '=');
    return { path: path!.trim().split('.'), value: (value ?? '').trim(), neg };
  });
  return (obj) => terms.every(({ path, value, neg }) => {
    let v: unknown = obj;
    for (const p of path) v = (v as Record<string, unknown> | undefined)?.[p];
    return neg ? String(v ?? '') !== value : String(v ?? '') === value;
  });
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target) ? structuredClone(target as Record<string, unknown>) : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

interface JsonPatchOp { op: 'add' | 'remove' | 'replace' | 'test' | 'move' | 'copy'; path: string; value?: unknown; from?: string }

/** RFC 6902 (add, remove, replace, test); returns a message when an operation cannot apply. */
function applyJsonPatch(doc: KubeObject, ops: JsonPatchOp[]): KubeObject | string {
  const out = structuredClone(doc) as unknown as Record<string, unknown>;
  for (const op of ops) {
    const parts = op.path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop();
    if (last === undefined) return `invalid JSON patch path "${op.path}"`;
    let parent: unknown = out;
    for (const p of parts) {
      parent = (parent as Record<string, unknown>)?.[p];
      if (parent === undefined || parent === null || typeof parent !== 'object') return `jsonpatch ${op.op} operation does not apply: doc is missing path: "${op.path}"`;
    }
    const container = parent as Record<string, unknown>;
    const index = Array.isArray(container) ? (last === '-' ? (container as unknown[]).length : Number(last)) : -1;
    switch (op.op) {
      case 'add':
        if (Array.isArray(container)) (container as unknown[]).splice(index, 0, op.value);
        else container[last] = op.value;
        break;
      case 'replace':
        if (!(last in container)) return `jsonpatch replace operation does not apply: doc is missing key: ${op.path}`;
        container[last] = op.value;
        break;
      case 'remove':
        if (!(last in container)) return `jsonpatch remove operation does not apply: doc is missing key: ${op.path}`;
        if (Array.isArray(container)) (container as unknown[]).splice(index, 1);
        else delete container[last];
        break;
      case 'test':
        if (JSON.stringify(container[last]) !== JSON.stringify(op.value)) return `testing value ${op.path} failed`;
        break;
      default:
        return `jsonpatch operation "${op.op}" is not supported`;
    }
  }
  return out as unknown as KubeObject;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// ---- object builders for tests ----

export const HPA_API = '/apis/autoscaling/v2';
export const HPAS = 'horizontalpodautoscalers';
export const LEASE_API = '/apis/coordination.k8s.io/v1';
export const BUNDLE_API = '/apis/karma-hpa.io/v1alpha1';
export const EVENTS_API = '/apis/events.k8s.io/v1';
export const CORE_API = '/api/v1';
export const METRICS_API = '/apis/metrics.k8s.io/v1beta1';

/** An autoscaling/v2 HPA on CPU utilisation for a Deployment named like it. */
export function hpaObject(opts: { name: string; namespace: string; minReplicas: number; maxReplicas: number; currentReplicas?: number; desiredReplicas?: number;
  labels?: Record<string, string>; annotations?: Record<string, string> }): KubeObject {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: opts.name, namespace: opts.namespace, labels: opts.labels ?? { 'karma-hpa.io/governed': 'true' }, annotations: opts.annotations ?? {} },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: opts.name },
      minReplicas: opts.minReplicas,
      maxReplicas: opts.maxReplicas,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
    },
    status: { currentReplicas: opts.currentReplicas ?? opts.minReplicas, desiredReplicas: opts.desiredReplicas ?? opts.currentReplicas ?? opts.minReplicas },
  };
}

/** A Running pod with a CPU request, labelled `app=<app>`. */
export function podObject(opts: { name: string; namespace: string; app: string; cpuRequest: string; ready?: boolean; phase?: string; crashLoop?: boolean }): KubeObject {
  const ready = opts.ready ?? true;
  return {
    metadata: { name: opts.name, namespace: opts.namespace, labels: { app: opts.app } },
    spec: { containers: [{ name: 'main', image: 'example/app:1', resources: { requests: { cpu: opts.cpuRequest } } }] },
    status: {
      phase: opts.phase ?? 'Running',
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
      containerStatuses: [{ name: 'main', ready, restartCount: opts.crashLoop ? 5 : 0, state: opts.crashLoop ? { waiting: { reason: 'CrashLoopBackOff' } } : { running: {} } }],
    },
  };
}

/** metrics.k8s.io PodMetrics for one single-container pod; without `timestamp` it always reads as fresh. */
export function podMetricsObject(opts: { name: string; namespace: string; app: string; cpu: string; timestamp?: string }): KubeObject {
  return {
    metadata: { name: opts.name, namespace: opts.namespace, labels: { app: opts.app } },
    ...(opts.timestamp !== undefined ? { timestamp: opts.timestamp } : {}),
    window: '15s',
    containers: [{ name: 'main', usage: { cpu: opts.cpu, memory: '64Mi' } }],
  };
}
