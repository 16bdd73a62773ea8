import { describe, expect, it } from 'vitest';
import { barChart, escapeXml, lineChart, niceTicks, tickLabel } from '../../../generator/analyze/svg/index.ts';
import { allGeometryFinite, findAll, parseSvg, seriesNames } from './svg-xml.ts';

describe('niceTicks', () => {
  it.each([
    [0, 1, 5, 0, 1, 0.2],
    [0, 97, 5, 0, 100, 20],
    [3, 47, 5, 0, 50, 10],
    [-2.3, 7.1, 5, -4, 8, 2],
    [0, 600, 8, 0, 600, 100],
    [0.1, 0.3, 5, 0.1, 0.3, 0.05],
  ])('ticks for [%d, %d] / %d → [%d, %d] step %d', (min, max, target, lo, hi, step) => {
    const t = niceTicks(min, max, target);
    expect(t.lo).toBe(lo);
    expect(t.hi).toBe(hi);
    expect(t.step).toBeCloseTo(step, 12);
    expect(t.values[0]).toBe(lo);
    expect(t.values.at(-1)).toBe(hi);
  });

  it('gives clean decimal tick values without float noise', () => {
    expect(niceTicks(0, 0.3, 3).values).toEqual([0, 0.1, 0.2, 0.3]);
  });

  it('widens a flat range so a constant series still has an axis', () => {
    const t = niceTicks(5, 5);
    expect(t.lo).toBeLessThan(5);
    expect(t.hi).toBeGreaterThan(5);
    expect(niceTicks(0, 0).values.length).toBeGreaterThan(1);
  });

  it('labels large values with k and M suffixes and small steps with enough decimals', () => {
    expect(tickLabel(20000, 5000)).toBe('20k');
    expect(tickLabel(2_500_000, 500_000)).toBe('2.5M');
    expect(tickLabel(0.25, 0.05)).toBe('0.25');
    expect(tickLabel(-0, 1)).toBe('0');
    expect([0, 2500, 5000, 7500, 10000, 12500].map((v) => tickLabel(v, 2500))).toEqual(['0', '2.5k', '5k', '7.5k', '10k', '12.5k']);
    expect([5, 7.5, 10].map((v) => tickLabel(v, 2.5))).toEqual(['5', '7.5', '10']);
  });
});

describe('escapeXml', () => {
  it('escapes markup characters and drops characters XML cannot carry', () => {
    expect(escapeXml(`<a & "b" 'c'>`)).toBe('&lt;a &amp; &quot;b&quot; &#39;c&#39;&gt;');
    expect(escapeXml('bell\u0007tab\t')).toBe('belltab\t');
  });
});

describe('lineChart', () => {
  const xs = Array.from({ length: 60 }, (_, i) => i * 10);
  const spec = {
    title: 'Replicas of <frontend> & "cart"',
    xLabel: 'time (s)',
    yLabel: 'replicas',
    series: [
      { name: 'KARMA MAS', x: xs, y: xs.map((x) => 2 + Math.round(x / 150)), step: true },
      { name: 'default HPA <v2>', x: xs, y: xs.map((x) => (x === 300 ? Number.NaN : 1 + x / 200)), dashed: true, band: { lo: xs.map((x) => x / 200), hi: xs.map((x) => 2 + x / 200) } },
    ],
    markers: [{ x: 120, label: 'crash loop starts' }],
  };

  it('is well-formed SVG with the title, both series, their legend entries and the marker', () => {
    const svg = lineChart(spec);
    const root = parseSvg(svg);
    expect(findAll(root, (n) => n.name === 'title')[0]!.text).toBe('Replicas of <frontend> & "cart"');
    expect(seriesNames(svg)).toEqual(['KARMA MAS', 'default HPA <v2>']);
    const legend = findAll(root, (n) => n.attrs.class === 'legend-entry').map((n) => n.attrs['data-series']);
    expect(legend).toEqual(['KARMA MAS', 'default HPA <v2>']);
    expect(findAll(root, (n) => n.attrs.class === 'marker')).toHaveLength(1);
    expect(allGeometryFinite(svg)).toBe(true);
  });

  it('breaks a line at a missing value instead of drawing through it', () => {
    const svg = lineChart(spec);
    const hpa = findAll(parseSvg(svg), (n) => n.attrs.class === 'series' && n.attrs['data-series'] === 'default HPA <v2>')[0]!;
    const line = hpa.children.find((c) => c.attrs.class === 'line')!;
    expect(line.attrs.d!.match(/M/g)).toHaveLength(2);
    expect(hpa.children.some((c) => c.attrs.class === 'band')).toBe(true);
  });

  it('is byte-identical for the same input', () => {
    expect(lineChart(spec)).toBe(lineChart(structuredClone(spec)));
  });

  it('accepts Float32Array columns and empty series', () => {
    const svg = lineChart({ title: 'empty', series: [{ name: 'a', x: new Float32Array([0, 1, 2]), y: new Float32Array([1, 2, 3]) }, { name: 'b', x: [], y: [] }] });
    expect(seriesNames(svg)).toEqual(['a', 'b']);
    expect(allGeometryFinite(svg)).toBe(true);
  });

  it('refuses a series whose x and y lengths differ', () => {
    expect(() => lineChart({ title: 't', series: [{ name: 'a', x: [1, 2], y: [1] }] })).toThrow(/series "a" has 2 x values but 1 y values/);
  });
});

describe('barChart', () => {
  it('draws one bar per finite value, error bars for intervals, and is well-formed', () => {
    const svg = barChart({
      title: 'Success rate by scenario',
      categories: ['bottleneck', 'ddos', 'crash-loop'],
      groups: [
        { name: 'MAS', values: [0.9, 0.92, 0.88], intervals: [[0.87, 0.93], [0.9, 0.94], undefined] },
        { name: 'HPA', values: [0.6, Number.NaN, 0.7] },
      ],
      yDomain: [0, 1],
      showValues: true,
      referenceLines: [{ y: 0.9, label: 'target 90 %' }, { y: 2, label: 'off the scale' }],
    });
    const root = parseSvg(svg);
    expect(findAll(root, (n) => n.attrs.class === 'reference')).toHaveLength(1);
    expect(seriesNames(svg)).toEqual(['MAS', 'HPA']);
    expect(findAll(root, (n) => n.name === 'rect' && n.children.some((c) => c.name === 'title'))).toHaveLength(5);
    expect(findAll(root, (n) => n.attrs.class === 'interval')).toHaveLength(2);
    expect(allGeometryFinite(svg)).toBe(true);
  });

  it('rotates long category labels', () => {
    const svg = barChart({ title: 't', categories: Array.from({ length: 8 }, (_, i) => `a-rather-long-scenario-name-${i}`), groups: [{ name: 'g', values: Array(8).fill(1) }] });
    expect(findAll(parseSvg(svg), (n) => n.name === 'text' && (n.attrs.transform ?? '').startsWith('rotate(-40'))).toHaveLength(8);
  });
});
