import { KubeConfig } from '@kubernetes/client-node';
import { KarmaError } from '../../policies/errors.ts';
import { intOpt, stringOpt, type Command } from '../cli/command.ts';
import type { Enforcement } from '../../webhook/admission/hpaValidation.ts';
import { clusterBundleSource } from '../../webhook/bundles/clusterSource.ts';
import { dirBundleSource } from '../../webhook/bundles/dirSource.ts';
import type { BundleSource } from '../../webhook/bundles/source.ts';
import { jsonLogger, type LogLevel } from '../../webhook/server/logger.ts';
import { startWebhookServer } from '../../webhook/server/server.ts';

const NAME = 'webhook';

function bundleSource(spec: string, kubeconfig: string | undefined): BundleSource {
  if (spec === 'cluster') {
    const kc = new KubeConfig();
    try {
      if (kubeconfig) kc.loadFromFile(kubeconfig);
      else kc.loadFromDefault();
    } catch (e) {
      throw new KarmaError(`cannot load the Kubernetes client configuration: ${(e as Error).message}`, { where: kubeconfig ?? 'in-cluster / $KUBECONFIG', hint: 'run inside the cluster or pass --kubeconfig' });
    }
    return clusterBundleSource(kc);
  }
  if (spec.startsWith('dir:') && spec.length > 4) return dirBundleSource(spec.slice(4));
  throw new KarmaError(`--bundles-from must be "cluster" or "dir:PATH", got "${spec}"`, { where: `karma-hpa ${NAME}` });
}

export const webhookCommand: Command = {
  name: NAME,
  summary: 'run the admission webhook that enforces PolicyBundles on HPAs (HTTPS)',
  usage: '--port N --cert FILE --key FILE [--bundles-from cluster|dir:PATH] [--enforcement deny|warn]',
  options: {
    port: { type: 'string', description: 'HTTPS port', default: '8443', valueName: 'N' },
    host: { type: 'string', description: 'address to listen on', default: '0.0.0.0', valueName: 'ADDR' },
    cert: { type: 'string', description: 'PEM serving certificate (reloaded when the file changes)', valueName: 'FILE' },
    key: { type: 'string', description: 'PEM private key of the certificate', valueName: 'FILE' },
    'bundles-from': { type: 'string', description: 'where PolicyBundles come from: cluster (list/watch) or dir:PATH (watched)', default: 'cluster', valueName: 'SOURCE' },
    enforcement: { type: 'string', description: 'deny: each bundle\'s guards.enforcement decides; warn: never deny, only warn', default: 'deny', valueName: 'MODE' },
    kubeconfig: { type: 'string', description: 'kubeconfig file for --bundles-from cluster (default: in-cluster or $KUBECONFIG)', valueName: 'FILE' },
    'shutdown-delay-seconds': { type: 'string', description: 'on SIGTERM, keep serving (not ready) this long before closing, while endpoints update', default: '5', valueName: 'N' },
    'log-level': { type: 'string', description: 'debug, info, warn or error', default: 'info', valueName: 'LEVEL' },
  },
  details: `
Serves /mutate/hpa, /validate/hpa, /validate/bundle (AdmissionReview v1), /healthz, /readyz and /metrics.
Logs are JSON lines on stdout. SIGTERM turns /readyz to 503, keeps serving for --shutdown-delay-seconds while
the Service's endpoints update, then stops accepting connections and finishes in-flight requests.
Example: karma-hpa webhook --port 8443 --cert /tls/tls.crt --key /tls/tls.key --bundles-from dir:./bundles`,
  async run(args, io) {
    const port = intOpt(args, 'port', NAME, 8443, 0, 65535);
    const shutdownDelayMs = intOpt(args, 'shutdown-delay-seconds', NAME, 5, 0, 300) * 1000;
    const certFile = stringOpt(args, 'cert', NAME, true);
    const keyFile = stringOpt(args, 'key', NAME, true);
    const enforcement = stringOpt(args, 'enforcement', NAME) ?? 'deny';
    if (enforcement !== 'deny' && enforcement !== 'warn') throw new KarmaError(`--enforcement must be deny or warn, got "${enforcement}"`, { where: `karma-hpa ${NAME}` });
    const level = stringOpt(args, 'log-level', NAME) ?? 'info';
    if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new KarmaError(`--log-level must be debug, info, warn or error, got "${level}"`, { where: `karma-hpa ${NAME}` });
    const source = bundleSource(stringOpt(args, 'bundles-from', NAME) ?? 'cluster', stringOpt(args, 'kubeconfig', NAME));
    const logger = jsonLogger(io.out, io.now, level as LogLevel, true);
    const server = await startWebhookServer({
      port, host: stringOpt(args, 'host', NAME) ?? '0.0.0.0', certFile, keyFile, source, logger, now: io.now,
      enforcement: enforcement as Enforcement,
    });
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        logger.log('info', 'signal received', { signal });
        process.off('SIGTERM', onTerm);
        process.off('SIGINT', onInt);
        const drainUntil = new Promise<void>((done) => setTimeout(done, shutdownDelayMs));
        void server.shutdown({ drainUntil }).then(resolve);
      };
      const onTerm = () => stop('SIGTERM');
      const onInt = () => stop('SIGINT');
      process.on('SIGTERM', onTerm);
      process.on('SIGINT', onInt);
      server.events.once('closed', () => {
        process.off('SIGTERM', onTerm);
        process.off('SIGINT', onInt);
        resolve();
      });
    });
    return 0;
  },
};
