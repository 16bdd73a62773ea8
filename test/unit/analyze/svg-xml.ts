/** Strict XML checks for generated SVG documents, shared by the analysis tests. */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export interface SvgNode {
  name: string;
  attrs: Record<string, string>;
  children: SvgNode[];
  text: string;
}

/** Parse an SVG document strictly; throws with the parser's message when it is not well-formed. */
export function parseSvg(svg: string): SvgNode {
  const verdict = XMLValidator.validate(svg, { allowBooleanAttributes: false });
  if (verdict !== true) throw new Error(`invalid XML: ${verdict.err.msg} at line ${verdict.err.line}:${verdict.err.col}`);
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', preserveOrder: true, trimValues: false, processEntities: true });
  const doc = parser.parse(svg) as unknown[];
  const roots = doc.map(toNode).filter((n): n is SvgNode => n !== undefined);
  if (roots.length !== 1 || roots[0]!.name !== 'svg') throw new Error(`expected one <svg> root, got ${roots.map((r) => r.name).join(', ')}`);
  const root = roots[0]!;
  if (root.attrs.xmlns !== 'http://www.w3.org/2000/svg') throw new Error('the <svg> root lacks the SVG namespace');
  return root;
}

function toNode(entry: unknown): SvgNode | undefined {
  const obj = entry as Record<string, unknown>;
  const name = Object.keys(obj).find((k) => k !== ':@');
  if (name === undefined || name === '#text') return undefined;
  const attrs = (obj[':@'] ?? {}) as Record<string, string>;
  const raw = obj[name] as unknown[];
  const children = raw.map(toNode).filter((n): n is SvgNode => n !== undefined);
  const text = raw.map((c) => (c as Record<string, unknown>)['#text']).filter((t) => t !== undefined).join('');
  return { name, attrs, children, text: String(text) };
}

export function findAll(node: SvgNode, pred: (n: SvgNode) => boolean): SvgNode[] {
  const out: SvgNode[] = [];
  const walk = (n: SvgNode): void => {
    if (pred(n)) out.push(n);
    n.children.forEach(walk);
  };
  walk(node);
  return out;
}

/** Names of the plotted series (`<g class="series" data-series=…>`), in drawing order. */
export function seriesNames(svg: string): string[] {
  return findAll(parseSvg(svg), (n) => n.name === 'g' && n.attrs.class === 'series').map((n) => n.attrs['data-series']!);
}

/** Every number in every path's `d` attribute is finite (no NaN or Infinity leaked into geometry). */
export function allGeometryFinite(svg: string): boolean {
  const root = parseSvg(svg);
  const numbers: string[] = [];
  for (const n of findAll(root, () => true)) {
    for (const [k, v] of Object.entries(n.attrs)) {
      if (k === 'd') numbers.push(...(v.match(/[^MLZHVCQ\s]+/g) ?? []));
      if (['x', 'y', 'x1', 'x2', 'y1', 'y2', 'width', 'height', 'cx', 'cy', 'r'].includes(k)) numbers.push(v);
    }
  }
  return numbers.every((s) => Number.isFinite(Number(s)));
}
