/**
 * The HTTP edge of the admission webhook: content type and size checks, JSON parsing, routing to the
 * pure review functions, metrics and logs. Bad input gets a 4xx with a message, never a 5xx.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Request, type Response } from 'express';
import type { PolicyBundle } from '../../policies/bundle.ts';
import { readAdmissionReview, type AdmissionReview, type ReviewOutcome } from '../admission/review.ts';
import { reviewHpaMutation } from '../admission/hpaMutation.ts';
import { reviewHpaValidation, type Enforcement } from '../admission/hpaValidation.ts';
import { reviewBundleValidation } from '../admission/bundleValidation.ts';
import { METRICS_CONTENT_TYPE, type WebhookMetrics } from './metrics.ts';
import type { Logger } from './logger.ts';

/** The API server refuses request bodies above 3 MiB (MaxRequestBodyBytes), so no review it sends is larger. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

/**
 * Deeper JSON than this is refused before parsing: HPAs and PolicyBundles nest about a dozen levels,
 * and bounding depth keeps every recursive step (diff, canonical JSON, schema checks) far from the
 * stack limit whatever a client sends.
 */
export const MAX_JSON_DEPTH = 100;

/**
 * Nesting depth of JSON text, counting brackets outside strings; linear and allocation-free. With
 * `stopAbove`, a result at or below it may be an upper bound (the count of opening brackets).
 */
export function jsonNestingDepth(text: string, stopAbove = Infinity): number {
  // Fast path: text with no more opening brackets than the bound cannot nest deeper than it.
  if (stopAbove !== Infinity) {
    let opens = 0;
    for (let i = text.indexOf('{'); i !== -1 && opens <= stopAbove; i = text.indexOf('{', i + 1)) opens++;
    for (let i = text.indexOf('['); i !== -1 && opens <= stopAbove; i = text.indexOf('[', i + 1)) opens++;
    if (opens <= stopAbove) return opens;
  }
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) {
        max = depth;
        if (max > stopAbove) return max;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

export const ADMISSION_PATHS = ['/mutate/hpa', '/validate/hpa', '/validate/bundle'] as const;
export type AdmissionPath = (typeof ADMISSION_PATHS)[number];

export interface AppContext {
  bundles: () => readonly PolicyBundle[];
  ready: () => boolean;
  /** Why bundles cannot be loaded, shown on /readyz while not ready. */
  notReadyReason?: () => string | undefined;
  shuttingDown: () => boolean;
  enforcement?: Enforcement;
  metrics: WebhookMetrics;
  logger: Logger;
  now: () => number;
}

type BodyResult = { ok: true; text: string } | { ok: false; status: number; kind: string; message: string };

function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      resolve({ ok: false, status: 413, kind: 'too_large', message: `request body of ${declared} bytes exceeds the limit of ${limit} bytes` });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        chunks.length = 0;
        resolve({ ok: false, status: 413, kind: 'too_large', message: `request body exceeds the limit of ${limit} bytes` });
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      // Invalid UTF-8 becomes U+FFFD; JSON.parse then judges the text.
      resolve({ ok: true, text: Buffer.concat(chunks).toString('utf8') });
    });
    req.on('error', (e) => {
      if (done) return;
      done = true;
      resolve({ ok: false, status: 400, kind: 'bad_request', message: `request body could not be read: ${e.message}` });
    });
  });
}

function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  const type = header.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json';
}

function review(path: AdmissionPath, r: AdmissionReview, ctx: AppContext): ReviewOutcome {
  switch (path) {
    case '/mutate/hpa': return reviewHpaMutation(r, ctx.bundles(), ctx.now());
    case '/validate/hpa': return reviewHpaValidation(r, ctx.bundles(), ctx.now(), ctx.enforcement ? { enforcement: ctx.enforcement } : {});
    case '/validate/bundle': return reviewBundleValidation(r, ctx.now());
  }
}

/**
 * The request handler of the HTTPS server. Admission calls — the hot path — are answered with plain
 * node:http objects before express sees them (express's per-request setup costs about as much as
 * the review itself); express serves everything else: probes, metrics, and 404s.
 */
export function createWebhookHandler(ctx: AppContext): (req: IncomingMessage, res: ServerResponse) => void {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', false);

  // Written directly: express's res.send adds content negotiation this hot path does not need.
  const sendJson = (res: ServerResponse, status: number, payload: string) => {
    if (res.headersSent) return;
    // In-flight requests finish during a shutdown, but their connections are not kept for more.
    if (ctx.shuttingDown()) res.setHeader('Connection', 'close');
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) });
    res.end(payload);
  };

  const fail = (res: ServerResponse, path: string, started: bigint, status: number, kind: string, message: string, uid?: string) => {
    ctx.metrics.errors.inc({ path, kind });
    ctx.metrics.requestDuration.observe({ path, outcome: kind }, Number(process.hrtime.bigint() - started) / 1e9);
    ctx.logger.log(status >= 500 ? 'error' : 'warn', 'admission request refused', { path, status, reason: kind, message, ...(uid ? { uid } : {}) });
    sendJson(res, status, JSON.stringify({ code: status, message }));
  };

  const admit = async (req: IncomingMessage, res: ServerResponse, path: AdmissionPath): Promise<void> => {
    {
      const started = process.hrtime.bigint();
      if (!isJsonContentType(req.headers['content-type'])) {
        req.resume();
        fail(res, path, started, 415, 'unsupported_media_type', `Content-Type must be application/json, got ${JSON.stringify(req.headers['content-type'] ?? '')}`);
        return;
      }
      const body = await readBody(req, MAX_BODY_BYTES);
      if (!body.ok) {
        if (body.status === 413) res.setHeader('Connection', 'close');
        fail(res, path, started, body.status, body.kind, body.message);
        return;
      }
      if (jsonNestingDepth(body.text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
        fail(res, path, started, 400, 'bad_request', `body nests deeper than ${MAX_JSON_DEPTH} levels; no AdmissionReview of an HPA or PolicyBundle does`);
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.text);
      } catch (e) {
        fail(res, path, started, 400, 'bad_request', `body is not valid JSON: ${(e as Error).message}`);
        return;
      }
      const read = readAdmissionReview(parsed);
      if (!read.ok) {
        fail(res, path, started, 400, 'bad_request', `not an AdmissionReview: ${read.message}`);
        return;
      }
      const uid = read.review.request.uid;
      let outcome: ReviewOutcome;
      try {
        outcome = review(path, read.review, ctx);
      } catch (e) {
        // A throw here is a defect in karma-hpa, not bad input.
        fail(res, path, started, 500, 'internal', `internal error while reviewing: ${(e as Error).message}`, uid);
        return;
      }
      sendJson(res, 200, JSON.stringify(outcome.review));
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      ctx.metrics.requestDuration.observe({ path, outcome: outcome.outcome }, seconds);
      if (outcome.outcome === 'denied') for (const guard of new Set(outcome.guards)) ctx.metrics.denials.inc({ path, guard });
      // Dry runs have no side effects, so they do not count as applied decisions.
      if (outcome.decisionApplied && !outcome.dryRun) ctx.metrics.decisionsApplied.inc({ bundle: outcome.decisionApplied.bundle });
      const r = read.review.request;
      const level = outcome.outcome === 'denied' || outcome.decisionApplied ? 'info' : 'debug';
      ctx.logger.log(level, 'admission reviewed', {
        uid, path, outcome: outcome.outcome, operation: r.operation, namespace: r.namespace, name: r.name,
        dryRun: outcome.dryRun, ...(outcome.guards.length > 0 ? { guards: outcome.guards } : {}),
        ...(outcome.review.response.status ? { message: outcome.review.response.status.message } : {}),
        durationMs: Math.round(seconds * 1e6) / 1e3,
      });
    }
  };

  app.get('/healthz', (_req, res) => {
    res.status(200).type('text/plain').send('ok\n');
  });
  app.get('/readyz', (_req, res) => {
    if (ctx.shuttingDown()) res.status(503).type('text/plain').send('shutting down\n');
    else if (!ctx.ready()) {
      const why = ctx.notReadyReason?.();
      res.status(503).type('text/plain').send(`bundles not loaded yet${why ? `: ${why}` : ''}\n`);
    }
    else res.status(200).type('text/plain').send(`ok: ${ctx.bundles().length} bundles\n`);
  });
  app.get('/metrics', (_req, res) => {
    res.status(200).setHeader('Content-Type', METRICS_CONTENT_TYPE);
    res.send(ctx.metrics.render());
  });
  app.use((req, res) => {
    res.status(404).type('application/json').send(JSON.stringify({ code: 404, message: `no route for ${req.method} ${req.path}; admission paths are ${ADMISSION_PATHS.join(', ')}` }));
  });
  // Express hands errors here (e.g. a malformed URL); they are the client's.
  app.use((err: Error, _req: Request, res: Response, _next: (e?: unknown) => void) => {
    ctx.metrics.errors.inc({ path: 'other', kind: 'bad_request' });
    if (!res.headersSent) res.status(400).type('application/json').send(JSON.stringify({ code: 400, message: err.message }));
  });

  const admissionPaths: ReadonlySet<string> = new Set(ADMISSION_PATHS);
  return (req, res) => {
    // The API server appends a query (`?timeout=5s`) to the configured path; only the path is matched.
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (req.method === 'POST' && admissionPaths.has(path)) void admit(req, res, path as AdmissionPath);
    else app(req, res);
  };
}
