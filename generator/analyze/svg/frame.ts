/**
 * The parts every chart shares: the root element with an accessible title, the plot frame with its
 * axes, grid and labels, and the legend. Charts compose these with their own marks.
 */
import { coord, escapeXml, textWidth, tickLabel } from './text.ts';
import type { Ticks } from './scale.ts';

/** Colour-blind-safe palette (Okabe & Ito), in the order series take it. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'] as const;

export function paletteColor(index: number): string {
  return PALETTE[index % PALETTE.length]!;
}

export const FONT_SIZE = 12;
export const TITLE_SIZE = 14;

export interface LegendEntry {
  label: string;
  color: string;
  dashed?: boolean;
  /** 'line' for line charts, 'box' for bars and leaf groups. */
  swatch: 'line' | 'box';
}

export interface PlotArea {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Open the root element; `title` is both visible and the accessible name. */
export function svgOpen(width: number, height: number, title: string, description?: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${coord(width)}" height="${coord(height)}" viewBox="0 0 ${coord(width)} ${coord(height)}" role="img" font-family="Helvetica, Arial, sans-serif" font-size="${FONT_SIZE}">`,
    `<title>${escapeXml(title)}</title>`,
    ...(description ? [`<desc>${escapeXml(description)}</desc>`] : []),
    `<rect width="${coord(width)}" height="${coord(height)}" fill="#ffffff"/>`,
    `<text class="chart-title" x="${coord(width / 2)}" y="${coord(TITLE_SIZE + 6)}" text-anchor="middle" font-size="${TITLE_SIZE}" font-weight="bold">${escapeXml(title)}</text>`,
  ];
}

export const SVG_CLOSE = '</svg>';

/** Left margin wide enough for the y tick labels and the rotated axis label. */
export function leftMarginFor(yTicks: Ticks, yLabel: string | undefined): number {
  const widest = Math.max(...yTicks.values.map((v) => textWidth(tickLabel(v, yTicks.step), FONT_SIZE)));
  return Math.ceil(widest + 14 + (yLabel ? FONT_SIZE + 8 : 0));
}

/** Horizontal grid lines, y ticks with labels, and the y axis label. */
export function yAxis(area: PlotArea, ticks: Ticks, y: (v: number) => number, label?: string): string[] {
  const out = ['<g class="axis y-axis">'];
  for (const v of ticks.values) {
    const py = coord(y(v));
    out.push(`<line x1="${coord(area.left)}" x2="${coord(area.left + area.width)}" y1="${py}" y2="${py}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${coord(area.left - 6)}" y="${py}" dy="0.32em" text-anchor="end" fill="#333333">${escapeXml(tickLabel(v, ticks.step))}</text>`);
  }
  out.push(`<line x1="${coord(area.left)}" x2="${coord(area.left)}" y1="${coord(area.top)}" y2="${coord(area.top + area.height)}" stroke="#333333"/>`);
  if (label) {
    const cx = coord(FONT_SIZE + 2);
    const cy = coord(area.top + area.height / 2);
    out.push(`<text class="axis-label" x="${cx}" y="${cy}" transform="rotate(-90 ${cx} ${cy})" text-anchor="middle">${escapeXml(label)}</text>`);
  }
  out.push('</g>');
  return out;
}

/** The x axis line with numeric ticks and the x axis label. */
export function xAxis(area: PlotArea, ticks: Ticks, x: (v: number) => number, label?: string): string[] {
  const base = area.top + area.height;
  const out = ['<g class="axis x-axis">'];
  out.push(`<line x1="${coord(area.left)}" x2="${coord(area.left + area.width)}" y1="${coord(base)}" y2="${coord(base)}" stroke="#333333"/>`);
  for (const v of ticks.values) {
    const px = coord(x(v));
    out.push(`<line x1="${px}" x2="${px}" y1="${coord(base)}" y2="${coord(base + 4)}" stroke="#333333"/>`);
    out.push(`<text x="${px}" y="${coord(base + 6 + FONT_SIZE)}" text-anchor="middle" fill="#333333">${escapeXml(tickLabel(v, ticks.step))}</text>`);
  }
  if (label) out.push(`<text class="axis-label" x="${coord(area.left + area.width / 2)}" y="${coord(base + 14 + 2 * FONT_SIZE)}" text-anchor="middle">${escapeXml(label)}</text>`);
  out.push('</g>');
  return out;
}

/** Legend laid out in rows under the plot; returns the markup and the height it takes. */
export function legend(entries: LegendEntry[], left: number, top: number, maxWidth: number): { markup: string[]; height: number } {
  if (entries.length === 0) return { markup: [], height: 0 };
  const rowHeight = FONT_SIZE + 8;
  const out = ['<g class="legend">'];
  let x = left;
  let y = top;
  for (const e of entries) {
    const w = 26 + textWidth(e.label, FONT_SIZE) + 16;
    if (x > left && x + w > left + maxWidth) {
      x = left;
      y += rowHeight;
    }
    out.push(`<g class="legend-entry" data-series="${escapeXml(e.label)}">`);
    if (e.swatch === 'line') {
      out.push(`<line x1="${coord(x)}" x2="${coord(x + 20)}" y1="${coord(y + FONT_SIZE / 2)}" y2="${coord(y + FONT_SIZE / 2)}" stroke="${e.color}" stroke-width="2.5"${e.dashed ? ' stroke-dasharray="6 3"' : ''}/>`);
    } else {
      out.push(`<rect x="${coord(x + 4)}" y="${coord(y + 1)}" width="12" height="${coord(FONT_SIZE - 2)}" fill="${e.color}"/>`);
    }
    out.push(`<text x="${coord(x + 26)}" y="${coord(y + FONT_SIZE / 2)}" dy="0.32em">${escapeXml(e.label)}</text>`);
    out.push('</g>');
    x += w;
  }
  out.push('</g>');
  return { markup: out, height: y - top + rowHeight };
}

/** Height a legend will need, computed with the same layout as `legend`. */
export function legendHeight(entries: LegendEntry[], maxWidth: number): number {
  return legend(entries, 0, 0, maxWidth).height;
}
