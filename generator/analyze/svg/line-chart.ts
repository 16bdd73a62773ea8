/**
 * Line chart: several series over a shared numeric x axis, optional shaded bands (e.g. a confidence
 * interval) and vertical event markers (e.g. a fault's onset). Non-finite y values break the line.
 */
import { coord, escapeXml, textWidth } from './text.ts';
import { extent, linearScale, niceTicks } from './scale.ts';
import { FONT_SIZE, legend, legendHeight, leftMarginFor, paletteColor, svgOpen, SVG_CLOSE, xAxis, yAxis, type LegendEntry, type PlotArea } from './frame.ts';

export interface LineSeries {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  color?: string;
  dashed?: boolean;
  /** Shaded region between lo and hi at the same x positions. */
  band?: { lo: ArrayLike<number>; hi: ArrayLike<number> };
  /** Draw as a step function (value holds until the next x), as replica counts behave. */
  step?: boolean;
}

export interface EventMarker {
  x: number;
  label: string;
}

export interface LineChartSpec {
  title: string;
  series: LineSeries[];
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  /** Fixed axis bounds; otherwise taken from the data (and the bands). */
  xDomain?: [number, number];
  yDomain?: [number, number];
  markers?: EventMarker[];
  description?: string;
  /** Prefix for element ids, so several charts can share one document. */
  idPrefix?: string;
}

/** Render a line chart as a standalone SVG document. */
export function lineChart(spec: LineChartSpec): string {
  const width = spec.width ?? 720;
  const plotHeight = spec.height ?? 300;
  spec.series.forEach((s, i) => {
    if (s.x.length !== s.y.length) throw new RangeError(`line chart "${spec.title}": series "${s.name}" has ${s.x.length} x values but ${s.y.length} y values`);
    if (s.band && (s.band.lo.length !== s.x.length || s.band.hi.length !== s.x.length)) throw new RangeError(`line chart "${spec.title}": band of series "${s.name}" (index ${i}) does not match its x values`);
  });

  const xs = spec.xDomain ?? extent(spec.series.map((s) => s.x)) ?? [0, 1];
  const yArrays: ArrayLike<number>[] = [];
  for (const s of spec.series) {
    yArrays.push(s.y);
    if (s.band) yArrays.push(s.band.lo, s.band.hi);
  }
  const ys = spec.yDomain ?? extent(yArrays) ?? [0, 1];
  const xTicks = niceTicks(xs[0], xs[1], 8);
  const yTicks = niceTicks(ys[0], ys[1], 5);
  // Time axes end where the data ends; the value axis extends to whole ticks.
  const xDomain: [number, number] = spec.xDomain ?? (xs[0] < xs[1] ? [xs[0], xs[1]] : [xTicks.lo, xTicks.hi]);
  const yDomain = spec.yDomain ?? [yTicks.lo, yTicks.hi];
  xTicks.values = xTicks.values.filter((v) => v >= xDomain[0] - 1e-9 * Math.max(1, Math.abs(xDomain[0])) && v <= xDomain[1] + 1e-9 * Math.max(1, Math.abs(xDomain[1])));
  if (spec.yDomain) yTicks.values = yTicks.values.filter((v) => v >= yDomain[0] - 1e-9 && v <= yDomain[1] + 1e-9);

  const left = leftMarginFor(yTicks, spec.yLabel);
  const right = 16;
  const top = 34;
  const area: PlotArea = { left, top, width: width - left - right, height: plotHeight };
  const colors = spec.series.map((s, i) => s.color ?? paletteColor(i));
  // A single series named like the chart needs no legend.
  const entries: LegendEntry[] = spec.series.length === 1 && spec.series[0]!.name === spec.title ? [] : spec.series.map((s, i) => ({ label: s.name, color: colors[i]!, dashed: s.dashed, swatch: 'line' }));
  const axisBlock = FONT_SIZE * 2 + 24;
  const legendTop = top + plotHeight + axisBlock;
  const total = legendTop + legendHeight(entries, area.width) + 8;
  const x = linearScale(xDomain[0], xDomain[1], area.left, area.left + area.width);
  const y = linearScale(yDomain[0], yDomain[1], area.top + area.height, area.top);

  const out = svgOpen(width, total, spec.title, spec.description);
  const clipId = `${spec.idPrefix ?? ''}plot-area`;
  out.push(`<defs><clipPath id="${escapeXml(clipId)}"><rect x="${coord(area.left)}" y="${coord(area.top)}" width="${coord(area.width)}" height="${coord(area.height)}"/></clipPath></defs>`);
  out.push(...yAxis(area, yTicks, y, spec.yLabel));
  out.push(...xAxis(area, xTicks, x, spec.xLabel));
  for (const m of spec.markers ?? []) {
    if (m.x < xDomain[0] || m.x > xDomain[1]) continue;
    const px = coord(x(m.x));
    out.push(`<g class="marker"><line x1="${px}" x2="${px}" y1="${coord(area.top)}" y2="${coord(area.top + area.height)}" stroke="#888888" stroke-dasharray="3 3"/>`);
    const anchorRight = x(m.x) + textWidth(m.label, FONT_SIZE - 2) > area.left + area.width;
    out.push(`<text x="${coord(x(m.x) + (anchorRight ? -3 : 3))}" y="${coord(area.top + FONT_SIZE)}" font-size="${FONT_SIZE - 2}" fill="#555555"${anchorRight ? ' text-anchor="end"' : ''}>${escapeXml(m.label)}</text></g>`);
  }
  out.push(`<g class="plot" clip-path="url(#${escapeXml(clipId)})">`);
  spec.series.forEach((s, i) => {
    const color = colors[i]!;
    out.push(`<g class="series" data-series="${escapeXml(s.name)}">`);
    if (s.band) {
      const d = bandPath(s.x, s.band.lo, s.band.hi, x, y);
      if (d) out.push(`<path class="band" d="${d}" fill="${color}" fill-opacity="0.18" stroke="none"/>`);
    }
    const d = linePath(s.x, s.y, x, y, s.step ?? false);
    if (d) out.push(`<path class="line" d="${d}" fill="none" stroke="${color}" stroke-width="2" stroke-linejoin="round"${s.dashed ? ' stroke-dasharray="6 3"' : ''}/>`);
    out.push('</g>');
  });
  out.push('</g>');
  out.push(...legend(entries, area.left, legendTop, area.width).markup);
  out.push(SVG_CLOSE);
  return `${out.join('\n')}\n`;
}

/** Path data for one series; each run of finite points is its own sub-path. */
function linePath(xs: ArrayLike<number>, ys: ArrayLike<number>, x: (v: number) => number, y: (v: number) => number, step: boolean): string {
  const parts: string[] = [];
  let open = false;
  let prevY = 0;
  for (let i = 0; i < xs.length; i++) {
    const xv = xs[i]!;
    const yv = ys[i]!;
    if (!Number.isFinite(xv) || !Number.isFinite(yv)) {
      open = false;
      continue;
    }
    const px = coord(x(xv));
    const py = coord(y(yv));
    if (!open) parts.push(`M${px} ${py}`);
    else if (step) parts.push(`L${px} ${coord(y(prevY))}L${px} ${py}`);
    else parts.push(`L${px} ${py}`);
    open = true;
    prevY = yv;
  }
  return parts.join('');
}

/** Closed path for a band: along hi forwards, along lo backwards; skips non-finite points. */
function bandPath(xs: ArrayLike<number>, lo: ArrayLike<number>, hi: ArrayLike<number>, x: (v: number) => number, y: (v: number) => number): string {
  const idx: number[] = [];
  for (let i = 0; i < xs.length; i++) if (Number.isFinite(xs[i]!) && Number.isFinite(lo[i]!) && Number.isFinite(hi[i]!)) idx.push(i);
  if (idx.length < 2) return '';
  const upper = idx.map((i, k) => `${k === 0 ? 'M' : 'L'}${coord(x(xs[i]!))} ${coord(y(hi[i]!))}`);
  const lower = [...idx].reverse().map((i) => `L${coord(x(xs[i]!))} ${coord(y(lo[i]!))}`);
  return `${upper.join('')}${lower.join('')}Z`;
}
