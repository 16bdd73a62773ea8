import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { sealBundle, type PolicyBundle } from '../../../policies/bundle.ts';
import { dirBundleSource, loadBundleDir } from '../../../webhook/bundles/dirSource.ts';
import type { BundleSource } from '../../../webhook/bundles/source.ts';
import { checkoutBundle } from './fixtures.ts';

let dir: string | undefined;
let source: BundleSource | undefined;
afterEach(async () => {
  await source?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function named(name: string): PolicyBundle {
  const b = structuredClone(checkoutBundle()) as unknown as { metadata: { name: string }; spec: Record<string, unknown> };
  b.metadata.name = name;
  return sealBundle(b as never);
}

function nextReload(s: BundleSource): Promise<{ bundles: PolicyBundle[]; problems: string[] }> {
  return new Promise((resolve) => s.events.once('reloaded', resolve));
}

describe('bundles from a directory', () => {
  it('reads every document of YAML and JSON files, skips dot files, and names the file of a bad bundle', async () => {
    dir = mkdtempSync(join(tmpdir(), 'karma-hpa-dir-'));
    writeFileSync(join(dir, 'shop.yaml'), `${stringify(named('checkout'))}---\n${stringify(named('cart'))}`);
    writeFileSync(join(dir, 'search.json'), JSON.stringify(named('search')));
    writeFileSync(join(dir, '.hidden.yaml'), 'not: a bundle');
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    const broken = structuredClone(named('broken')) as unknown as { spec: { guards: { maxStep: number } } };
    broken.spec.guards.maxStep = 0;
    writeFileSync(join(dir, 'broken.yaml'), stringify(broken));
    const load = await loadBundleDir(dir);
    expect([...load.byFile.entries()].map(([f, bs]) => [f, bs.map((b) => b.metadata.name)])).toEqual([['search.json', ['search']], ['shop.yaml', ['checkout', 'cart']]]);
    expect(load.problems).toHaveLength(1);
    expect(load.problems[0]).toMatch(/^broken\.yaml: \/spec\/guards\/maxStep: must be >= 1/);
  });

  it('keeps a file\'s last valid bundles while it is broken, and drops them when it is removed', async () => {
    dir = mkdtempSync(join(tmpdir(), 'karma-hpa-dir-'));
    writeFileSync(join(dir, 'shop.yaml'), stringify(named('checkout')));
    source = dirBundleSource(dir);
    expect(source.ready()).toBe(false);
    await source.start();
    expect(source.ready()).toBe(true);
    expect(source.bundles().map((b) => b.metadata.name)).toEqual(['checkout']);

    const problems: string[] = [];
    source.events.on('problem', (p: string) => problems.push(p));
    let reload = nextReload(source);
    writeFileSync(join(dir, 'shop.yaml'), 'apiVersion: karma-hpa.io/v1alpha1\nkind: PolicyBundle\nspec: {');
    await reload;
    expect(source.bundles().map((b) => b.metadata.name)).toEqual(['checkout']);
    expect(problems.some((p) => p.startsWith('shop.yaml: not valid YAML'))).toBe(true);

    reload = nextReload(source);
    unlinkSync(join(dir, 'shop.yaml'));
    while ((await reload).bundles.length > 0) reload = nextReload(source);
    expect(source.bundles()).toEqual([]);
  });
});
