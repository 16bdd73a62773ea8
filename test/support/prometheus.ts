/**
 * A real Prometheus server for tests: on a free 127.0.0.1 port, with a temporary storage directory,
 * optionally backfilled with OpenMetrics samples (time-independent) and/or a scrape config. Waits
 * for /-/ready by polling, and stops and removes everything on `stop()`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const PROMETHEUS_BINARY = process.env.PROMETHEUS_BINARY ?? '/usr/bin/prometheus';
export const PROMTOOL_BINARY = process.env.PROMTOOL_BINARY ?? '/usr/bin/promtool';

export function prometheusAvailable(): boolean {
  return existsSync(PROMETHEUS_BINARY) && existsSync(PROMTOOL_BINARY);
}

export interface StartPrometheusOptions {
  /** OpenMetrics text (ending in `# EOF`) written into the TSDB with promtool before start. */
  openMetrics?: string;
  /** Scrape targets as host:port; scraped every `scrapeIntervalSeconds`. */
  scrapeTargets?: string[];
  scrapeIntervalSeconds?: number;
  /** A complete prometheus.yml instead of the generated one. */
  config?: string;
  readyTimeoutMs?: number;
}

export interface RunningPrometheus {
  url: string;
  port: number;
  dataDir: string;
  /** Output of the server so far, for failure messages. */
  logs: () => string;
  stop: () => Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function scrapeConfig(targets: string[], interval: number): string {
  const lines = ['global:', `  scrape_interval: ${interval}s`, `  evaluation_interval: ${interval}s`];
  if (targets.length === 0) lines.push('scrape_configs: []');
  else lines.push('scrape_configs:', '  - job_name: test', `    scrape_interval: ${interval}s`, '    static_configs:', `      - targets: [${targets.map((t) => JSON.stringify(t)).join(', ')}]`);
  return `${lines.join('\n')}\n`;
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number, logs: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with code ${child.exitCode} before it was ready:\n${logs()}`);
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
      lastError = `HTTP ${res.status}`;
    } catch (e) {
      lastError = (e as Error).message;
    }
    // Poll again once the event loop has had a short turn; the readiness check itself is the wait condition.
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`prometheus not ready within ${timeoutMs} ms (${lastError}):\n${logs()}`);
}

export async function startPrometheus(opts: StartPrometheusOptions = {}): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'karma-prom-'));
  const dataDir = join(dir, 'data');
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, opts.config ?? scrapeConfig(opts.scrapeTargets ?? [], opts.scrapeIntervalSeconds ?? 1));
  if (opts.openMetrics !== undefined) {
    const input = join(dir, 'backfill.om');
    writeFileSync(input, opts.openMetrics);
    await run(PROMTOOL_BINARY, ['tsdb', 'create-blocks-from', 'openmetrics', input, dataDir], { timeout: 60_000 });
  }
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const child = spawn(PROMETHEUS_BINARY, [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${dataDir}`,
    // Backfilled samples can be years old; keep them queryable.
    '--storage.tsdb.retention.time=100y',
    `--web.listen-address=127.0.0.1:${port}`,
    '--web.enable-lifecycle',
    '--log.level=warn',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const logs = (): string => output.slice(-4000);
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(url, child, opts.readyTimeoutMs ?? 30_000, logs);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, port, dataDir, logs, stop };
}

/** OpenMetrics text for gauges: family → series (labels) → [unix seconds, value] samples. */
export function openMetricsGauges(families: Record<string, { labels: Record<string, string>; samples: [number, number][] }[]>): string {
  const lines: string[] = [];
  for (const name of Object.keys(families).sort()) {
    lines.push(`# TYPE ${name} gauge`);
    for (const s of families[name]!) {
      const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',');
      for (const [t, v] of s.samples) lines.push(`${name}{${labels}} ${Number.isNaN(v) ? 'NaN' : String(v)} ${t}`);
    }
  }
  lines.push('# EOF');
  return `${lines.join('\n')}\n`;
}
