/**
 * Dendrogram of an agglomerative clustering: leaves along the x axis coloured by a reference group
 * (e.g. the assigned role), merge heights on the y axis, and an optional dashed line where the tree
 * is cut. Leaf labels are drawn only when they fit.
 */
import { coord, escapeXml, textWidth } from './text.ts';
import { linearScale, niceTicks } from './scale.ts';
import { FONT_SIZE, legend, legendHeight, leftMarginFor, paletteColor, svgOpen, SVG_CLOSE, yAxis, type LegendEntry, type PlotArea } from './frame.ts';

export interface DendrogramSpec {
  title: string;
  /** Merges as agglomeration produces them: ids < leaves are leaves, leaves + i is merge i. */
  merges: { a: number; b: number; height: number }[];
  leafLabels: string[];
  /** Group of each leaf, for colour and legend. */
  leafGroups: string[];
  /** Height at which the tree is cut into clusters. */
  cutHeight?: number;
  cutLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  description?: string;
}

export function dendrogramChart(spec: DendrogramSpec): string {
  const n = spec.leafLabels.length;
  if (spec.leafGroups.length !== n) throw new RangeError(`dendrogram "${spec.title}": ${spec.leafGroups.length} leaf groups for ${n} leaves`);
  if (n > 0 && spec.merges.length !== n - 1) throw new RangeError(`dendrogram "${spec.title}": ${spec.merges.length} merges for ${n} leaves (need ${n - 1})`);
  const width = spec.width ?? 900;
  const plotHeight = spec.height ?? 320;
  const maxHeight = Math.max(0, ...spec.merges.map((m) => m.height).filter(Number.isFinite));
  const yTicks = niceTicks(0, maxHeight > 0 ? maxHeight : 1, 5);
  const left = leftMarginFor(yTicks, spec.yLabel);
  const area: PlotArea = { left, top: 34, width: width - left - 16, height: plotHeight };
  const slot = area.width / Math.max(1, n);
  const showLabels = n > 0 && slot >= FONT_SIZE + 2;
  const labelBlock = showLabels ? Math.min(160, Math.max(...spec.leafLabels.map((l) => textWidth(l, FONT_SIZE - 2))) * 0.75) + 18 : 14;
  const groups = [...new Set(spec.leafGroups)].sort();
  const colorOf = new Map(groups.map((g, i) => [g, paletteColor(i)]));
  const entries: LegendEntry[] = groups.map((g) => ({ label: g, color: colorOf.get(g)!, swatch: 'box' }));
  const legendTop = area.top + plotHeight + labelBlock;
  const total = legendTop + legendHeight(entries, area.width) + 8;
  const y = linearScale(yTicks.lo, yTicks.hi, area.top + area.height, area.top);

  // Leaf order without crossings: depth-first, a before b.
  const order: number[] = [];
  if (n === 1) order.push(0);
  else if (n > 1) {
    const stack = [n + spec.merges.length - 1];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (node < n) order.push(node);
      else stack.push(spec.merges[node - n]!.b, spec.merges[node - n]!.a);
    }
  }
  const xOf = new Float64Array(n + spec.merges.length);
  const hOf = new Float64Array(n + spec.merges.length);
  order.forEach((leaf, i) => {
    xOf[leaf] = area.left + slot * (i + 0.5);
  });
  const out = svgOpen(width, total, spec.title, spec.description);
  out.push(...yAxis(area, yTicks, y, spec.yLabel));
  out.push('<g class="tree" stroke="#444444" fill="none" stroke-width="1">');
  spec.merges.forEach((m, i) => {
    const id = n + i;
    xOf[id] = (xOf[m.a]! + xOf[m.b]!) / 2;
    hOf[id] = Number.isFinite(m.height) ? m.height : maxHeight;
    const ya = coord(y(hOf[m.a]!));
    const yb = coord(y(hOf[m.b]!));
    const ym = coord(y(hOf[id]!));
    out.push(`<path d="M${coord(xOf[m.a]!)} ${ya}L${coord(xOf[m.a]!)} ${ym}L${coord(xOf[m.b]!)} ${ym}L${coord(xOf[m.b]!)} ${yb}"/>`);
  });
  out.push('</g>');
  const base = area.top + area.height;
  out.push('<g class="leaves">');
  order.forEach((leaf) => {
    const group = spec.leafGroups[leaf]!;
    const lx = xOf[leaf]!;
    out.push(`<rect class="leaf" data-group="${escapeXml(group)}" x="${coord(lx - Math.max(0.5, slot * 0.4))}" y="${coord(base + 2)}" width="${coord(Math.max(1, slot * 0.8))}" height="8" fill="${colorOf.get(group)}"><title>${escapeXml(spec.leafLabels[leaf]!)}</title></rect>`);
    if (showLabels) out.push(`<text x="${coord(lx)}" y="${coord(base + 14)}" transform="rotate(-60 ${coord(lx)} ${coord(base + 14)})" text-anchor="end" font-size="${FONT_SIZE - 2}">${escapeXml(spec.leafLabels[leaf]!)}</text>`);
  });
  out.push('</g>');
  if (spec.cutHeight !== undefined && Number.isFinite(spec.cutHeight)) {
    const cy = coord(y(spec.cutHeight));
    out.push(`<g class="cut"><line x1="${coord(area.left)}" x2="${coord(area.left + area.width)}" y1="${cy}" y2="${cy}" stroke="#D55E00" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${coord(area.left + area.width - 4)}" y="${coord(y(spec.cutHeight) - 4)}" text-anchor="end" font-size="${FONT_SIZE - 1}" fill="#D55E00">${escapeXml(spec.cutLabel ?? 'cut')}</text></g>`);
  }
  out.push(...legend(entries, area.left, legendTop, area.width).markup);
  out.push(SVG_CLOSE);
  return `${out.join('\n')}\n`;
}
