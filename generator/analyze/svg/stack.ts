/**
 * Several charts in one document, one under the other (e.g. load, replicas, latency and success of
 * one scenario). Each chart keeps its own coordinate system as a nested <svg>; give the charts
 * distinct `idPrefix`es so their clip paths stay apart.
 */
import { coord, escapeXml } from './text.ts';

export function stackCharts(title: string, charts: readonly string[], gap = 8): string {
  let y = 0;
  let width = 0;
  const parts: string[] = [];
  for (const chart of charts) {
    const open = /^<svg [^>]*>/.exec(chart);
    if (!open) throw new RangeError('stackCharts: every chart must be a standalone <svg> document');
    const w = Number(/ width="([\d.]+)"/.exec(open[0])?.[1] ?? '0');
    const h = Number(/ height="([\d.]+)"/.exec(open[0])?.[1] ?? '0');
    parts.push(chart.trimEnd().replace(/^<svg /, `<svg x="0" y="${coord(y)}" `));
    y += h + gap;
    width = Math.max(width, w);
  }
  const height = Math.max(0, y - gap);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${coord(width)}" height="${coord(height)}" viewBox="0 0 ${coord(width)} ${coord(height)}" role="img">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${coord(width)}" height="${coord(height)}" fill="#ffffff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
