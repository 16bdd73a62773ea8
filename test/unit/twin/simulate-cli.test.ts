import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../generator/cli/main.ts';
import { captureIo } from '../../support/io.ts';
import { FIXTURES } from './fixtures.ts';

async function simulate(args: string[], cwd = FIXTURES) {
  const io = captureIo({ cwd });
  const code = await main(['simulate', ...args], io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe('karma-hpa simulate', () => {
  it('prints the episode metrics as a table', async () => {
    const r = await simulate(['--scenario', 'short-ddos.yaml', '--seed', '3']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^short-ddos on single-service, autoscaler hpa, seed 3, 120 s/);
    expect(r.out).toMatch(/success rate\s+\d+\.\d %/);
    expect(r.out).toMatch(/30 s\s+ddos\s+web/);
    expect(r.out).toMatch(/\n {2}web\s+\d+\.\d %/);
    // The per-service saturation columns are the episode metrics' own numbers.
    const json = await simulate(['--scenario', 'short-ddos.yaml', '--seed', '3', '--json']);
    const web = (JSON.parse(json.out) as { metrics: { services: Record<string, { saturatedSeconds: number; saturatedAtCeilingSeconds: number }> } }).metrics.services.web!;
    expect(web.saturatedSeconds).toBeGreaterThan(0);
    expect(r.out).toMatch(new RegExp(`\\n {2}web .* ${web.saturatedSeconds} +${web.saturatedAtCeilingSeconds}\\n`));
  });

  it('prints JSON with --json and the same bytes for the same seed; writes identical CSV and JSON series', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'karma-sim-'));
    const a = await simulate(['--scenario', 'short-ddos.yaml', '--seed', '9', '--json', '--out', join(dir, 'a.csv')]);
    const b = await simulate(['--scenario', 'short-ddos.yaml', '--seed', '9', '--json', '--out', join(dir, 'b.csv')]);
    const c = await simulate(['--scenario', 'short-ddos.yaml', '--seed', '10', '--json', '--out', join(dir, 'c.json')]);
    expect(a.code).toBe(0);
    expect(a.out).toBe(b.out);
    expect(readFileSync(join(dir, 'a.csv'), 'utf8')).toBe(readFileSync(join(dir, 'b.csv'), 'utf8'));
    const parsed = JSON.parse(a.out) as { seed: number; metrics: { successRate: number; services: Record<string, unknown> } };
    expect(parsed.seed).toBe(9);
    expect(Object.keys(parsed.metrics.services)).toEqual(['web']);
    expect(c.out).not.toBe(a.out);
    const csv = readFileSync(join(dir, 'a.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('second,service,offered,served,servedWithinSlo,dropped,pending,queue,replicas,ready,p95LatencyMs,cpuUtilization,capacityRps,failedPods');
    expect(csv).toHaveLength(121);
    const json = JSON.parse(readFileSync(join(dir, 'c.json'), 'utf8')) as { seconds: number; series: { web: { replicas: number[] } } };
    expect(json.seconds).toBe(120);
    expect(json.series.web.replicas).toHaveLength(120);
  });

  it('runs a built-in scenario on another topology with a shorter duration and another autoscaler', async () => {
    const r = await simulate(['--scenario', 'node-loss', '--topology', 'online-boutique', '--duration', '60', '--autoscaler', 'static-max', '--json']);
    expect(r.code).toBe(0);
    const parsed = JSON.parse(r.out) as { topology: string; durationSeconds: number; metrics: { seconds: number; services: Record<string, { meanReplicas: number }> } };
    expect(parsed.topology).toBe('online-boutique');
    expect(parsed.metrics.seconds).toBe(60);
    expect(parsed.metrics.services.frontend!.meanReplicas).toBe(10);
  });

  it('picks the topology\'s own variant of a built-in scenario: --topology online-boutique --scenario bottleneck', async () => {
    const r = await simulate(['--scenario', 'bottleneck', '--topology', 'online-boutique', '--duration', '200', '--json']);
    expect(r.code).toBe(0);
    const parsed = JSON.parse(r.out) as { topology: string; scenario: string; metrics: { recovery: { target: string }[] } };
    expect(parsed.topology).toBe('online-boutique');
    expect(parsed.metrics.recovery.map((x) => x.target)).toEqual(['productcatalogservice']);
    const q = await simulate(['--scenario', 'online-boutique/bottleneck', '--duration', '200', '--json']);
    expect(q.out).toBe(r.out);
  });

  it('--seeds runs one episode per seed and prints each with the mean ± 95 % CI; the JSON carries the same numbers', async () => {
    const r = await simulate(['--scenario', 'short-ddos.yaml', '--seeds', '1-3,7']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^short-ddos on single-service, autoscaler hpa, 4 seeds \(1, 2, 3, 7\), 120 s each/);
    const rows = r.out.split('\n').filter((l) => /^ {2}(\d+|mean|±95%)\s/.test(l));
    expect(rows.map((l) => l.trim().split(/\s+/)[0])).toEqual(['1', '2', '3', '7', 'mean', '±95%']);
    const j = await simulate(['--scenario', 'short-ddos.yaml', '--seeds', '1-3,7', '--json']);
    const parsed = JSON.parse(j.out) as { seeds: number[]; episodes: { seed: number; metrics: { successRate: number } }[]; summary: { successRate: { mean: number; halfWidth: number; n: number } } };
    expect(parsed.seeds).toEqual([1, 2, 3, 7]);
    const rates = parsed.episodes.map((e) => e.metrics.successRate);
    const one = JSON.parse((await simulate(['--scenario', 'short-ddos.yaml', '--seed', '7', '--json'])).out) as { metrics: { successRate: number } };
    expect(rates[3]).toBe(one.metrics.successRate);
    const m = rates.reduce((a, b) => a + b, 0) / 4;
    const sd = Math.sqrt(rates.reduce((a, b) => a + (b - m) ** 2, 0) / 3);
    expect(parsed.summary.successRate.mean).toBeCloseTo(m, 5);
    expect(parsed.summary.successRate.halfWidth).toBeCloseTo((3.182 * sd) / 2, 5);
    expect(parsed.summary.successRate.n).toBe(4);
    const meanRow = rows[4]!.trim().split(/\s+/);
    expect(Number(meanRow[1])).toBeCloseTo(m * 100, 1);
  });

  it.each([
    [['--scenario', 'no-such-scenario'], /unknown scenario "no-such-scenario"[\s\S]*hint: use a built-in name \(bottleneck, ddos/],
    [['--scenario', 'bad-scenario.yaml'], /bad-scenario.yaml: invalid scenario: 1 problem\n {2}- \/injectors\/0\/capacityFactor \(line 10:21\)/],
    [['--scenario', 'ddos', '--topology', 'bad-topology-min-max.yaml'], /bad-topology-min-max.yaml: invalid topology[\s\S]*\/services\/0\/minReplicas: 5 is greater than maxReplicas 2/],
    [['--scenario', 'ddos', '--topology', 'bad-topology-schema.yaml'], /\/services\/0\/cpuRequest \(line 6:17\)/],
    [['--scenario', 'ddos', '--topology', 'nope'], /unknown topology "nope"/],
    [['--scenario', 'wrong-service-scenario.yaml'], /wrong-service-scenario.yaml: scenario does not fit topology chained-services[\s\S]*\/injectors\/0\/service: unknown service "Z"/],
    [['--scenario', 'chained-services/bottleneck', '--topology', 'online-boutique'], /built-in scenario "chained-services\/bottleneck": scenario does not fit topology online-boutique[\s\S]*unknown service "D"[\s\S]*hint: built-in scenarios exist for chained-services, online-boutique/],
    [['--scenario', 'ddos', '--seeds', '1-3', '--seed', '2'], /give either --seed or --seeds, not both/],
    [['--scenario', 'ddos', '--seeds', '1-3', '--out', 'x.csv'], /--out writes the series of one episode; it cannot be combined with --seeds/],
    [['--scenario', 'ddos', '--seeds', '5-2'], /--seeds has a decreasing range 5-2/],
    [['--scenario', 'ddos', '--seeds', '1,,x'], /--seeds must be seeds or ranges separated by commas/],
    [['--scenario', 'ddos', '--seeds', '1-3,2'], /--seeds repeats seed 2/],
    [['--scenario', 'ddos', '--autoscaler', 'magic'], /--autoscaler must be one of hpa, none, static-max, got "magic"/],
    [['--scenario', 'ddos', '--seed=-4'], /--seed must be an integer between 0 and 4294967295/],
    [['--scenario', 'ddos', '--duration', '0'], /--duration must be an integer between 1 and 86400/],
    [['--scenario', 'ddos', '--out', 'x.txt'], /--out must name a .csv or .json file/],
    [[], /missing required option --scenario/],
  ])('rejects bad input %j with one clear error and exit code 2', async (args, pattern) => {
    const r = await simulate(args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^karma-hpa simulate: error: /);
    expect(r.err).toMatch(pattern);
    expect(r.err).not.toMatch(/\n\s+at /);
  });
});
