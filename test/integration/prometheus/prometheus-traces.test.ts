import { createServer, type Server } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPrometheusExport, readPrometheusLive } from '../../../generator/model/readers/prometheus.ts';
import { isKarmaError } from '../../../policies/errors.ts';
import { main } from '../../../generator/cli/main.ts';
import { captureIo } from '../../support/io.ts';
import { stringify } from 'yaml';
import { prometheusAvailable, startPrometheus, type RunningPrometheus } from '../../support/prometheus.ts';
import { knownMapping, knownOpenMetrics, knownSeries, SERVICES, STEPS } from './known-series.ts';

// Needs the Debian `prometheus` package (/usr/bin/prometheus and /usr/bin/promtool).
describe.runIf(prometheusAvailable())('traces from a real Prometheus', () => {
  let prom: RunningPrometheus;
  const saved = mkdtempSync(join(tmpdir(), 'karma-prom-saved-'));
  const known = knownSeries();

  beforeAll(async () => {
    prom = await startPrometheus({ openMetrics: knownOpenMetrics() });
  });
  afterAll(async () => {
    await prom?.stop();
    rmSync(saved, { recursive: true, force: true });
  });

  it('reads backfilled series live through query_range, converting cores and milliseconds', async () => {
    const set = await readPrometheusLive(prom.url, knownMapping(), { start: known.start, end: known.end, stepSeconds: known.step }, { saveTo: saved });
    expect(set.stepSeconds).toBe(60);
    expect(set.timestamps).toHaveLength(STEPS);
    expect(set.timestamps[0]).toBe(known.start);
    expect(set.entryPoints).toEqual(['frontend']);
    expect(set.faults).toHaveLength(1);
    for (const s of SERVICES) {
      for (const metric of ['cpu', 'latencyP90', 'workload'] as const) {
        const got = Array.from(set.services[s]!.metrics[metric]!);
        known.values[s]![metric].forEach((v, i) => expect(got[i]!, `${s} ${metric} step ${i}`).toBeCloseTo(v, 9));
      }
    }
    expect(set.findings.filter((f) => f.severity !== 'info' && f.kind !== 'constant-column')).toEqual([]);
    expect(set.files).toHaveLength(6);
  });

  it('saved responses read back as the export form with the same values', async () => {
    expect(readdirSync(saved).sort()).toContain('mapping.yaml');
    const fromFiles = readPrometheusExport(join(saved, 'mapping.yaml'));
    const live = await readPrometheusLive(prom.url, knownMapping(), { start: known.start, end: known.end, stepSeconds: known.step });
    for (const s of SERVICES) expect(Array.from(fromFiles.services[s]!.metrics.cpu!)).toEqual(Array.from(live.services[s]!.metrics.cpu!));
  });

  it('karma-hpa model --prometheus fits a twin from the live server', async () => {
    writeFileSync(join(saved, 'live-mapping.yaml'), stringify(knownMapping()));
    const io = captureIo({ cwd: saved });
    const code = await main(['model', '--prometheus', prom.url, '--mapping', 'live-mapping.yaml', '--start', new Date(known.start * 1000).toISOString(), '--end', String(known.end), '--step', '60', '--out', 'live-twin.json', '--ensemble', '1', '--epochs', '1', '--hidden', '4'], io);
    expect(io.stderr()).toMatch(/loaded 2 services × 60 steps of 60 s/);
    expect(code).toBe(0);
    const twin = JSON.parse(readFileSync(join(saved, 'live-twin.json'), 'utf8')) as { provenance: { source: string; files: { path: string }[] } };
    expect(twin.provenance.source).toBe(prom.url);
    expect(twin.provenance.files.map((f) => f.path)).toContain('query:frontend.cpu');
  });

  it('refuses a query without series and names the mapping entry', async () => {
    const mapping = knownMapping();
    mapping.services.frontend!.cpu = { query: 'karma_no_such_metric', unit: 'cores' };
    const error = await readPrometheusLive(prom.url, mapping, { start: known.start, end: known.end, stepSeconds: 60 }).catch((e: unknown) => e);
    expect(isKarmaError(error)).toBe(true);
    expect((error as Error).message).toMatch(/frontend\.cpu from http:\/\/127\.0\.0\.1:\d+: the query returned no series/);
  });

  it('passes on Prometheus\u2019 own error for a bad query', async () => {
    const mapping = knownMapping();
    mapping.services.frontend!.cpu = { query: 'sum(', unit: 'cores' };
    const error = await readPrometheusLive(prom.url, mapping, { start: known.start, end: known.end, stepSeconds: 60 }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/Prometheus answered status "error": bad_data/);
  });

  it('refuses several series for one metric unless the mapping says how to aggregate', async () => {
    const mapping = knownMapping();
    mapping.services.cartservice!.cpu = { query: 'karma_replica_cpu_cores', unit: 'cores' };
    const error = await readPrometheusLive(prom.url, mapping, { start: known.start, end: known.end, stepSeconds: 60 }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/the query returned 2 series/);
    expect((error as { hint?: string }).hint).toMatch(/aggregate: sum/);
  });

  it('an unreachable server is a KarmaError, not a crash', async () => {
    const error = await readPrometheusLive('http://127.0.0.1:9', knownMapping(), { start: known.start, end: known.end, stepSeconds: 60 }, { timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(isKarmaError(error)).toBe(true);
    expect((error as Error).message).toMatch(/cannot query Prometheus/);
  });
});

describe.runIf(prometheusAvailable())('the Prometheus test server scraping an exporter', () => {
  let exporter: Server;
  let prom: RunningPrometheus | undefined;
  let value = 42;

  beforeAll(async () => {
    exporter = createServer((req, res) => {
      if (req.url === '/metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        res.end(`# TYPE karma_test_value gauge\nkarma_test_value ${value}\n`);
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => exporter.listen(0, '127.0.0.1', () => r()));
  });
  afterAll(async () => {
    await prom?.stop();
    await new Promise<void>((r) => exporter.close(() => r()));
  });

  it('scrapes the values the test controls (polling, no fixed sleeps)', async () => {
    const address = exporter.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${port}`], scrapeIntervalSeconds: 1 });
    const seen = async (want: number): Promise<boolean> => {
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const res = await fetch(`${prom!.url}/api/v1/query?query=karma_test_value`);
        const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
        if (body.data.result[0]?.value[1] === String(want)) return true;
        await new Promise((r) => setTimeout(r, 100));
      }
      return false;
    };
    expect(await seen(42)).toBe(true);
    value = 7;
    expect(await seen(7)).toBe(true);
  });
});
