/**
 * Dependency-free, byte-deterministic SVG charts for reports reviewed on GitHub: pure functions
 * from plain data to a standalone SVG document string.
 */
export { lineChart, type LineChartSpec, type LineSeries, type EventMarker } from './line-chart.ts';
export { barChart, type BarChartSpec, type BarGroup } from './bar-chart.ts';
export { escapeXml, formatValue, tickLabel } from './text.ts';
export { niceTicks, niceStep, linearScale, extent, type Ticks } from './scale.ts';
export { PALETTE, paletteColor } from './frame.ts';
export { dendrogramChart, type DendrogramSpec } from './dendrogram.ts';
export { stackCharts } from './stack.ts';
