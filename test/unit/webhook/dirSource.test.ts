import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
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

  it('waits for a directory that does not exist yet, says why, and loads it once it appears (nested levels too)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'karma-hpa-dir-'));
    const target = join(dir, 'checkout', 'bundles');
    source = dirBundleSource(target);
    const unavailable: string[] = [];
    source.events.on('unavailable', (why: string) => unavailable.push(why));
    const available = new Promise<string>((resolve) => source!.events.once('available', resolve));
    let started = false;
    const starting = source.start().then(() => { started = true; });
    expect(source.ready()).toBe(false);
    expect(source.unavailable?.()).toBe(`bundle directory ${target} does not exist`);
    expect(unavailable).toEqual([`bundle directory ${target} does not exist; waiting for it to appear`]);

    // One missing level appears: still waiting, and no second report for the same cause.
    const staging = join(dir, 'staging');
    mkdirSync(staging);
    writeFileSync(join(staging, 'shop.yaml'), stringify(named('checkout')));
    mkdirSync(join(dir, 'checkout'));
    expect(started).toBe(false);
    // The checkout arrives in one rename, as git-sync and atomic writers do.
    renameSync(staging, target);
    await starting;
    expect(await available).toBe(`bundle directory ${target} is readable again`);
    expect(source.ready()).toBe(true);
    expect(source.unavailable?.()).toBeUndefined();
    expect(source.bundles().map((b) => b.metadata.name)).toEqual(['checkout']);
    expect(unavailable).toHaveLength(1);
  });

  it('keeps its bundles when the directory disappears, and reloads when it comes back', async () => {
    dir = mkdtempSync(join(tmpdir(), 'karma-hpa-dir-'));
    const target = join(dir, 'bundles');
    mkdirSync(target);
    writeFileSync(join(target, 'shop.yaml'), stringify(named('checkout')));
    source = dirBundleSource(target);
    await source.start();
    const gone = new Promise<string>((resolve) => source!.events.once('unavailable', resolve));
    rmSync(target, { recursive: true });
    expect(await gone).toBe(`bundle directory ${target} does not exist; keeping the bundles in force and waiting for it to appear`);
    expect(source.ready()).toBe(true);
    expect(source.bundles().map((b) => b.metadata.name)).toEqual(['checkout']);

    const back = new Promise<{ bundles: PolicyBundle[] }>((resolve) => {
      const on = (e: { bundles: PolicyBundle[] }) => {
        if (e.bundles.some((b) => b.metadata.name === 'cart')) {
          source!.events.off('reloaded', on);
          resolve(e);
        }
      };
      source!.events.on('reloaded', on);
    });
    const staging = join(dir, 'staging');
    mkdirSync(staging);
    writeFileSync(join(staging, 'shop.yaml'), stringify(named('cart')));
    renameSync(staging, target);
    expect((await back).bundles.map((b) => b.metadata.name)).toEqual(['cart']);
    expect(source.unavailable?.()).toBeUndefined();
  });
});
