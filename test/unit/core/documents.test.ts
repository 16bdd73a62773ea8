import { describe, expect, it } from 'vitest';
import { parseYamlDocument } from '../../../policies/documents.ts';
import { karmaErrorOf } from '../../support/errors.ts';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'services'],
  properties: {
    name: { type: 'string' },
    services: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'maxReplicas'],
        properties: { name: { type: 'string' }, maxReplicas: { type: 'integer', minimum: 1 } },
      },
    },
  },
};

describe('parseYamlDocument', () => {
  it('returns the validated value', () => {
    const v = parseYamlDocument<{ name: string }>('name: x\nservices:\n  - name: a\n    maxReplicas: 3\n', 't.yaml', schema, 'topology');
    expect(v.name).toBe('x');
  });

  it('names the file, the field path and the line of every violation', () => {
    const e = karmaErrorOf(() => parseYamlDocument('name: x\nservices:\n  - name: a\n    maxReplicas: 0\n  - name: b\n    maxReplica: 2\n', 'topo.yaml', schema, 'topology'));
    expect(e.where).toBe('topo.yaml');
    expect(e.details.join('\n')).toContain('/services/0/maxReplicas (line 4:18): must be >= 1');
    expect(e.details.join('\n')).toContain('/services/1/maxReplica (line 6:5): is not a known field');
    expect(e.details.join('\n')).toContain('/services/1/maxReplicas');
  });

  it('reports YAML syntax errors with their line', () => {
    const e = karmaErrorOf(() => parseYamlDocument('name: [x\nservices: 3\n', 'bad.yaml', schema, 'topology'));
    expect(e.message).toMatch(/not valid YAML/);
    expect(e.details[0]).toMatch(/^line \d+:\d+: /);
  });

  it('refuses duplicate keys', () => {
    const e = karmaErrorOf(() => parseYamlDocument('name: a\nname: b\nservices: []\n', 'dup.yaml', schema, 'topology'));
    expect(e.details.join(' ')).toMatch(/unique|duplicate/i);
  });
});
