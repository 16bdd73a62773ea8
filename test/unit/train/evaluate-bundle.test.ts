import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../generator/cli/main.ts';
import { captureIo } from '../../support/io.ts';

const fixture = new URL('../../fixtures/train/short-ddos.yaml', import.meta.url).pathname;
const exampleBundle = new URL('../../../policies/examples/chained-services.bundle.json', import.meta.url).pathname;

describe('karma-hpa evaluate --bundle', () => {
  it('evaluates a PolicyBundle\'s agents against the default HPA, with one seed, as JSON and a Markdown report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'karma-eval-bundle-'));
    try {
      const io = captureIo({ cwd: dir });
      const code = await main(['evaluate', '--topology', 'chained-services', '--scenarios', fixture, '--bundle', exampleBundle, '--seeds', '1', '--json', '--out', 'eval', '--report', 'report.md'], io);
      expect(io.stderr()).not.toMatch(/error/);
      expect(code).toBe(0);
      const out = JSON.parse(io.stdout()) as { methods: string[]; bundle: { version: string; digest: string }; summary: { method: string; successRate: { mean: number; halfWidth: number | null } }[] };
      expect(out.methods).toEqual(['bundle', 'default-hpa']);
      expect(out.bundle.digest).toMatch(/^sha256:/);
      expect(out.summary.map((r) => r.method)).toEqual(['bundle', 'default-hpa']);
      // One seed: the interval is undefined and written as null, the mean is a real number.
      for (const r of out.summary) {
        expect(r.successRate.halfWidth).toBeNull();
        expect(r.successRate.mean).toBeGreaterThan(0);
      }
      const summaryFile = JSON.parse(readFileSync(join(dir, 'eval', 'summary.json'), 'utf8')) as { summary: unknown[] };
      expect(summaryFile.summary).toHaveLength(2);
      const report = readFileSync(join(dir, 'report.md'), 'utf8');
      expect(report).toContain(`v${out.bundle.version}`);
      expect(report).toMatch(/\| short-ddos \| bundle \|/);
      expect(report).toMatch(/\| short-ddos \| default-hpa \|/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('checks the product goal for the bundle\'s agents against both HPA baselines, with the gap to the clairvoyant bound', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'karma-eval-bundle-'));
    try {
      const io = captureIo({ cwd: dir });
      const code = await main(['evaluate', '--topology', 'chained-services', '--scenarios', fixture, '--bundle', exampleBundle, '--methods', 'bundle,default-hpa,tuned-hpa,clairvoyant', '--seeds', '1', '--json', '--out', 'eval', '--report', 'report.md'], io);
      expect(code).toBe(0);
      type Row = { method: string; failedShare: { mean: number }; replicaSeconds: { mean: number } };
      const out = JSON.parse(io.stdout()) as { summary: Row[]; goal: { scenario: string; method: string; failedShare: number; failedLimit: number; costRatio: number; met: boolean; clairvoyant: { failedShare: number; gap: number } }[] };
      const of = (m: string): Row => out.summary.find((r) => r.method === m)!;
      expect(out.goal).toHaveLength(1);
      const g = out.goal[0]!;
      expect(g).toMatchObject({ scenario: 'short-ddos', method: 'bundle' });
      expect(g.failedShare).toBeCloseTo(of('bundle').failedShare.mean, 12);
      expect(g.failedLimit).toBeCloseTo(Math.min(0.25 * of('default-hpa').failedShare.mean, 0.5 * of('tuned-hpa').failedShare.mean), 12);
      expect(g.costRatio).toBeCloseTo(of('bundle').replicaSeconds.mean / of('tuned-hpa').replicaSeconds.mean, 12);
      expect(g.met).toBe(g.failedShare <= g.failedLimit && g.costRatio <= 1.1);
      expect(g.clairvoyant.gap).toBeCloseTo(g.failedShare - of('clairvoyant').failedShare.mean, 12);
      const summaryFile = JSON.parse(readFileSync(join(dir, 'eval', 'summary.json'), 'utf8')) as { goal: unknown[]; summary: { method: string; saturatedAtCeiling: unknown }[] };
      expect(summaryFile.goal).toEqual(out.goal);
      // Where the clairvoyant ran services saturated at their ceiling, from its raw episode: on this
      // surge B (3 replicas) and A (5) both are, and the goal names those held there ≥ 15 s.
      const episodes = JSON.parse(readFileSync(join(dir, 'eval', 'episodes.json'), 'utf8')) as { episodes: { method: string; metrics: { services: Record<string, { saturatedAtCeilingSeconds: number }> } }[] };
      const clair = episodes.episodes.find((e) => e.method === 'clairvoyant')!;
      const atCeiling = Object.entries(clair.metrics.services).filter(([, m]) => m.saturatedAtCeilingSeconds > 0)
        .map(([service, m]) => ({ service, seconds: m.saturatedAtCeilingSeconds })).sort((a, b) => b.seconds - a.seconds);
      expect(atCeiling.map((c) => c.service).sort()).toEqual(['A', 'B']);
      expect(summaryFile.summary.find((r) => r.method === 'clairvoyant')!.saturatedAtCeiling).toEqual(atCeiling);
      expect((g.clairvoyant as unknown as { atCeiling: unknown }).atCeiling).toEqual(atCeiling.filter((c) => c.seconds >= 15));
      for (const text of [readFileSync(join(dir, 'report.md'), 'utf8'), readFileSync(join(dir, 'eval', 'summary.md'), 'utf8')]) {
        expect(text).toContain('Goal per scenario');
        expect(text).toMatch(/\| short-ddos \| bundle \| [\d.]+ \| [\d.]+ \| [\d.]+ \| (met|missed \([a-z ,]+\)) \| [\d.]+( \(above the goal\))? \| [+−][\d.]+ \| (B|A) \d+, (A|B) \d+ \|/);
        expect(text).toContain('only a higher ceiling adds that capacity');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a tampered bundle with its digest error, and the bundle method without a bundle', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'karma-eval-bundle-'));
    try {
      const bundle = JSON.parse(readFileSync(exampleBundle, 'utf8')) as { spec: { guards: { maxStep: number } } };
      bundle.spec.guards.maxStep += 1;
      writeFileSync(join(dir, 'tampered.json'), JSON.stringify(bundle));
      const io = captureIo({ cwd: dir });
      expect(await main(['evaluate', '--topology', 'chained-services', '--scenarios', fixture, '--bundle', 'tampered.json'], io)).toBe(2);
      expect(io.stderr()).toMatch(/invalid PolicyBundle/);
      expect(io.stderr()).toMatch(/digest/);
      const io2 = captureIo({ cwd: dir });
      expect(await main(['evaluate', '--topology', 'chained-services', '--scenarios', fixture, '--methods', 'bundle'], io2)).toBe(2);
      expect(io2.stderr()).toMatch(/needs --bundle FILE/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
