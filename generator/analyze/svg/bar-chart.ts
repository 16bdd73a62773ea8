/**
 * Grouped bar chart: one cluster of bars per category (e.g. a scenario), one bar per group (e.g. a
 * method), with optional error bars (e.g. a 95 % confidence interval).
 */
import { coord, escapeXml, formatValue, textWidth } from './text.ts';
import { extent, linearScale, niceTicks } from './scale.ts';
import { FONT_SIZE, legend, legendHeight, leftMarginFor, paletteColor, svgOpen, SVG_CLOSE, yAxis, type LegendEntry, type PlotArea } from './frame.ts';

export interface BarGroup {
  name: string;
  /** One value per category; NaN leaves the slot empty. */
  values: number[];
  /** Optional [lo, hi] per category. */
  intervals?: ([number, number] | undefined)[];
  color?: string;
}

export interface BarChartSpec {
  title: string;
  categories: string[];
  groups: BarGroup[];
  yLabel?: string;
  width?: number;
  height?: number;
  yDomain?: [number, number];
  /** Print each bar's value above it. */
  showValues?: boolean;
  /** Horizontal reference lines, e.g. a target. */
  referenceLines?: { y: number; label: string }[];
  description?: string;
}

export function barChart(spec: BarChartSpec): string {
  for (const g of spec.groups) {
    if (g.values.length !== spec.categories.length) throw new RangeError(`bar chart "${spec.title}": group "${g.name}" has ${g.values.length} values for ${spec.categories.length} categories`);
  }
  const width = spec.width ?? 720;
  const plotHeight = spec.height ?? 260;
  const all: number[] = [0];
  for (const g of spec.groups) {
    all.push(...g.values);
    for (const iv of g.intervals ?? []) if (iv) all.push(iv[0], iv[1]);
  }
  const ys = spec.yDomain ?? extent([all]) ?? [0, 1];
  const yTicks = niceTicks(ys[0], ys[1], 5);
  const yDomain = spec.yDomain ?? [yTicks.lo, yTicks.hi];
  if (spec.yDomain) yTicks.values = yTicks.values.filter((v) => v >= yDomain[0] - 1e-9 && v <= yDomain[1] + 1e-9);

  const left = leftMarginFor(yTicks, spec.yLabel);
  const top = 34;
  const area: PlotArea = { left, top, width: width - left - 16, height: plotHeight };
  const slot = area.width / Math.max(1, spec.categories.length);
  // Rotate category labels when they do not fit under their slot.
  const widestLabel = Math.max(0, ...spec.categories.map((c) => textWidth(c, FONT_SIZE)));
  const rotate = widestLabel > slot - 6;
  const labelBlock = rotate ? Math.min(140, widestLabel * 0.72) + 16 : FONT_SIZE + 14;
  const entries: LegendEntry[] = spec.groups.map((g, i) => ({ label: g.name, color: g.color ?? paletteColor(i), swatch: 'box' }));
  const legendTop = top + plotHeight + labelBlock + 8;
  const total = legendTop + legendHeight(entries, area.width) + 8;
  const y = linearScale(yDomain[0], yDomain[1], area.top + area.height, area.top);
  const baseline = y(Math.min(Math.max(0, yDomain[0]), yDomain[1]));

  const out = svgOpen(width, total, spec.title, spec.description);
  out.push(...yAxis(area, yTicks, y, spec.yLabel));
  const axisY = area.top + area.height;
  out.push(`<g class="axis x-axis"><line x1="${coord(area.left)}" x2="${coord(area.left + area.width)}" y1="${coord(axisY)}" y2="${coord(axisY)}" stroke="#333333"/>`);
  spec.categories.forEach((c, ci) => {
    const cx = area.left + slot * (ci + 0.5);
    if (rotate) {
      out.push(`<text x="${coord(cx)}" y="${coord(axisY + 10)}" transform="rotate(-40 ${coord(cx)} ${coord(axisY + 10)})" text-anchor="end" fill="#333333">${escapeXml(c)}</text>`);
    } else {
      out.push(`<text x="${coord(cx)}" y="${coord(axisY + 6 + FONT_SIZE)}" text-anchor="middle" fill="#333333">${escapeXml(c)}</text>`);
    }
  });
  out.push('</g>');

  const groupCount = Math.max(1, spec.groups.length);
  const barWidth = (slot * 0.8) / groupCount;
  spec.groups.forEach((g, gi) => {
    const color = entries[gi]!.color;
    out.push(`<g class="series" data-series="${escapeXml(g.name)}">`);
    g.values.forEach((v, ci) => {
      if (!Number.isFinite(v)) return;
      const bx = area.left + slot * ci + slot * 0.1 + barWidth * gi;
      const vy = y(Math.min(Math.max(v, yDomain[0]), yDomain[1]));
      const top = Math.min(vy, baseline);
      const h = Math.abs(baseline - vy);
      out.push(`<rect x="${coord(bx)}" y="${coord(top)}" width="${coord(barWidth * 0.92)}" height="${coord(h)}" fill="${color}"><title>${escapeXml(`${spec.categories[ci]} — ${g.name}: ${formatValue(v)}`)}</title></rect>`);
      const iv = g.intervals?.[ci];
      if (iv && Number.isFinite(iv[0]) && Number.isFinite(iv[1])) {
        const mx = coord(bx + barWidth * 0.46);
        const y0 = coord(y(iv[0]));
        const y1 = coord(y(iv[1]));
        out.push(`<path class="interval" d="M${mx} ${y0}L${mx} ${y1}M${coord(bx + barWidth * 0.26)} ${y0}L${coord(bx + barWidth * 0.66)} ${y0}M${coord(bx + barWidth * 0.26)} ${y1}L${coord(bx + barWidth * 0.66)} ${y1}" stroke="#222222" fill="none"/>`);
      }
      if (spec.showValues) {
        const labelY = Math.min(top, iv ? y(Math.max(iv[0], iv[1])) : top) - 3;
        out.push(`<text x="${coord(bx + barWidth * 0.46)}" y="${coord(labelY)}" text-anchor="middle" font-size="${FONT_SIZE - 2}">${escapeXml(formatValue(v))}</text>`);
      }
    });
    out.push('</g>');
  });
  for (const ref of spec.referenceLines ?? []) {
    if (ref.y < yDomain[0] || ref.y > yDomain[1]) continue;
    const ry = coord(y(ref.y));
    out.push(`<g class="reference"><line x1="${coord(area.left)}" x2="${coord(area.left + area.width)}" y1="${ry}" y2="${ry}" stroke="#D55E00" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${coord(area.left + area.width - 4)}" y="${coord(y(ref.y) - 4)}" text-anchor="end" font-size="${FONT_SIZE - 1}" fill="#D55E00">${escapeXml(ref.label)}</text></g>`);
  }
  out.push(...legend(entries, area.left, legendTop, area.width).markup);
  out.push(SVG_CLOSE);
  return `${out.join('\n')}\n`;
}
