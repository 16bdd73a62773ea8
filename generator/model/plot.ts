/**
 * Predicted vs real series over the evaluation slice, one panel per (service, metric), stacked in
 * one SVG file. Panels come from the shared chart module (generator/analyze/svg).
 */
import { lineChart } from '../analyze/svg/index.ts';
import type { PredictionSeries } from './twin.ts';

const UNIT: Record<string, string> = { cpu: 'millicores', memory: 'MiB', latencyP90: 's', latencyP95: 's', latencyP99: 's', successRate: 'ratio' };

export function fidelityPlot(series: PredictionSeries[], title: string): string {
  const panels = series.map((s, i) => {
    const t0 = s.times[0] ?? 0;
    const minutes = s.times.map((t) => (t - t0) / 60);
    const svg = lineChart({
      title: `${s.service} ${s.metric}: ${s.horizon}-step-ahead prediction vs real`,
      xLabel: 'minutes into the held-back slice',
      yLabel: `${s.metric} (${UNIT[s.metric] ?? ''})`,
      width: 900,
      height: 260,
      series: [
        { name: 'real', x: minutes, y: s.real, color: '#000000' },
        { name: 'persistence', x: minutes, y: s.persistence, dashed: true, color: '#999999' },
        { name: 'physics', x: minutes, y: s.physics, color: '#E69F00' },
        { name: 'hybrid (± ensemble sd)', x: minutes, y: s.hybrid, color: '#0072B2', band: { lo: s.hybrid.map((v, k) => v - s.spread[k]!), hi: s.hybrid.map((v, k) => v + s.spread[k]!) } },
      ],
    });
    // Each panel defines its own clip path; ids must stay unique once panels share a document.
    return svg.replace(/plot-area/g, `plot-area-${i}`);
  });
  const heights = panels.map((p) => Number(/height="([\d.]+)"/.exec(p)?.[1] ?? '400'));
  const total = heights.reduce((a, b) => a + b, 0);
  let y = 0;
  const body = panels.map((p, i) => {
    const inner = p.replace(/^<svg /, `<svg y="${y}" `);
    y += heights[i]!;
    return inner;
  });
  const esc = title.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="900" height="${total}" viewBox="0 0 900 ${total}" role="img">\n<title>${esc}</title>\n${body.join('')}</svg>\n`;
}
