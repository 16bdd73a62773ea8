/** A sidecar wired to the local Kubernetes API server and a real Prometheus, on a manual clock. */
import { ManualScheduler } from '../../../webhook/sidecar/clock.ts';
import { KubeClusterPort } from '../../../webhook/sidecar/cluster-port.ts';
import { MetricsCollector, PrometheusClient } from '../../../webhook/sidecar/metrics-source.ts';
import { Sidecar, type SidecarOptions } from '../../../webhook/sidecar/sidecar.ts';
import { CORE_API, EVENTS_API, type KubeApiServer, type KubeObject } from '../../support/kube-api.ts';

export function makeSidecar(api: KubeApiServer, scheduler: ManualScheduler, prometheusUrl: string | undefined,
  opts: Partial<SidecarOptions> & { namespace: string }): { sidecar: Sidecar; log: string[] } {
  const port = new KubeClusterPort(api.kubeConfig(opts.namespace));
  const log: string[] = [];
  const sidecar = new Sidecar({
    port,
    scheduler,
    collector: new MetricsCollector({ port, ...(prometheusUrl ? { prometheus: new PrometheusClient(prometheusUrl) } : {}) }),
    identity: 'sidecar-0',
    tickSeconds: 15,
    leaderElection: false,
    log: (line) => log.push(line),
    ...opts,
  });
  return { sidecar, log };
}

/** events.k8s.io/v1 Events about an HPA, oldest first. */
export function eventsFor(api: KubeApiServer, namespace: string, hpa: string): KubeObject[] {
  return api.list(EVENTS_API, 'events', namespace)
    .filter((e) => (e.regarding as { name?: string })?.name === hpa)
    .sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion));
}

/** core/v1 Events about an HPA (clusters without events.k8s.io/v1), oldest first. */
export function coreEventsFor(api: KubeApiServer, namespace: string, hpa: string): KubeObject[] {
  return api.list(CORE_API, 'events', namespace)
    .filter((e) => (e.involvedObject as { name?: string })?.name === hpa)
    .sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion));
}
