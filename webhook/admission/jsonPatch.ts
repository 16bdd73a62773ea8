/**
 * RFC 6901 JSON Pointer and RFC 6902 JSON Patch: a diff that turns one JSON value into another, and
 * an apply that executes all six operations. The admission webhook computes its patch by diffing the
 * object it received against the object it wants, so the patch always says exactly what changed.
 */
import { KarmaError } from '../../policies/errors.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export type PatchOperation =
  | { op: 'add'; path: string; value: JsonValue }
  | { op: 'remove'; path: string }
  | { op: 'replace'; path: string; value: JsonValue }
  | { op: 'move'; from: string; path: string }
  | { op: 'copy'; from: string; path: string }
  | { op: 'test'; path: string; value: JsonValue };

/** One reference token: `~` becomes `~0` and `/` becomes `~1` (in that order, RFC 6901 §3). */
export function escapePointerToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function unescapePointerToken(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

export function pointerOf(tokens: readonly string[]): string {
  return tokens.map((t) => `/${escapePointerToken(t)}`).join('');
}

export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new KarmaError(`JSON pointer "${pointer}" must be empty or start with "/"`, { where: 'JSON Patch' });
  return pointer.slice(1).split('/').map(unescapePointerToken);
}

function isObject(v: unknown): v is { [key: string]: JsonValue } {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

/**
 * The operations that turn `from` into `to`. Objects are diffed member by member; arrays of the
 * same length element by element, otherwise replaced whole (a correct, short patch for the small
 * arrays of an HPA spec).
 */
export function diffJson(from: JsonValue, to: JsonValue): PatchOperation[] {
  const ops: PatchOperation[] = [];
  diffInto(from, to, [], ops);
  return ops;
}

function diffInto(from: JsonValue, to: JsonValue, path: string[], ops: PatchOperation[]): void {
  // Shared subtrees (the mutated object reuses the received one's parts) are skipped without a walk.
  if (from === to) return;
  if (isObject(from) && isObject(to)) {
    for (const key of Object.keys(from)) {
      if (!Object.hasOwn(to, key)) ops.push({ op: 'remove', path: pointerOf([...path, key]) });
    }
    for (const key of Object.keys(to)) {
      if (!Object.hasOwn(from, key)) ops.push({ op: 'add', path: pointerOf([...path, key]), value: structuredClone(to[key]!) });
      else diffInto(from[key]!, to[key]!, [...path, key], ops);
    }
    return;
  }
  if (Array.isArray(from) && Array.isArray(to)) {
    if (from.length === to.length) from.forEach((v, i) => diffInto(v, to[i]!, [...path, String(i)], ops));
    else ops.push({ op: 'replace', path: pointerOf(path), value: structuredClone(to) });
    return;
  }
  // Different scalars, or values of different types. -0 and 0 are the same JSON number.
  if (typeof from !== 'object' && typeof to !== 'object' && from == to && typeof from === typeof to) return;
  ops.push({ op: 'replace', path: pointerOf(path), value: structuredClone(to) });
}

function arrayIndex(token: string, length: number, allowEnd: boolean, pointer: string): number {
  if (allowEnd && token === '-') return length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new KarmaError(`"${token}" is not an array index`, { where: `JSON Patch path ${pointer}` });
  const i = Number(token);
  if (i > length || (!allowEnd && i === length)) throw new KarmaError(`array index ${i} is out of bounds (length ${length})`, { where: `JSON Patch path ${pointer}` });
  return i;
}

function resolveParent(doc: JsonValue, tokens: string[], pointer: string): JsonValue {
  let node = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(node)) node = node[arrayIndex(t, node.length, false, pointer)]!;
    else if (isObject(node) && Object.hasOwn(node, t)) node = node[t]!;
    else throw new KarmaError(`path does not exist`, { where: `JSON Patch path ${pointer}` });
  }
  return node;
}

function getAt(doc: JsonValue, pointer: string): JsonValue {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return doc;
  const parent = resolveParent(doc, tokens, pointer);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) return parent[arrayIndex(last, parent.length, false, pointer)]!;
  if (isObject(parent) && Object.hasOwn(parent, last)) return parent[last]!;
  throw new KarmaError('path does not exist', { where: `JSON Patch path ${pointer}` });
}

function addAt(doc: JsonValue, pointer: string, value: JsonValue): JsonValue {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return value;
  const parent = resolveParent(doc, tokens, pointer);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, true, pointer), 0, value);
  else if (isObject(parent)) parent[last] = value;
  else throw new KarmaError('parent is not a container', { where: `JSON Patch path ${pointer}` });
  return doc;
}

function removeAt(doc: JsonValue, pointer: string): JsonValue {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) throw new KarmaError('cannot remove the whole document', { where: 'JSON Patch path ""' });
  const parent = resolveParent(doc, tokens, pointer);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, false, pointer), 1);
  else if (isObject(parent) && Object.hasOwn(parent, last)) delete parent[last];
  else throw new KarmaError('path does not exist', { where: `JSON Patch path ${pointer}` });
  return doc;
}

/** Apply operations to a copy of `doc` (the input is never modified). Throws a KarmaError on a bad patch. */
export function applyPatch(doc: JsonValue, ops: readonly PatchOperation[]): JsonValue {
  let out = structuredClone(doc);
  for (const op of ops) {
    switch (op.op) {
      case 'add': out = addAt(out, op.path, structuredClone(op.value)); break;
      case 'remove': out = removeAt(out, op.path); break;
      case 'replace': getAt(out, op.path); out = parsePointer(op.path).length === 0 ? structuredClone(op.value) : addAt(removeAt(out, op.path), op.path, structuredClone(op.value)); break;
      case 'move': {
        if (op.path.startsWith(`${op.from}/`)) throw new KarmaError('cannot move a value into one of its children', { where: `JSON Patch move from ${op.from}` });
        const value = getAt(out, op.from);
        out = addAt(removeAt(out, op.from), op.path, value);
        break;
      }
      case 'copy': out = addAt(out, op.path, structuredClone(getAt(out, op.from))); break;
      case 'test':
        if (!jsonEqual(getAt(out, op.path), op.value)) throw new KarmaError('test failed: value differs', { where: `JSON Patch path ${op.path}` });
        break;
      default: throw new KarmaError(`unknown operation ${JSON.stringify((op as { op: unknown }).op)}`, { where: 'JSON Patch' });
    }
  }
  return out;
}
