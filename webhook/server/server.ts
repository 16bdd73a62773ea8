/**
 * The admission webhook server: HTTPS with a hot-reloaded certificate, the express app, a bundle
 * source, and a graceful shutdown that stops accepting and lets in-flight reviews finish.
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Enforcement } from '../admission/hpaValidation.ts';
import type { BundleSource } from '../bundles/source.ts';
import { createWebhookHandler } from './app.ts';
import type { Logger } from './logger.ts';
import { WebhookMetrics } from './metrics.ts';
import { ServingCertificate, type CertificatePair } from './servingCertificate.ts';

/** Below the webhook configurations' timeoutSeconds (5), so the API server never waits on a dead request. */
export const REQUEST_TIMEOUT_MS = 4000;
/** How long a shutdown waits for in-flight requests before cutting connections. */
export const SHUTDOWN_GRACE_MS = 10_000;

export interface WebhookServerOptions {
  port: number;
  host?: string;
  certFile: string;
  keyFile: string;
  source: BundleSource;
  enforcement?: Enforcement;
  logger: Logger;
  now?: () => number;
  requestTimeoutMs?: number;
  /** Watch the certificate files (default true). Tests may call `reloadCertificate()` instead. */
  watchCertificate?: boolean;
}

export interface ShutdownOptions {
  /** How long in-flight requests may take once the listener is closed (default 10 s). */
  graceMs?: number;
  /**
   * Keep accepting (while /readyz says 503) until this settles: the Service's endpoints lag the
   * pod's termination, and the API server keeps calling until they are updated.
   */
  drainUntil?: Promise<void>;
}

export interface WebhookServer {
  url: string;
  port: number;
  metrics: WebhookMetrics;
  certificate: ServingCertificate;
  /** Settles when the bundle source finished its first load (or failed to start). */
  whenReady: Promise<void>;
  /** `shutdown-started`, `draining`, `listener-closed`, `closed`. */
  events: EventEmitter;
  reloadCertificate(): boolean;
  shutdown(opts?: ShutdownOptions): Promise<void>;
  server: Server;
}

export async function startWebhookServer(opts: WebhookServerOptions): Promise<WebhookServer> {
  const metrics = new WebhookMetrics();
  const events = new EventEmitter();
  const logger = opts.logger;
  const certificate = new ServingCertificate(opts.certFile, opts.keyFile);
  let shuttingDown = false;

  const handler = createWebhookHandler({
    bundles: () => opts.source.bundles(),
    ready: () => opts.source.ready(),
    notReadyReason: () => opts.source.unavailable?.(),
    shuttingDown: () => shuttingDown,
    ...(opts.enforcement ? { enforcement: opts.enforcement } : {}),
    metrics,
    logger,
    now: opts.now ?? Date.now,
  });
  const pair = certificate.current;
  const requestTimeout = opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  // Node checks for stalled requests every connectionsCheckingInterval (30 s by default), which would
  // let one outlive the API server's timeout; check often enough to cut it within the budget.
  const server = createServer({
    cert: pair.cert, key: pair.key, minVersion: 'TLSv1.2',
    requestTimeout, headersTimeout: Math.min(requestTimeout, 3000), connectionsCheckingInterval: Math.max(50, Math.min(500, requestTimeout / 4)),
  }, handler);
  server.on('tlsClientError', (err) => logger.log('debug', 'TLS handshake failed', { error: err.message }));
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    metrics.errors.inc({ path: 'other', kind: timedOut ? 'timeout' : 'bad_request' });
    const status = timedOut ? '408 Request Timeout' : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    logger.log(timedOut ? 'warn' : 'debug', timedOut ? 'request timed out before its body arrived' : 'malformed HTTP request', { error: err.message });
  });

  certificate.onChange((next: CertificatePair) => server.setSecureContext({ cert: next.cert, key: next.key }));
  certificate.events.on('reloaded', (next: CertificatePair) => {
    metrics.tlsReloads.inc({ result: 'ok' });
    logger.log('info', 'serving certificate reloaded', { fingerprint256: next.fingerprint256, notAfter: next.notAfter });
  });
  certificate.events.on('reload-failed', (e: Error) => {
    metrics.tlsReloads.inc({ result: 'failed' });
    logger.log('warn', 'serving certificate not reloaded; keeping the current one', { error: e.message });
  });

  opts.source.events.on('reloaded', ({ bundles, problems }: { bundles: unknown[]; problems: string[] }) => {
    metrics.setBundlesLoaded(bundles.length);
    logger.log('info', 'bundles loaded', { source: opts.source.description, bundles: bundles.length, problems: problems.length });
  });
  opts.source.events.on('unavailable', (why: string) => {
    metrics.bundleLoadErrors.inc({ source: opts.source.description.split(':')[0]! });
    logger.log('error', 'bundle source unavailable', { source: opts.source.description, problem: why });
  });
  opts.source.events.on('available', (what: string) => {
    logger.log('info', 'bundle source available', { source: opts.source.description, detail: what });
  });
  opts.source.events.on('problem', (p: string) => {
    metrics.bundleLoadErrors.inc({ source: opts.source.description.split(':')[0]! });
    logger.log('warn', 'bundle rejected', { source: opts.source.description, problem: p });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  if (opts.watchCertificate !== false) certificate.watch();
  // Bundles load after the port is open so liveness holds while readiness waits for them.
  const whenReady = opts.source.start().catch((e: unknown) => {
    logger.log('error', 'bundle source failed to start', { source: opts.source.description, error: (e as Error).message });
  });

  const port = (server.address() as AddressInfo).port;
  const host = opts.host ?? '0.0.0.0';
  logger.log('info', 'webhook listening', { port, host, source: opts.source.description, fingerprint256: pair.fingerprint256 });

  let closing: Promise<void> | undefined;
  const shutdown = (shutdownOpts: ShutdownOptions = {}): Promise<void> => {
    const graceMs = shutdownOpts.graceMs ?? SHUTDOWN_GRACE_MS;
    closing ??= (async () => {
      shuttingDown = true;
      events.emit('shutdown-started');
      if (shutdownOpts.drainUntil) {
        logger.log('info', 'shutting down: not ready, still serving until endpoints are updated');
        events.emit('draining');
        await shutdownOpts.drainUntil;
      }
      logger.log('info', 'shutting down: no new connections, finishing in-flight requests');
      certificate.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      events.emit('listener-closed');
      const deadline = setTimeout(() => server.closeAllConnections(), graceMs);
      deadline.unref();
      await closed;
      clearTimeout(deadline);
      await opts.source.stop();
      logger.log('info', 'shut down');
      logger.flush?.();
      events.emit('closed');
    })();
    return closing;
  };

  return {
    url: `https://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    port,
    metrics,
    certificate,
    events,
    whenReady,
    reloadCertificate: () => certificate.reload(),
    shutdown,
    server,
  };
}
