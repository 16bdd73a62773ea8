import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { applyPatch, diffJson, escapePointerToken, parsePointer, pointerOf, type JsonValue, type PatchOperation } from '../../../webhook/admission/jsonPatch.ts';

describe('JSON Pointer (RFC 6901)', () => {
  it('escapes ~ before / so that "~1" in a key survives', () => {
    expect(escapePointerToken('a/b')).toBe('a~1b');
    expect(escapePointerToken('m~n')).toBe('m~0n');
    expect(escapePointerToken('~1')).toBe('~01');
    expect(pointerOf(['metadata', 'annotations', 'karma-hpa.io/base-spec'])).toBe('/metadata/annotations/karma-hpa.io~1base-spec');
    expect(parsePointer('/metadata/annotations/karma-hpa.io~1base-spec')).toEqual(['metadata', 'annotations', 'karma-hpa.io/base-spec']);
    expect(parsePointer('/~01')).toEqual(['~1']);
    expect(parsePointer('')).toEqual([]);
  });
});

describe('JSON Patch apply (RFC 6902 appendix A examples)', () => {
  const cases: [string, JsonValue, PatchOperation[], JsonValue][] = [
    ['A.1 add an object member', { foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux' }], { baz: 'qux', foo: 'bar' }],
    ['A.2 add an array element', { foo: ['bar', 'baz'] }, [{ op: 'add', path: '/foo/1', value: 'qux' }], { foo: ['bar', 'qux', 'baz'] }],
    ['A.3 remove an object member', { baz: 'qux', foo: 'bar' }, [{ op: 'remove', path: '/baz' }], { foo: 'bar' }],
    ['A.4 remove an array element', { foo: ['bar', 'qux', 'baz'] }, [{ op: 'remove', path: '/foo/1' }], { foo: ['bar', 'baz'] }],
    ['A.5 replace a value', { baz: 'qux', foo: 'bar' }, [{ op: 'replace', path: '/baz', value: 'boo' }], { baz: 'boo', foo: 'bar' }],
    ['A.6 move a value', { foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } }, [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }],
      { foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } }],
    ['A.7 move an array element', { foo: ['all', 'grass', 'cows', 'eat'] }, [{ op: 'move', from: '/foo/1', path: '/foo/3' }], { foo: ['all', 'cows', 'eat', 'grass'] }],
    ['A.10 add a nested member object', { foo: 'bar' }, [{ op: 'add', path: '/child', value: { grandchild: {} } }], { foo: 'bar', child: { grandchild: {} } }],
    ['A.14 ~ escape ordering', { '/': 9, '~1': 10 }, [{ op: 'test', path: '/~01', value: 10 }], { '/': 9, '~1': 10 }],
    ['A.16 add an array value', { foo: ['bar'] }, [{ op: 'add', path: '/foo/-', value: ['abc', 'def'] }], { foo: ['bar', ['abc', 'def']] }],
    ['copy', { a: { b: 1 } }, [{ op: 'copy', from: '/a', path: '/c' }], { a: { b: 1 }, c: { b: 1 } }],
    ['replace the root', { a: 1 }, [{ op: 'replace', path: '', value: [1] }], [1]],
  ];
  it.each(cases)('%s', (_name, doc, ops, expected) => {
    const before = structuredClone(doc);
    expect(applyPatch(doc, ops)).toEqual(expected);
    expect(doc).toEqual(before);
  });

  it('refuses what RFC 6902 refuses, with the path in the message', () => {
    expect(() => applyPatch({ foo: 'bar' }, [{ op: 'test', path: '/foo', value: 'baz' }])).toThrow(/test failed.*\/foo|\/foo[\s\S]*test failed/);
    expect(() => applyPatch({ foo: 'bar' }, [{ op: 'add', path: '/baz/bat', value: 'qux' }])).toThrow(/\/baz\/bat/);
    expect(() => applyPatch({ foo: [1] }, [{ op: 'remove', path: '/foo/1' }])).toThrow(/out of bounds/);
    expect(() => applyPatch({ foo: [1] }, [{ op: 'add', path: '/foo/01', value: 2 }])).toThrow(/not an array index/);
    expect(() => applyPatch({ a: { b: 1 } }, [{ op: 'move', from: '/a', path: '/a/b/c' }])).toThrow(/children/);
    expect(() => applyPatch({ a: 1 }, [{ op: 'remove', path: '/missing' }])).toThrow(/does not exist/);
  });
});

describe('diffJson', () => {
  it('writes the smallest member-wise patch, escaping keys', () => {
    const from = { metadata: { annotations: { x: '1' } }, spec: { minReplicas: 3, maxReplicas: 8, metrics: [{ a: 1 }] } };
    const to = { metadata: { annotations: { x: '1', 'karma-hpa.io/base-spec': '{}' } }, spec: { minReplicas: 5, maxReplicas: 8, metrics: [{ a: 1 }] } };
    expect(diffJson(from, to)).toEqual([
      { op: 'add', path: '/metadata/annotations/karma-hpa.io~1base-spec', value: '{}' },
      { op: 'replace', path: '/spec/minReplicas', value: 5 },
    ]);
    expect(diffJson(to, to)).toEqual([]);
  });

  it('replaces arrays whose length changes and values whose type changes', () => {
    expect(diffJson({ a: [1, 2] }, { a: [1, 2, 3] })).toEqual([{ op: 'replace', path: '/a', value: [1, 2, 3] }]);
    expect(diffJson({ a: { b: 1 } }, { a: [1] })).toEqual([{ op: 'replace', path: '/a', value: [1] }]);
    expect(diffJson({ a: 1, b: 2 }, { b: 2 })).toEqual([{ op: 'remove', path: '/a' }]);
  });

  it('apply(from, diff(from, to)) equals to, for any pair of JSON values', () => {
    const key = fc.oneof(fc.constantFrom('a', 'b', '~', '/', '~1', 'a/b', '~0x', ''), fc.string({ maxLength: 4 }));
    const json = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), fc.integer(), fc.string({ maxLength: 5 }),
        fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(key, tie('value'), { maxKeys: 4 })),
    })).value as fc.Arbitrary<JsonValue>;
    // Pairs that share structure exercise member-wise diffs, not only root replacement.
    const pair = json.chain((a) => fc.tuple(fc.constant(a), fc.oneof(json, fc.constant(structuredClone(a)), fc.dictionary(key, json, { maxKeys: 3 }).map((extra) =>
      (a !== null && typeof a === 'object' && !Array.isArray(a) ? { ...a, ...extra } : extra) as JsonValue))));
    fc.assert(fc.property(pair, ([a, b]) => {
      const patch = JSON.parse(JSON.stringify(diffJson(a, b))) as PatchOperation[];
      expect(applyPatch(a, patch)).toEqual(b);
    }), { numRuns: 1500, seed: 6902 });
  });
});
