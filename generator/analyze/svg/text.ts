/**
 * Text and number formatting shared by every chart. Numbers are written with a fixed number of
 * decimals so that the same data always gives the same bytes, whatever the platform.
 */

/** Escape text for use in SVG element content and attribute values. */
export function escapeXml(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === '&') out += '&amp;';
    else if (ch === '<') out += '&lt;';
    else if (ch === '>') out += '&gt;';
    else if (ch === '"') out += '&quot;';
    else if (ch === "'") out += '&#39;';
    // XML 1.0 forbids most control characters even when escaped; drop them rather than emit an invalid file.
    else if (code < 0x20 && ch !== '\t' && ch !== '\n' && ch !== '\r') continue;
    else if (code === 0xfffe || code === 0xffff) continue;
    else out += ch;
  }
  return out;
}

/** A coordinate with at most two decimals, never `-0`, never exponent notation. */
export function coord(n: number): string {
  const r = Math.round(n * 100) / 100;
  if (Object.is(r, -0) || r === 0) return '0';
  return Number.isInteger(r) ? String(r) : r.toFixed(2).replace(/0+$/, '').replace(/\.$/, '');
}

/** Label for a tick value, with as many decimals as the tick step needs; thousands get k / M suffixes. */
export function tickLabel(value: number, step: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6 && step >= 1e5) return `${trimDecimals(value / 1e6, decimalsFor(step / 1e6))}M`;
  if (abs >= 1e3 && step >= 1e3) return `${trimDecimals(value / 1e3, decimalsFor(step / 1e3))}k`;
  return trimDecimals(value, decimalsFor(step));
}

/** Decimals that write every multiple of `step` exactly (2.5 → 1, 0.25 → 2, 20 → 0). */
function decimalsFor(step: number): number {
  if (!(step > 0) || !Number.isFinite(step)) return 0;
  for (let d = 0; d <= 6; d++) {
    const scaled = step * 10 ** d;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-9 * Math.max(1, scaled)) return d;
  }
  return 6;
}

/** Fixed decimals, then trailing zeros dropped, so 12.5k and 10k sit on one axis. */
function trimDecimals(value: number, decimals: number): string {
  let s = value.toFixed(decimals);
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s === '-0' ? '0' : s;
}

/** A readable value for tables and tooltips: up to `digits` significant digits, no exponent for ordinary sizes. */
export function formatValue(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e6 || abs < 1e-4) return value.toExponential(digits - 1);
  const decimals = Math.max(0, digits - 1 - Math.floor(Math.log10(abs)));
  const s = value.toFixed(Math.min(decimals, 8));
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/** Rough width of a label in pixels for a sans-serif face; used only to reserve margins. */
export function textWidth(text: string, fontSize: number): number {
  return [...text].length * fontSize * 0.6;
}
