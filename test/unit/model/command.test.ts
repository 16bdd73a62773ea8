import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../../generator/cli/main.ts';
import { captureIo } from '../../support/io.ts';
import { CART_FILE, mapColumn, SLICE_DIR, sliceCopy } from './slice.ts';

const out = mkdtempSync(join(tmpdir(), 'karma-model-cli-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
const TINY = ['--ensemble', '1', '--epochs', '2', '--hidden', '8,8'];

describe('karma-hpa model', () => {
  it('fits, writes twin.json and the plot, and prints the fidelity table with progress on stderr', async () => {
    const io = captureIo({ cwd: out });
    const code = await main(['model', '--traces', SLICE_DIR, '--out', 'twin.json', '--plot', 'plots/fidelity.svg', '--seed', '3', ...TINY], io);
    expect(io.stderr()).not.toMatch(/error/);
    expect(code).toBe(0);
    expect(io.stdout()).toMatch(/Fidelity on the held-back slice 2022-08-22T05:21:19Z – 2022-08-22T05:50:19Z/);
    expect(io.stdout()).toMatch(/10-step-ahead \(600 s\)/);
    expect(io.stdout()).toMatch(/frontend\s+latencyP90\s+[\d.e-]+\s+[\d.e-]+\s+[\d.e-]+/);
    expect(io.stdout()).toMatch(/Checks:\n {2}(PASS|FAIL) {2}frontend cpu 10-step MAE: hybrid < persistence/);
    expect(io.stdout()).toMatch(/cpu_contention\s+2\s+[\d.]+/);
    expect(io.stderr()).toMatch(/fit mlp: 1\/1 \(100%\)/);
    expect(io.stderr()).toMatch(/loaded 3 services × 120 steps of 60 s/);
    const twin = JSON.parse(readFileSync(join(out, 'twin.json'), 'utf8')) as { schemaVersion: number; kind: string; provenance: { seed: number }; digest: string };
    expect(twin).toMatchObject({ schemaVersion: 1, kind: 'KarmaTwin', provenance: { seed: 3 } });
    expect(twin.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const svg = readFileSync(join(out, 'plots/fidelity.svg'), 'utf8');
    expect(svg).toMatch(/^<svg xmlns/);
    expect(svg).toContain('frontend latencyP90: 10-step-ahead prediction vs real');
    expect(svg).toContain('plot-area-1');
  });

  it('reads saved Prometheus responses through a mapping file', async () => {
    const io = captureIo({ cwd: out });
    const mapping = fileURLToPath(new URL('../../fixtures/model/prometheus/mapping.yaml', import.meta.url));
    expect(await main(['model', '--traces', mapping, '--out', 'prom-twin.json', ...TINY], io)).toBe(0);
    expect(io.stderr()).toMatch(/loaded 2 services × 60 steps of 60 s from mapping\.yaml/);
    expect(io.stdout()).toMatch(/frontend\s+latencyP90/);
  });

  it('--json prints the report as JSON', async () => {
    const io = captureIo({ cwd: out });
    expect(await main(['model', '--traces', SLICE_DIR, '--out', 'twin2.json', '--json', ...TINY], io)).toBe(0);
    const report = JSON.parse(io.stdout()) as { fidelity: { horizons: { horizon: number }[]; checks: unknown[] }; findings: unknown[] };
    expect(report.fidelity.horizons.map((h) => h.horizon)).toEqual([1, 10]);
    expect(report.findings.length).toBeGreaterThan(0);
  });

  it('the same command twice writes the same bytes', async () => {
    await main(['model', '--traces', SLICE_DIR, '--out', 'a.json', ...TINY], captureIo({ cwd: out }));
    await main(['model', '--traces', SLICE_DIR, '--out', 'b.json', ...TINY], captureIo({ cwd: out }));
    expect(readFileSync(join(out, 'a.json'), 'utf8')).toBe(readFileSync(join(out, 'b.json'), 'utf8'));
  });

  it('--strict refuses traces that need repairs, with exit code 2 and no stack trace', async () => {
    const c = sliceCopy();
    try {
      c.edit(CART_FILE, (t) => mapColumn(t, 1, (v) => String(Number(v) + 200_000_000)));
      const io = captureIo({ cwd: out });
      expect(await main(['model', '--traces', c.dir, '--out', 'strict.json', '--strict', ...TINY], io)).toBe(2);
      expect(io.stderr()).toMatch(/karma-hpa model: error: .*--strict refuses/);
      expect(io.stderr()).toMatch(/\[clock-shift\]/);
      expect(io.stderr()).not.toMatch(/at .*\.ts:\d+/);
      expect(existsSync(join(out, 'strict.json'))).toBe(false);
    } finally {
      c.remove();
    }
  });

  it('usage errors are clear', async () => {
    const io = captureIo({ cwd: out });
    expect(await main(['model', '--traces', SLICE_DIR], io)).toBe(2);
    expect(io.stderr()).toMatch(/missing required option --out/);
    const io2 = captureIo({ cwd: out });
    expect(await main(['model', '--traces', 'nowhere', '--out', 'x.json'], io2)).toBe(2);
    expect(io2.stderr()).toMatch(/--traces nowhere does not exist/);
    const io3 = captureIo({ cwd: out });
    expect(await main(['model', '--traces', SLICE_DIR, '--out', 'x.json', '--hidden', '8,zero'], io3)).toBe(2);
    expect(io3.stderr()).toMatch(/--hidden must be widths/);
  });
});
