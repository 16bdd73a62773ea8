import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { KarmaError } from './errors.ts';

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv) => Ajv;

const ajv = new Ajv({ allErrors: true, strict: true, useDefaults: false, allowUnionTypes: true });
addFormats(ajv);
const compiled = new Map<object, ValidateFunction>();

/** Compile (once) a JSON Schema with the project's shared ajv instance. */
export function validatorFor(schema: object): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(schema, v);
  }
  return v;
}

/** Register a schema under its `$id` so other schemas can `$ref` it. */
export function registerSchema(schema: { $id?: string }): void {
  if (schema.$id && !ajv.getSchema(schema.$id)) ajv.addSchema(schema);
}

/** Where a document came from, for messages: a file path or a label like `built-in topology "x"`. */
export interface Source {
  name: string;
  /** Maps a JSON pointer (`/services/0/cpu`) to `line:col`, when the text is known. */
  locate?: (pointer: string, atKey?: boolean) => string | undefined;
}

/** One human sentence per ajv error, prefixed with the field path (and line:col when known). */
export function describeSchemaErrors(errors: readonly ErrorObject[], source?: Source): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    // `if`/`then` wrappers only repeat what the inner error says.
    if (e.keyword === 'if') continue;
    const pointer = e.keyword === 'required'
      ? `${e.instancePath}/${(e.params as { missingProperty: string }).missingProperty}`
      : e.keyword === 'additionalProperties'
        ? `${e.instancePath}/${(e.params as { additionalProperty: string }).additionalProperty}`
        : e.instancePath;
    const field = pointer === '' ? '(document root)' : pointer;
    let msg: string;
    switch (e.keyword) {
      case 'required': msg = 'is required but missing'; break;
      case 'additionalProperties': msg = 'is not a known field (check its spelling)'; break;
      case 'enum': msg = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`; break;
      default: msg = e.message ?? e.keyword;
    }
    const at = source?.locate?.(pointer, e.keyword === 'additionalProperties');
    const line = `${field}${at ? ` (line ${at})` : ''}: ${msg}`;
    if (!seen.has(line)) {
      seen.add(line);
      out.push(line);
    }
  }
  return out;
}

/** Validate a plain value against a schema; throws a KarmaError that lists every violation. */
export function assertValid<T>(value: unknown, schema: object, source: Source, kind: string, hint?: string): T {
  const validate = validatorFor(schema);
  if (!validate(value)) {
    const details = describeSchemaErrors(validate.errors ?? [], source);
    throw new KarmaError(`invalid ${kind}: ${details.length} problem${details.length === 1 ? '' : 's'}`, {
      where: source.name,
      details,
      hint: hint ?? `fix the fields listed above; the schema of a ${kind} is documented in the README`,
    });
  }
  return value as T;
}

/**
 * Parse YAML (or JSON, which is YAML) text and validate it against a schema. Syntax errors and
 * schema violations name the file, the line and column, and the field path.
 */
export function parseYamlDocument<T>(text: string, fileName: string, schema: object, kind: string, hint?: string): T {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const details = doc.errors.map((err) => {
      const pos = err.linePos?.[0];
      return `${pos ? `line ${pos.line}:${pos.col}: ` : ''}${err.message.split('\n')[0]}`;
    });
    throw new KarmaError(`${kind} is not valid YAML`, { where: fileName, details, hint: 'fix the syntax at the line shown' });
  }
  const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
  const source: Source = { name: fileName, locate: (pointer, atKey) => locatePointer(doc, lineCounter, pointer, atKey ?? false) };
  return assertValid<T>(value, schema, source, kind, hint);
}

function locatePointer(doc: Document, lc: LineCounter, pointer: string, atKey: boolean): string | undefined {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let node: unknown = doc.contents;
  let lastRange: [number, number, number] | undefined = (doc.contents as { range?: [number, number, number] } | null)?.range;
  for (const [i, part] of parts.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((it) => String((it.key as { value?: unknown } | null)?.value ?? it.key) === part);
      if (!pair) break;
      const keyRange = (pair.key as { range?: [number, number, number] } | null)?.range;
      if (keyRange) lastRange = keyRange;
      if (atKey && i === parts.length - 1) break;
      node = pair.value;
      const valueRange = (node as { range?: [number, number, number] } | null)?.range;
      if (valueRange) lastRange = valueRange;
    } else if (isSeq(node)) {
      const item = node.items[Number(part)];
      if (item === undefined) break;
      node = item;
      const r = (item as { range?: [number, number, number] } | null)?.range;
      if (r) lastRange = r;
    } else break;
  }
  if (!lastRange) return undefined;
  const p = lc.linePos(lastRange[0]);
  return `${p.line}:${p.col}`;
}
