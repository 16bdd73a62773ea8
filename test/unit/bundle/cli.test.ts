import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { main } from '../../../generator/cli/main.ts';
import { decodeWeights, encodeWeights } from '../../../policies/network.ts';
import { EXAMPLE_PATH } from '../../../generator/bundle/example.ts';
import { captureIo } from '../../support/io.ts';

const dir = mkdtempSync(join(tmpdir(), 'karma-hpa-bundle-cli-'));
const example = () => JSON.parse(readFileSync(EXAMPLE_PATH, 'utf8'));

async function run(...argv: string[]) {
  const io = captureIo({ cwd: dir });
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe('karma-hpa bundle validate', () => {
  it('accepts the example, as JSON and as YAML', async () => {
    writeFileSync(join(dir, 'ok.yaml'), stringify(example()));
    const r = await run('bundle', 'validate', EXAMPLE_PATH, 'ok.yaml');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/chained-services.bundle.json: valid PolicyBundle chained-services v1\.0\.0 \(sha256:[0-9a-f]{64}\)/);
    expect(r.out).toContain('ok.yaml: valid PolicyBundle');
  });

  it('fails a bundle with one weight changed with a digest error (exit 1)', async () => {
    const b = example();
    const w = decodeWeights(b.spec.agents[0].network.weights);
    w[17] = -w[17]!;
    b.spec.agents[0].network.weights = encodeWeights(w);
    writeFileSync(join(dir, 'tampered.json'), JSON.stringify(b, null, 2));
    const r = await run('bundle', 'validate', 'tampered.json');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/tampered.json: invalid PolicyBundle: 1 problem\n {2}- \/spec\/digest \(line \d+:\d+\): does not match the content/);
  });

  it('names the field path and YAML line of schema errors', async () => {
    const b = example();
    b.spec.guards.maxStep = 0;
    const text = stringify(b);
    writeFileSync(join(dir, 'bad.yaml'), text);
    const line = text.split('\n').findIndex((l) => l.trim() === 'maxStep: 0') + 1;
    const r = await run('bundle', 'validate', 'bad.yaml');
    expect(r.code).toBe(1);
    expect(r.err).toContain(`/spec/guards/maxStep (line ${line}:`);
  });

  it('reports syntax errors with their line, and a missing file', async () => {
    writeFileSync(join(dir, 'broken.yaml'), 'apiVersion: karma-hpa.io/v1alpha1\nkind: [PolicyBundle\n');
    const r = await run('bundle', 'validate', 'broken.yaml', 'missing.json');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/broken.yaml: invalid PolicyBundle: 1 problem\n {2}- line [23]:\d+: Flow sequence/);
    expect(r.err).toContain('missing.json: invalid PolicyBundle: 1 problem\n  - cannot read the file: ENOENT');
  });

  it('prints JSON with --json', async () => {
    const r = await run('bundle', 'validate', EXAMPLE_PATH, 'tampered.json', '--json');
    expect(r.code).toBe(1);
    const parsed = JSON.parse(r.out);
    expect(parsed.map((x: { ok: boolean }) => x.ok)).toEqual([true, false]);
    expect(parsed[0].version).toBe('1.0.0');
    expect(parsed[1].errors[0]).toMatch(/^\/spec\/digest/);
  });

  it('refuses a missing action or file with usage help (exit 2)', async () => {
    expect((await run('bundle')).code).toBe(2);
    const r = await run('bundle', 'validate');
    expect(r.code).toBe(2);
    expect(r.err).toContain('bundle validate needs at least one FILE');
  });
});

describe('karma-hpa bundle diff', () => {
  it('shows what changed between two bundle files', async () => {
    const { firstVersion, secondVersion } = await import('../../fixtures/bundle/versions.ts');
    const v1 = firstVersion();
    writeFileSync(join(dir, 'v1.json'), JSON.stringify(v1));
    writeFileSync(join(dir, 'v2.yaml'), stringify(secondVersion(v1)));
    const r = await run('bundle', 'diff', 'v1.json', 'v2.yaml');
    expect(r.code).toBe(0);
    expect(r.out).toContain('v1.0.0 → **v1.1.0** (minor change)');
    expect(r.out).toContain('| ddos-manager | same | yes | same | 1 | 0 |');
    const j = JSON.parse((await run('bundle', 'diff', 'v1.json', 'v2.yaml', '--json')).out);
    expect(j.guards).toEqual([{ field: 'maxStep', from: 3, to: 2 }]);
  });
});

describe('karma-hpa bundle show', () => {
  it('summarises a bundle', async () => {
    const r = await run('bundle', 'show', EXAMPLE_PATH);
    expect(r.code).toBe(0);
    expect(r.out).toContain('PolicyBundle chained-services/chained-services v1.0.0');
    expect(r.out).toMatch(/ddos-manager +ddos-manager +services A; network 12×8×7 \(167 weights\); 0 rules/);
    const j = JSON.parse((await run('bundle', 'show', EXAMPLE_PATH, '--json')).out);
    expect(j.agents).toHaveLength(4);
    expect(j.guards.maxStep).toBe(3);
  });

  it('refuses an invalid bundle with the problems listed (exit 2)', async () => {
    const r = await run('bundle', 'show', 'tampered.json');
    expect(r.code).toBe(2);
    expect(r.err).toContain('invalid PolicyBundle: 1 problem');
    expect(r.err).toContain('hint:');
  });
});
