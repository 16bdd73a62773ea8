import { describe, expect, it } from 'vitest';
import { canonicalJson, canonicalPrettyJson, digestOf } from '../../../policies/canonical.ts';

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[3,{"y":2,"z":1}]},"b":1}');
  });

  it('gives the same bytes for objects built in a different key order', () => {
    const one = { spec: { version: '1.0.0', guards: { maxStep: 2, minReplicas: 1 } } };
    const two = { spec: { guards: { minReplicas: 1, maxStep: 2 }, version: '1.0.0' } };
    expect(canonicalJson(one)).toBe(canonicalJson(two));
    expect(digestOf(one)).toBe(digestOf(two));
  });

  it('normalises -0 and refuses non-finite numbers with the path', () => {
    expect(canonicalJson({ x: -0 })).toBe('{"x":0}');
    expect(() => canonicalJson({ a: [1, Number.NaN] })).toThrow(/\$\.a\[1\]/);
    expect(() => canonicalJson({ a: Infinity })).toThrow(/non-finite/);
  });

  it('serialises typed arrays as plain arrays', () => {
    expect(canonicalJson({ w: new Float32Array([0.5, 1]) })).toBe('{"w":[0.5,1]}');
  });

  it('changes the digest when one value changes', () => {
    expect(digestOf({ w: [1, 2, 3] })).not.toBe(digestOf({ w: [1, 2, 3.0001] }));
    expect(digestOf({ a: 1 })).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('pretty form is sorted, indented and newline-terminated', () => {
    expect(canonicalPrettyJson({ b: 1, a: 2 })).toBe('{\n  "a": 2,\n  "b": 1\n}\n');
  });
});
