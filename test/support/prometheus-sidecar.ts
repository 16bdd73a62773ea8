/**
 * A real Prometheus server (/usr/bin/prometheus) for tests, on a free loopback port, holding series
 * backfilled with promtool (OpenMetrics → TSDB blocks) so queries at chosen instants return known values
 * without scraping or waiting. Call `stop()` when done.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Series {
  name: string;
  type: 'counter' | 'gauge';
  labels: Record<string, string>;
  /** [epoch seconds, value], any order. */
  samples: [number, number][];
}

export interface PrometheusHandle {
  url: string;
  stop: () => Promise<void>;
}

export const PROMETHEUS_BINARY = '/usr/bin/prometheus';
export const PROMTOOL_BINARY = '/usr/bin/promtool';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function openMetrics(series: Series[]): string {
  const byName = new Map<string, Series[]>();
  for (const s of series) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  const lines: string[] = [];
  for (const [name, group] of [...byName.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    // OpenMetrics counters are declared without the _total suffix.
    const family = group[0]!.type === 'counter' ? name.replace(/_total$/, '') : name;
    lines.push(`# TYPE ${family} ${group[0]!.type}`);
    for (const s of group) {
      const labels = Object.entries(s.labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}="${v}"`).join(',');
      for (const [t, v] of [...s.samples].sort((a, b) => a[0] - b[0])) lines.push(`${name}{${labels}} ${v} ${t}`);
    }
  }
  lines.push('# EOF');
  return `${lines.join('\n')}\n`;
}

/** Backfill the series, start Prometheus on them, and wait until it answers queries. */
export async function startBackfilledPrometheus(series: Series[]): Promise<PrometheusHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-'));
  const input = join(dir, 'input.om');
  const data = join(dir, 'data');
  writeFileSync(input, openMetrics(series));
  execFileSync(PROMTOOL_BINARY, ['tsdb', 'create-blocks-from', 'openmetrics', input, data], { stdio: ['ignore', 'ignore', 'pipe'] });
  writeFileSync(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 15s\nscrape_configs: []\n');
  const port = await freePort();
  const child: ChildProcess = spawn(PROMETHEUS_BINARY, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${data}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--storage.tsdb.retention.time=3650d',
    '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4000); });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Readiness: poll the ready endpoint (startup replays the blocks; usually well under a second).
  for (let attempt = 0; attempt < 300; attempt++) {
    if (child.exitCode !== null) break;
    try {
      const res = await fetch(`${url}/-/ready`);
      if (res.ok) return { url, stop };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stop();
  throw new Error(`Prometheus did not become ready: ${stderr}`);
}
