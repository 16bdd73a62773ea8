import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { KarmaError } from '../../policies/errors.ts';
import { intOpt, stringOpt, type Command } from '../cli/command.ts';
import { systemScheduler } from '../../webhook/sidecar/clock.ts';
import { KubeClusterPort, type PatchMode } from '../../webhook/sidecar/cluster-port.ts';
import { DEFAULT_QUERIES, MetricsCollector, PrometheusClient, type PromQueries } from '../../webhook/sidecar/metrics-source.ts';
import { Sidecar } from '../../webhook/sidecar/sidecar.ts';

function kubeConfig(file: string | undefined, env: Record<string, string | undefined>, where: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (file) kc.loadFromFile(file);
    else if (env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
    else kc.loadFromDefault();
  } catch (e) {
    throw new KarmaError(`cannot load the Kubernetes configuration: ${(e as Error).message}`, { where, hint: 'pass --kubeconfig FILE, or run inside a cluster with a service account' });
  }
  if (!kc.getCurrentCluster()) throw new KarmaError('the Kubernetes configuration names no current cluster', { where: file ?? where, hint: 'set current-context in the kubeconfig' });
  return kc;
}

function queriesFrom(file: string | undefined, where: string): Partial<PromQueries> {
  if (!file) return {};
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new KarmaError(`cannot read the PromQL queries: ${(e as Error).message}`, { where: file });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new KarmaError('the queries file must map snapshot fields to PromQL strings', { where: file });
  const out: Partial<PromQueries> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (!(k in DEFAULT_QUERIES)) throw new KarmaError(`unknown snapshot field "${k}"`, { where: `${file}: ${k}`, hint: `one of ${Object.keys(DEFAULT_QUERIES).join(', ')}` });
    if (typeof v !== 'string') throw new KarmaError(`the query for "${k}" must be a string`, { where: `${file}: ${k}` });
    out[k as keyof PromQueries] = v;
  }
  void where;
  return out;
}

export const sidecarCommand: Command = {
  name: 'sidecar',
  summary: 'run the in-cluster control loop that applies the agents\' decisions to HPAs',
  usage: '[--kubeconfig FILE] [--prometheus URL] [--shadow] [--tick-seconds 15] [--namespace NS] [--metrics-port N]',
  options: {
    kubeconfig: { type: 'string', valueName: 'FILE', description: 'kubeconfig to use (default: in-cluster service account, else ~/.kube/config)' },
    prometheus: { type: 'string', valueName: 'URL', description: 'Prometheus base URL for traffic, latency, queue and error metrics' },
    queries: { type: 'string', valueName: 'FILE', description: 'YAML mapping snapshot fields to PromQL ($service and $namespace are substituted)' },
    shadow: { type: 'boolean', description: 'decide and record (Events, log, metrics) but patch nothing' },
    'tick-seconds': { type: 'string', valueName: 'N', description: 'seconds between decisions', default: '15' },
    namespace: { type: 'string', valueName: 'NS', description: 'govern HPAs and read bundles in this namespace only (default: all)' },
    'metrics-port': { type: 'string', valueName: 'N', description: 'port of the /metrics endpoint (0: none)', default: '9464' },
    identity: { type: 'string', valueName: 'NAME', description: 'this replica\'s name in the lease (default: $POD_NAME or the host name)' },
    'lease-namespace': { type: 'string', valueName: 'NS', description: 'namespace of the leader-election Lease (default: $POD_NAMESPACE, --namespace, or karma-hpa)' },
    'no-leader-election': { type: 'boolean', description: 'run without a Lease (one replica only)' },
    'patch-strategy': { type: 'string', valueName: 'merge|apply', description: 'JSON merge patch with resourceVersion, or server-side apply', default: 'merge' },
    'pod-label': { type: 'string', valueName: 'KEY', description: 'label whose value is the service name on its pods', default: 'app' },
    ticks: { type: 'string', valueName: 'N', description: 'stop after N ticks, the first at once (0: run until SIGTERM)', default: '0' },
  },
  details: `
Every tick the sidecar reads the governed HPAs (label karma-hpa.io/governed=true), the metrics of their
services, evaluates the agents of the synced PolicyBundles and patches the HPAs' minReplicas/maxReplicas
within the bundle's guards. Each decision is written to the karma-hpa.io/decision annotation and as an
Event with reason KarmaDecision (see 'kubectl describe hpa').

examples:
  karma-hpa sidecar --prometheus http://prometheus.monitoring:9090
  karma-hpa sidecar --kubeconfig ~/.kube/config --namespace shop --shadow --ticks 1`,
  async run(args, io) {
    const where = 'karma-hpa sidecar';
    const tickSeconds = intOpt(args, 'tick-seconds', 'sidecar', 15, 1, 3600);
    const metricsPort = intOpt(args, 'metrics-port', 'sidecar', 9464, 0, 65535);
    const ticks = intOpt(args, 'ticks', 'sidecar', 0, 0, 1_000_000);
    const strategy = stringOpt(args, 'patch-strategy', 'sidecar') ?? 'merge';
    if (strategy !== 'merge' && strategy !== 'apply') throw new KarmaError(`--patch-strategy must be merge or apply, got "${strategy}"`, { where });
    const namespace = stringOpt(args, 'namespace', 'sidecar');
    const promUrl = stringOpt(args, 'prometheus', 'sidecar');
    if (promUrl !== undefined && !/^https?:\/\//.test(promUrl)) throw new KarmaError(`--prometheus must be an http(s) URL, got "${promUrl}"`, { where });
    const kc = kubeConfig(stringOpt(args, 'kubeconfig', 'sidecar'), io.env, where);
    const port = new KubeClusterPort(kc);
    const identity = stringOpt(args, 'identity', 'sidecar') ?? io.env.POD_NAME ?? hostname();
    const leaseNamespace = stringOpt(args, 'lease-namespace', 'sidecar') ?? io.env.POD_NAMESPACE ?? namespace ?? 'karma-hpa';
    const log = (line: string) => io.out(`${new Date(systemScheduler.now()).toISOString()} ${line}\n`);
    const sidecar = new Sidecar({
      port,
      scheduler: systemScheduler,
      collector: new MetricsCollector({
        port,
        ...(promUrl ? { prometheus: new PrometheusClient(promUrl) } : {}),
        queries: queriesFrom(stringOpt(args, 'queries', 'sidecar'), where),
        podLabel: stringOpt(args, 'pod-label', 'sidecar') ?? 'app',
      }),
      identity,
      namespace,
      shadow: args.values.shadow === true,
      tickSeconds,
      patchMode: strategy as PatchMode,
      leaderElection: args.values['no-leader-election'] === true ? false : { namespace: leaseNamespace },
      log,
    });
    const served = metricsPort > 0 ? await sidecar.telemetry.serve(metricsPort) : undefined;
    log(`sidecar ${identity} starting: ${namespace ? `namespace ${namespace}` : 'all namespaces'}, tick ${tickSeconds} s${args.values.shadow ? ', shadow mode' : ''}${served ? `, metrics on :${served.port}/metrics` : ''}`);
    try {
      if (ticks > 0) {
        await sidecar.start({ ticking: false });
        for (let i = 0; i < ticks; i++) {
          if (i > 0) await systemScheduler.sleep(tickSeconds * 1000);
          const report = await sidecar.tick();
          if (report.skipped) log(`tick skipped: ${report.skipped}`);
          if (report.error) log(`tick failed: ${report.error}`);
        }
      } else {
        await sidecar.start();
        await new Promise<void>((resolve) => {
          process.once('SIGTERM', resolve);
          process.once('SIGINT', resolve);
        });
      }
    } finally {
      await sidecar.stop();
      served?.server.close();
      log('sidecar stopped');
    }
    return sidecar.lastTick?.error ? 1 : 0;
  },
};
