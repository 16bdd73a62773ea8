import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { releaseBranch, releaseTag } from '../../../generator/publish/naming.ts';
import { explainBundleChange, renderBundleChange } from '../../../generator/analyze/bundle-change.ts';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { publish, type PublishOptions } from '../../../generator/publish/publish.ts';
import { isKarmaError } from '../../../policies/errors.ts';
import { validateManifest } from '../../support/manifests.ts';
import { firstVersion, secondVersion } from '../../fixtures/bundle/versions.ts';
import { faultyFs, gitCli, repoState, tempDir, writeBundleDir } from './support.ts';

const CLOCK = Date.UTC(2026, 0, 2, 3, 4, 5);
const author = { name: 'Release Bot', email: 'bot@example.com' };
const v1 = firstVersion();
const v2 = secondVersion(v1);

function options(bundleDir: string, repo: string, extra: Partial<PublishOptions> = {}): PublishOptions {
  return { bundleDir, repo, base: 'main', cluster: 'prod', author, now: () => CLOCK, repoUrl: 'https://git.example.com/acme/gitops.git', ...extra };
}

function filesUnder(root: string, skip = '.git'): string[] {
  const out: string[] = [];
  const visit = (d: string) => {
    for (const n of readdirSync(d)) {
      if (n === skip) continue;
      const p = join(d, n);
      if (statSync(p).isDirectory()) visit(p);
      else out.push(p.slice(root.length + 1));
    }
  };
  visit(root);
  return out.sort();
}

/** A repository where v1 was published and its branch merged into main (with the git CLI). */
async function repoWithFirstVersionMerged(): Promise<{ repo: string; work: string }> {
  const work = tempDir('publish');
  const repo = join(work, 'gitops');
  await publish(options(writeBundleDir(join(work, 'v1'), v1), repo));
  gitCli(repo, 'merge', '--ff-only', '--quiet', 'refs/heads/karma-hpa/chained-services/v1.0.0');
  return { repo, work };
}

describe('publish to a new repository', () => {
  it('creates main with the layout, a bundle branch, an annotated tag; git fsck is clean', async () => {
    const work = tempDir('publish');
    const repo = join(work, 'gitops');
    const r = await publish(options(writeBundleDir(join(work, 'b'), v1), repo));
    expect(r.status).toBe('published');
    expect(r.branch).toBe('karma-hpa/chained-services/v1.0.0');
    expect(gitCli(repo, 'fsck', '--strict', '--no-dangling')).toBe('');
    expect(gitCli(repo, 'rev-parse', `refs/heads/${r.branch}`)).toBe(r.commit);
    expect(gitCli(repo, 'cat-file', '-t', `refs/tags/${r.tag}`)).toBe('tag');
    // Branch and tag have different names, so git resolves the short branch name without a warning.
    expect(r.tag).toBe(releaseTag('chained-services', r.version!));
    const shortName = spawnSync('git', ['-C', repo, 'rev-parse', releaseBranch('chained-services', r.version!)], { encoding: 'utf8' });
    expect(shortName.stderr).not.toMatch(/ambiguous/);
    expect(shortName.stdout.trim()).toBe(r.commit);
    const tag = gitCli(repo, 'cat-file', '-p', `refs/tags/${r.tag}`);
    expect(tag).toContain(`object ${r.commit}`);
    expect(tag).toContain('tagger Release Bot <bot@example.com> 1767323045 +0000');
    expect(gitCli(repo, 'log', '--format=%s', `refs/heads/${r.branch}`).split('\n')).toEqual([
      'karma-hpa: chained-services v1.0.0 on prod (first version)',
      'karma-hpa: GitOps layout for cluster prod',
    ]);
    const body = gitCli(repo, 'log', '-1', '--format=%B', r.commit);
    expect(body).toContain('Agents: bottleneck-manager (bottleneck-manager), ddos-manager (ddos-manager)');
    expect(body).toContain('Success rate ddos/karma: 85.0 %');
    const files = gitCli(repo, 'ls-tree', '-r', '--name-only', r.commit).split('\n');
    expect(files).toEqual(expect.arrayContaining([
      'bundles/prod/chained-services/bundle.json', 'bundles/prod/chained-services/report.md',
      'bundles/prod/chained-services/plots/success-rate.svg', 'bundles/prod/chained-services/kustomization.yaml',
      'base/crd/policybundle.crd.yaml', 'base/webhook/kustomization.yaml', '.github/workflows/karma-hpa-gitops-pr.yml',
      'clusters/prod/argocd/kustomization.yaml', 'clusters/prod/argocd/karma-hpa-bundles.applicationset.yaml',
      'clusters/prod/argocd/apps/karma-hpa-chained-services.application.yaml', 'clusters/prod/argocd/argocd-cm.patch.yaml',
      'clusters/prod/flux/kustomization.yaml', 'clusters/prod/flux/karma-hpa-chained-services.yaml',
    ]));
    // The bundle bytes are the file from the bundle directory, so its digest still holds.
    expect(gitCli(repo, 'show', `${r.commit}:bundles/prod/chained-services/bundle.json`)).toBe(readFileSync(join(work, 'b', 'bundle.json'), 'utf8').trimEnd());
    // main holds the layout only; the new app appears on its branch.
    expect(gitCli(repo, 'ls-tree', '-r', '--name-only', 'main')).not.toContain('bundles/');
    // The new repository is checked out on main, clean.
    expect(gitCli(repo, 'status', '--porcelain')).toBe('');
    expect(r.pullRequestBody).toContain('**chained-services**: first version **v1.0.0**.');
  });

  it('gives the same commit hash for the same inputs and clock, another for another clock', async () => {
    const hashes = [];
    for (const now of [CLOCK, CLOCK, CLOCK + 1000]) {
      const work = tempDir('publish');
      const r = await publish(options(writeBundleDir(join(work, 'b'), v1), join(work, 'gitops'), { now: () => now }));
      hashes.push(r.commit);
    }
    expect(hashes[0]).toMatch(/^[0-9a-f]{40}$/);
    expect(hashes[1]).toBe(hashes[0]);
    expect(hashes[2]).not.toBe(hashes[0]);
  });

  it('writes manifests that validate against upstream schemas and build with kubectl kustomize', async () => {
    const work = tempDir('publish');
    const repo = join(work, 'gitops');
    const r = await publish(options(writeBundleDir(join(work, 'b'), v1), repo));
    gitCli(repo, 'checkout', '--quiet', `refs/heads/${r.branch}`);
    let checked = 0;
    const kinds = new Set<string>();
    for (const f of filesUnder(repo).filter((p) => /\.ya?ml$/.test(p) && !p.startsWith('.github/'))) {
      for (const doc of parseAllDocuments(readFileSync(join(repo, f), 'utf8'))) {
        const obj = doc.toJS() as { kind?: string; apiVersion?: string } | null;
        if (!obj || obj.apiVersion === 'kustomize.config.k8s.io/v1beta1') continue;
        expect(() => validateManifest(obj), f).not.toThrow();
        kinds.add(`${obj.apiVersion}/${obj.kind}`);
        checked++;
      }
    }
    // Plus whatever the webhook's kustomize base (copied into base/webhook/) holds.
    expect([...kinds]).toEqual(expect.arrayContaining([
      'apiextensions.k8s.io/v1/CustomResourceDefinition', 'argoproj.io/v1alpha1/Application', 'argoproj.io/v1alpha1/ApplicationSet',
      'kustomize.toolkit.fluxcd.io/v1/Kustomization', 'source.toolkit.fluxcd.io/v1/GitRepository', 'v1/ConfigMap',
    ]));
    expect(checked).toBeGreaterThan(8);
    const entries = filesUnder(repo).filter((p) => p.endsWith('kustomization.yaml')).map((p) => p.slice(0, -'/kustomization.yaml'.length)).sort();
    expect(entries.filter((e) => !e.startsWith('base/webhook/')), entries.join(' ')).toEqual(['base/crd', 'base/webhook', 'bundles/prod/chained-services', 'clusters/prod/argocd', 'clusters/prod/argocd/apps', 'clusters/prod/flux']);
    for (const e of entries) {
      const out = execFileSync('kubectl', ['kustomize', join(repo, e)], { encoding: 'utf8' });
      for (const doc of parseAllDocuments(out)) {
        const obj = doc.toJS();
        if (obj) expect(() => validateManifest(obj), e).not.toThrow();
      }
    }
  });
});

describe('bundle directory contents', () => {
  it('publishes a YAML bundle with governed HPAs kept beside it, and kustomize builds them', async () => {
    const work = tempDir('publish');
    const dir = join(work, 'b');
    writeBundleDir(dir, v1);
    rmSync(join(dir, 'bundle.json'));
    writeFileSync(join(dir, 'bundle.yaml'), stringify(v1));
    mkdirSync(join(dir, 'hpa'));
    writeFileSync(join(dir, 'hpa', 'a.yaml'), stringify({
      apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'a', namespace: 'chained-services', labels: { 'karma-hpa.io/governed': 'true' } },
      spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'a' }, minReplicas: 1, maxReplicas: 5, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }] },
    }));
    const repo = join(work, 'gitops');
    const r = await publish(options(dir, repo));
    gitCli(repo, 'checkout', '--quiet', `refs/heads/${r.branch}`);
    const built = parseAllDocuments(execFileSync('kubectl', ['kustomize', join(repo, 'bundles/prod/chained-services')], { encoding: 'utf8' })).map((d) => d.toJS());
    expect(built.map((o) => o.kind).sort()).toEqual(['HorizontalPodAutoscaler', 'PolicyBundle']);
    for (const o of built) expect(() => validateManifest(o)).not.toThrow();
    // The Flux Kustomization's patches are kustomize patches: applying them the same way marks the HPA.
    const flux = parseAllDocuments(readFileSync(join(repo, 'clusters/prod/flux/karma-hpa-chained-services.yaml'), 'utf8'))[0]!.toJS();
    const overlay = join(work, 'overlay');
    mkdirSync(overlay);
    writeFileSync(join(overlay, 'kustomization.yaml'), stringify({ resources: ['../gitops/bundles/prod/chained-services'], patches: flux.spec.patches }));
    const patched = parseAllDocuments(execFileSync('kubectl', ['kustomize', overlay], { encoding: 'utf8' })).map((d) => d.toJS());
    expect(patched.find((o) => o.kind === 'HorizontalPodAutoscaler').metadata.annotations).toEqual({ 'kustomize.toolkit.fluxcd.io/ssa': 'IfNotPresent' });
    expect(patched.find((o) => o.kind === 'PolicyBundle').metadata.annotations).toBeUndefined();
  });
});

describe('publish a new version', () => {
  it('diffs against the version on the base branch in the commit message and the pull-request body', async () => {
    const { repo, work } = await repoWithFirstVersionMerged();
    const r = await publish(options(writeBundleDir(join(work, 'v2'), v2), repo));
    expect(r.status).toBe('published');
    expect(r.previousVersion).toBe('1.0.0');
    expect(gitCli(repo, 'rev-parse', `${r.commit}^`)).toBe(gitCli(repo, 'rev-parse', 'main'));
    expect(r.changedPaths).toEqual(['bundles/prod/chained-services/bundle.json', 'bundles/prod/chained-services/report.md']);
    const msg = gitCli(repo, 'log', '-1', '--format=%B', r.commit);
    expect(msg.split('\n')[0]).toBe('karma-hpa: chained-services v1.1.0 on prod (minor change from v1.0.0)');
    expect(msg).toContain('Weights changed: ddos-manager');
    expect(msg).toContain('Guard maxStep: 3 -> 2');
    expect(msg).toContain('Success rate ddos/karma: 85.0 % -> 90.9 %');
    // The body is exactly what `karma-hpa diff` explains for the two versions.
    const previousBundle = JSON.parse(gitCli(repo, 'show', 'main:bundles/prod/chained-services/bundle.json'));
    expect(r.pullRequestBody).toContain(renderBundleChange(explainBundleChange(previousBundle, v2)).trimEnd());
    expect(r.pullRequestBody).toContain('v1.0.0 → v1.1.0');
    expect(r.pullRequestBody).toMatch(/\*\*Retrained\*\*: `ddos-manager`/);
    expect(r.pullRequestBody).toContain('**ddos** (karma): success rate 85.0 % → 90.9 %');
    expect(gitCli(repo, 'fsck', '--strict', '--no-dangling')).toBe('');
  });

  it('refuses a bundle that is not newer than the one on the base branch, and reports a republish as unchanged', async () => {
    const { repo, work } = await repoWithFirstVersionMerged();
    const again = await publish(options(writeBundleDir(join(work, 'again'), v1), repo));
    expect(again.status).toBe('unchanged');
    const stale = structuredClone(v2);
    stale.spec.version = '1.0.0';
    const { sealBundle } = await import('../../../policies/bundle.ts');
    const err = await publish(options(writeBundleDir(join(work, 'stale'), sealBundle(stale)), repo)).catch((e) => e);
    expect(isKarmaError(err) && err.message).toMatch(/bundle v1.0.0 is not newer than v1.0.0 on main/);
  });

  it('refuses a tampered bundle before touching the repository', async () => {
    const { repo, work } = await repoWithFirstVersionMerged();
    const before = repoState(repo);
    const tampered = structuredClone(v2);
    tampered.spec.guards.maxReplicas = 60;
    const err = await publish(options(writeBundleDir(join(work, 't'), tampered), repo)).catch((e) => e);
    expect(isKarmaError(err) && err.details.join('\n')).toMatch(/\/spec\/digest \(line \d+:\d+\): does not match/);
    expect(repoState(repo)).toEqual(before);
  });
});

describe('nothing partial', () => {
  it('leaves an existing repository unchanged when a write fails at any point', async () => {
    const { repo, work } = await repoWithFirstVersionMerged();
    const bundleDir = writeBundleDir(join(work, 'v2'), v2);
    // Each attempt runs on a fresh copy: a failed run leaves unreachable objects, which later runs skip writing.
    const copyOf = (label: string) => {
      const copy = join(work, label);
      execFileSync('cp', ['-a', repo, copy]);
      return copy;
    };
    const counter = faultyFs(0);
    await publish(options(bundleDir, copyOf('count'), { fs: counter.fs }));
    const total = counter.writes();
    expect(total).toBeGreaterThan(5);
    for (const failAt of [1, Math.ceil(total / 2), total]) {
      const copy = copyOf(`fail-${failAt}`);
      const before = repoState(copy);
      const { fs } = faultyFs(failAt);
      const err = await publish(options(bundleDir, copy, { fs })).catch((e) => e);
      expect(isKarmaError(err), `failAt ${failAt}`).toBe(true);
      expect(err.message).toMatch(/publishing failed, the repository is unchanged: ENOSPC/);
      expect(repoState(copy), `failAt ${failAt}`).toEqual(before);
      expect(gitCli(copy, 'fsck', '--strict', '--no-dangling')).toBe('');
      // And the same publish then succeeds in that repository.
      expect((await publish(options(bundleDir, copy))).status).toBe('published');
    }
  });

  it('removes what it created when publishing into a new directory fails', async () => {
    const work = tempDir('publish');
    const repo = join(work, 'gitops');
    const bundleDir = writeBundleDir(join(work, 'b'), v1);
    const counter = faultyFs(0);
    await publish(options(bundleDir, join(work, 'count'), { fs: counter.fs }));
    const { fs } = faultyFs(counter.writes() - 1);
    await expect(publish(options(bundleDir, repo, { fs }))).rejects.toThrow(/unchanged/);
    expect(existsSync(repo)).toBe(false);
  });

  it('leaves an empty repository empty (HEAD unborn, no files) when a write fails', async () => {
    const work = tempDir('publish');
    const repo = join(work, 'gitops');
    execFileSync('git', ['init', '--quiet', '-b', 'main', repo]);
    const before = { head: readFileSync(join(repo, '.git', 'HEAD'), 'utf8'), files: filesUnder(repo), refs: gitCli(repo, 'for-each-ref') };
    const counter = faultyFs(0);
    const countRepo = join(work, 'count');
    execFileSync('git', ['init', '--quiet', '-b', 'main', countRepo]);
    await publish(options(writeBundleDir(join(work, 'b'), v1), countRepo, { fs: counter.fs }));
    const { fs } = faultyFs(counter.writes());
    await expect(publish(options(join(work, 'b'), repo, { fs }))).rejects.toThrow(/unchanged/);
    expect({ head: readFileSync(join(repo, '.git', 'HEAD'), 'utf8'), files: filesUnder(repo), refs: gitCli(repo, 'for-each-ref') }).toEqual(before);
  });
});
