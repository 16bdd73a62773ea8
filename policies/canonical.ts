import { createHash } from 'node:crypto';

/**
 * Canonical JSON: object keys sorted by code point, no insignificant white space, numbers in
 * ECMAScript shortest round-trip form, `undefined` members dropped. Same value → same bytes.
 * Non-finite numbers are refused because JSON cannot carry them.
 */
export function canonicalJson(value: unknown): string {
  return serialise(value, '$');
}

function serialise(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`canonicalJson: non-finite number at ${path}`);
      return Object.is(value, -0) ? '0' : JSON.stringify(value);
    case 'string':
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v, i) => serialise(v === undefined ? null : v, `${path}[${i}]`)).join(',')}]`;
      if (ArrayBuffer.isView(value)) return serialise(Array.from(value as unknown as ArrayLike<number>), path);
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${serialise(obj[k], `${path}.${k}`)}`).join(',')}}`;
    }
    default:
      throw new Error(`canonicalJson: cannot serialise ${typeof value} at ${path}`);
  }
}

/** Stable, pretty form for files people read in diffs: sorted keys, 2-space indent, trailing newline. */
export function canonicalPrettyJson(value: unknown): string {
  return `${JSON.stringify(JSON.parse(canonicalJson(value)), null, 2)}\n`;
}

/** `sha256:<hex>` of the canonical JSON of a value. */
export function digestOf(value: unknown): string {
  return `sha256:${sha256Hex(canonicalJson(value))}`;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A copy with every non-finite number as null (e.g. a CI half-width over one seed, which is undefined), so canonical JSON can carry it. */
export function withoutNonFinite<T>(value: T): T {
  if (typeof value === 'number') return (Number.isFinite(value) ? value : null) as T;
  if (Array.isArray(value)) return value.map((v) => withoutNonFinite(v)) as T;
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value)) {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, withoutNonFinite(v)])) as T;
  }
  return value;
}
