/**
 * Publish a bundle directory to a GitOps repository with isomorphic-git: one commit on a new branch
 * `karma-hpa/<app>/v<version>` (from the base branch) holding the bundle, its report and plots and the
 * repository layout, an annotated tag of the same name, and a pull-request body. Commits are built
 * from objects (blobs → trees → commit), so the working tree and index of the repository are left
 * alone. Either every step succeeds or the repository is put back as it was (see snapshot.ts).
 */
import * as nodeFs from 'node:fs';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import git, { type HttpClient, type PromiseFsClient } from 'isomorphic-git';
import { parse } from 'yaml';
import httpNode from 'isomorphic-git/http/node';
import { KarmaError } from '../../policies/errors.ts';
import type { PolicyBundle } from '../../policies/bundle.ts';
import { checkBundleText } from '../bundle/load.ts';
import { diffBundles, formatBundleDiff, type BundleDiff } from '../bundle/diff.ts';
import { explainBundleChange, renderBundleChange } from '../analyze/bundle-change.ts';
import { bundleDirectoryFiles, layoutFiles } from './layout.ts';
import { releaseBranch, releaseTag } from './naming.ts';
import { restoreRepo, snapshotRepo } from './snapshot.ts';

/** The file system isomorphic-git writes through; injectable so tests can make writes fail. */
export type GitFs = PromiseFsClient;
type GitHttp = HttpClient;

export interface GitIdentity {
  name: string;
  email: string;
}

export interface PublishOptions {
  /** Directory with bundle.json (or bundle.yaml), and optionally report.md, plots/*.svg, hpa/*.yaml. */
  bundleDir?: string;
  /** Path of a local repository (created when missing) or an https URL to clone. */
  repo: string;
  base: string;
  cluster: string;
  app?: string;
  branch?: string;
  /** Only write (or refresh) the GitOps layout. */
  initLayout?: boolean;
  push?: boolean;
  /** URL Argo CD / Flux fetch from; default: the https URL given, else the origin remote. */
  repoUrl?: string;
  author: GitIdentity;
  /** Epoch ms; the commit and tag times. */
  now: () => number;
  token?: string;
  fs?: GitFs;
  http?: GitHttp;
  /** The webhook's kustomize base to copy into base/webhook/ (default: webhook/deploy/base of this tree). */
  webhookBaseDir?: string;
}

export interface PublishResult {
  status: 'published' | 'unchanged' | 'layout';
  repoDir: string;
  branch: string;
  tag: string | undefined;
  commit: string;
  app: string | undefined;
  version: string | undefined;
  previousVersion: string | undefined;
  /** Repository paths added, changed or removed by the commit. */
  changedPaths: string[];
  commitMessage: string;
  pullRequestBody: string;
  pushed: boolean;
  warnings: string[];
}

const DEFAULT_WEBHOOK_BASE = new URL('../../webhook/deploy/base/', import.meta.url);
const PLACEHOLDER_REPO_URL = 'https://git.example.invalid/gitops.git';
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

interface BundleSource {
  bundle: PolicyBundle;
  bundleFileName: string;
  /** Files of the bundle directory to publish, by path relative to it. */
  files: Record<string, Uint8Array>;
}

/** Read and check the bundle directory. */
export function readBundleDirectory(dir: string): BundleSource {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new KarmaError('bundle directory not found', { where: dir, hint: 'pass the directory karma-hpa generate wrote (it holds bundle.json, report.md, plots/)' });
  }
  const candidates = ['bundle.json', 'bundle.yaml', 'bundle.yml'].filter((f) => existsSync(join(dir, f)));
  if (candidates.length !== 1) {
    throw new KarmaError(candidates.length === 0 ? 'no bundle.json or bundle.yaml in the bundle directory' : `more than one bundle file: ${candidates.join(', ')}`, {
      where: dir, hint: 'a bundle directory holds exactly one bundle file',
    });
  }
  const bundleFileName = candidates[0]!;
  const text = readFileSync(join(dir, bundleFileName), 'utf8');
  const check = checkBundleText(text, join(dir, bundleFileName));
  if (!check.ok || !check.bundle) {
    throw new KarmaError(`invalid PolicyBundle: ${check.errors.length} problem${check.errors.length === 1 ? '' : 's'}`, {
      where: join(dir, bundleFileName), details: check.errors, hint: 'run karma-hpa bundle validate; only valid, sealed bundles are published',
    });
  }
  const files: Record<string, Uint8Array> = { [bundleFileName]: readFileSync(join(dir, bundleFileName)) };
  if (existsSync(join(dir, 'report.md'))) files['report.md'] = readFileSync(join(dir, 'report.md'));
  for (const sub of [['plots', /\.svg$/], ['hpa', /\.ya?ml$/]] as const) {
    const d = join(dir, sub[0]);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d).sort()) if (sub[1].test(f)) files[`${sub[0]}/${f}`] = readFileSync(join(d, f));
  }
  return { bundle: check.bundle, bundleFileName, files };
}

/** The webhook's kustomize base files (relative path → text), if this tree has one. */
export function readWebhookBase(dir: string | URL = DEFAULT_WEBHOOK_BASE): Record<string, string> | undefined {
  const root = typeof dir === 'string' ? dir : decodeURIComponent(dir.pathname);
  if (!existsSync(root)) return undefined;
  const out: Record<string, string> = {};
  const visit = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const full = join(d, name);
      if (statSync(full).isDirectory()) visit(full);
      else out[relative(root, full).split('\\').join('/')] = readFileSync(full, 'utf8');
    }
  };
  visit(root);
  return Object.keys(out).length > 0 ? out : undefined;
}

type Flat = Map<string, { oid: string; mode: string }>;

async function readFlatTree(fs: GitFs, dir: string, commit: string | undefined): Promise<Flat> {
  const flat: Flat = new Map();
  if (!commit) return flat;
  const visit = async (oid: string, prefix: string) => {
    const { tree } = await git.readTree({ fs, dir, oid });
    for (const e of tree) {
      const path = prefix ? `${prefix}/${e.path}` : e.path;
      if (e.type === 'tree') await visit(e.oid, path);
      else flat.set(path, { oid: e.oid, mode: e.mode });
    }
  };
  const { commit: c } = await git.readCommit({ fs, dir, oid: commit });
  await visit(c.tree, '');
  return flat;
}

interface TreeNode { files: Map<string, { oid: string; mode: string }>; dirs: Map<string, TreeNode> }

async function writeFlatTree(fs: GitFs, dir: string, flat: Flat): Promise<string> {
  const root: TreeNode = { files: new Map(), dirs: new Map() };
  for (const [path, entry] of flat) {
    const parts = path.split('/');
    let node = root;
    for (const p of parts.slice(0, -1)) {
      if (!node.dirs.has(p)) node.dirs.set(p, { files: new Map(), dirs: new Map() });
      node = node.dirs.get(p)!;
    }
    node.files.set(parts[parts.length - 1]!, entry);
  }
  const write = async (node: TreeNode): Promise<string> => {
    const entries = [...node.files].map(([path, e]) => ({ path, oid: e.oid, mode: e.mode, type: 'blob' as const }));
    for (const [path, sub] of node.dirs) entries.push({ path, oid: await write(sub), mode: '040000', type: 'tree' as never });
    return git.writeTree({ fs, dir, tree: entries });
  };
  return write(root);
}

async function resolveOrUndefined(fs: GitFs, dir: string, ref: string): Promise<string | undefined> {
  try {
    return await git.resolveRef({ fs, dir, ref });
  } catch {
    return undefined;
  }
}

/** Apps with a bundle on the cluster in a tree, with their namespaces. */
async function appsInTree(fs: GitFs, dir: string, flat: Flat, cluster: string): Promise<{ name: string; namespace: string }[]> {
  const out: { name: string; namespace: string }[] = [];
  const re = new RegExp(`^bundles/${cluster}/([^/]+)/bundle\\.(json|ya?ml)$`);
  for (const [path, e] of flat) {
    const m = re.exec(path);
    if (!m) continue;
    const parsed = parsePreviousBundle(Buffer.from((await git.readBlob({ fs, dir, oid: e.oid })).blob).toString('utf8'), path);
    out.push({ name: m[1]!, namespace: parsed?.metadata.namespace ?? 'default' });
  }
  return out;
}

function parsePreviousBundle(text: string, path: string): PolicyBundle | undefined {
  const r = checkBundleText(text, path);
  return r.ok ? r.bundle : undefined;
}

const semver = (v: string) => v.split('.').map(Number) as [number, number, number];
function compareVersions(a: string, b: string): number {
  const [x, y] = [semver(a), semver(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}

function pct(v: number): string {
  return `${(v * 100).toFixed(1)} %`;
}

/** Commit message: one summary line, then the behaviour change in a few lines. */
export function commitMessage(d: BundleDiff, agents: { name: string; role: string }[], cluster: string): string {
  const change = d.version.from === undefined ? 'first version' : `${d.version.change} change from v${d.version.from}`;
  const lines = [`karma-hpa: ${d.name} v${d.version.to} on ${cluster} (${change})`, ''];
  const retrained = d.agents.filter((a) => a.weightsChanged).map((a) => a.name);
  lines.push(`Agents: ${agents.map((a) => `${a.name} (${a.role})`).join(', ')}`);
  if (d.agentsAdded.length > 0) lines.push(`Agents added: ${d.agentsAdded.join(', ')}`);
  if (d.agentsRemoved.length > 0) lines.push(`Agents removed: ${d.agentsRemoved.join(', ')}`);
  if (d.version.from !== undefined) lines.push(`Weights changed: ${retrained.length > 0 ? retrained.join(', ') : 'none'}`);
  const roleChanges = d.agents.filter((a) => a.role).map((a) => `${a.name} ${a.role!.from} -> ${a.role!.to}`);
  if (roleChanges.length > 0) lines.push(`Roles changed: ${roleChanges.join('; ')}`);
  const rules = d.agents.reduce((n, a) => n + a.rulesAdded.length + a.rulesRemoved.length, 0);
  if (rules > 0) lines.push(`Rules: ${d.agents.reduce((n, a) => n + a.rulesAdded.length, 0)} added, ${d.agents.reduce((n, a) => n + a.rulesRemoved.length, 0)} removed`);
  for (const g of d.guards) lines.push(`Guard ${g.field}: ${JSON.stringify(g.from)} -> ${JSON.stringify(g.to)}`);
  for (const m of d.evaluation.filter((e) => e.metric === 'successRate' && e.to !== undefined)) {
    lines.push(`Success rate ${m.scenario}/${m.method}: ${m.from !== undefined ? `${pct(m.from)} -> ` : ''}${pct(m.to!)}`);
  }
  lines.push(`Digest: ${d.digest.to}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The pull-request description: against a previous version, the reviewer's explanation that
 * `karma-hpa diff` prints; for a first version, the bundle's summary.
 */
function pullRequestBody(d: BundleDiff, previous: PolicyBundle | undefined, next: PolicyBundle, opts: { cluster: string; dirInRepo: string; files: string[]; branch: string; tag: string; base: string }): string {
  const plots = opts.files.filter((f) => f.startsWith('plots/'));
  const change = previous ? renderBundleChange(explainBundleChange(previous, next)) : formatBundleDiff(d);
  return [
    `## karma-hpa: ${d.name} v${d.version.to} on ${opts.cluster}`,
    '',
    change.trimEnd(),
    '',
    '### Review',
    '',
    opts.files.includes('report.md') ? `- Report: \`${opts.dirInRepo}/report.md\`` : '- No report.md was published with this bundle.',
    ...(plots.length > 0 ? [`- Plots: ${plots.map((p) => `\`${opts.dirInRepo}/${p}\``).join(', ')}`] : []),
    `- Check locally: \`npx karma-hpa bundle validate ${opts.dirInRepo}/${opts.files.find((f) => f.startsWith('bundle.')) ?? 'bundle.json'}\``,
    `- Branch \`${opts.branch}\` into \`${opts.base}\`; tag \`${opts.tag}\`.`,
    '',
    'Merging rolls the bundle out through Argo CD / Flux; the webhook refuses it if its digest does not match.',
    '',
  ].join('\n');
}

/** Publish; on any failure the repository is restored and a KarmaError says what failed. */
export async function publish(opts: PublishOptions): Promise<PublishResult> {
  const fs = opts.fs ?? (nodeFs as unknown as GitFs);
  const http = opts.http ?? httpNode;
  const warnings: string[] = [];
  if (!DNS_LABEL.test(opts.cluster)) throw new KarmaError(`cluster name "${opts.cluster}" is not a DNS label`, { where: 'karma-hpa publish --cluster', hint: 'use lower-case letters, digits and "-"' });
  const source = opts.initLayout && !opts.bundleDir ? undefined : readBundleDirectory(opts.bundleDir ?? '.');
  const app = opts.app ?? source?.bundle.metadata.name;
  if (app !== undefined && !DNS_LABEL.test(app)) throw new KarmaError(`app name "${app}" is not a DNS label`, { where: 'karma-hpa publish --app', hint: 'use lower-case letters, digits and "-"' });

  const remote = /^https?:\/\//.test(opts.repo);
  let dir = resolve(opts.repo);
  let cloneDir: string | undefined;
  if (remote) {
    cloneDir = mkdtempSync(join(tmpdir(), 'karma-hpa-publish-'));
    dir = cloneDir;
    try {
      await git.clone({ fs, http, dir, url: opts.repo, ref: opts.base, singleBranch: true, noCheckout: true, onAuth: opts.token ? () => ({ username: 'x-access-token', password: opts.token }) : undefined });
    } catch (e) {
      rmSync(cloneDir, { recursive: true, force: true });
      throw new KarmaError(`cannot clone ${opts.repo}: ${(e as Error).message}`, { where: 'karma-hpa publish --repo', hint: 'check the URL, the base branch, and KARMA_HPA_GIT_TOKEN' });
    }
  }

  const headUnborn = existsSync(join(dir, '.git')) ? await resolveOrUndefined(fs, dir, 'HEAD') === undefined : true;
  const snapshot = snapshotRepo(dir, { worktree: headUnborn });
  try {
    const result = await publishInRepo(fs, http, dir, source, app, opts, warnings);
    if (remote) result.repoDir = opts.repo;
    return result;
  } catch (e) {
    restoreRepo(snapshot);
    if (e instanceof KarmaError) throw e;
    throw new KarmaError(`publishing failed, the repository is unchanged: ${(e as Error).message}`, {
      where: opts.repo,
      hint: 'fix the cause (disk space, permissions, network, token) and run karma-hpa publish again',
    });
  } finally {
    if (cloneDir) rmSync(cloneDir, { recursive: true, force: true });
  }
}

async function publishInRepo(fs: GitFs, http: GitHttp, dir: string, source: BundleSource | undefined, app: string | undefined, opts: PublishOptions, warnings: string[]): Promise<PublishResult> {
  if (!existsSync(join(dir, '.git'))) {
    nodeFs.mkdirSync(dir, { recursive: true });
    await git.init({ fs, dir, defaultBranch: opts.base });
  }
  const who = { ...opts.author, timestamp: Math.floor(opts.now() / 1000), timezoneOffset: 0 };
  const baseRef = `refs/heads/${opts.base}`;
  let baseCommit = await resolveOrUndefined(fs, dir, baseRef);
  const baseFlat = await readFlatTree(fs, dir, baseCommit);
  const repoUrl = opts.repoUrl ?? (/^https?:\/\//.test(opts.repo) ? opts.repo : (await layoutRepoUrl(fs, dir, baseFlat, opts.cluster)) ?? await originUrl(fs, dir));
  if (repoUrl === undefined) warnings.push(`no --repo-url and no origin remote: Argo CD / Flux manifests point at ${PLACEHOLDER_REPO_URL}; pass --repo-url`);
  const baseApps = await appsInTree(fs, dir, baseFlat, opts.cluster);
  const apps = [...baseApps];
  if (source && app && !apps.some((a) => a.name === app)) apps.push({ name: app, namespace: source.bundle.metadata.namespace ?? 'default' });
  const layoutFor = (list: { name: string; namespace: string }[]) => layoutFiles({
    cluster: opts.cluster, apps: [...list].sort((a, b) => a.name.localeCompare(b.name)), repoUrl: repoUrl ?? PLACEHOLDER_REPO_URL, branch: opts.base,
    webhookBase: readWebhookBase(opts.webhookBaseDir ?? DEFAULT_WEBHOOK_BASE),
  });
  const layout = layoutFor(apps);

  // An empty repository gets its base branch first, holding the layout (without the new app, whose
  // directory exists only on the bundle branch), so the bundle branch has a base to merge into.
  let createdBase = false;
  if (baseCommit === undefined) {
    const flat: Flat = new Map();
    for (const [path, text] of Object.entries(layoutFor(baseApps))) flat.set(path, { oid: await git.writeBlob({ fs, dir, blob: Buffer.from(text) }), mode: '100644' });
    const tree = await writeFlatTree(fs, dir, flat);
    baseCommit = await git.writeCommit({ fs, dir, commit: { message: `karma-hpa: GitOps layout for cluster ${opts.cluster}\n`, tree, parent: [], author: who, committer: who } });
    await git.writeRef({ fs, dir, ref: baseRef, value: baseCommit });
    createdBase = true;
  }

  let result: PublishResult;
  if (!source || !app) {
    result = await commitLayoutOnly(fs, dir, opts, layout, baseCommit, createdBase, who);
  } else {
    result = await commitBundle(fs, dir, opts, source, app, layout, baseCommit, who);
  }
  result.warnings = warnings;
  // A new repository checked out on the base branch gets its working tree, so `git status` is clean.
  const head = String(await fs.promises.readFile(join(dir, '.git', 'HEAD'), 'utf8')).trim();
  if (createdBase && head === `ref: ${baseRef}`) await git.checkout({ fs, dir, ref: opts.base, force: false });

  if (opts.push && result.status !== 'unchanged') {
    await pushResult(fs, http, dir, opts, result);
    result.pushed = true;
  }
  return result;
}

/** The URL the existing layout on the base branch already uses (its Flux GitRepository). */
async function layoutRepoUrl(fs: GitFs, dir: string, flat: Flat, cluster: string): Promise<string | undefined> {
  const entry = flat.get(`clusters/${cluster}/flux/gitrepository.yaml`);
  if (!entry) return undefined;
  const text = Buffer.from((await git.readBlob({ fs, dir, oid: entry.oid })).blob).toString('utf8');
  const url = (parse(text) as { spec?: { url?: unknown } } | null)?.spec?.url;
  return typeof url === 'string' && url !== PLACEHOLDER_REPO_URL ? url : undefined;
}

async function originUrl(fs: GitFs, dir: string): Promise<string | undefined> {
  const url = (await git.getConfig({ fs, dir, path: 'remote.origin.url' })) as string | undefined;
  return typeof url === 'string' && url.length > 0 ? url : undefined;
}

async function commitLayoutOnly(fs: GitFs, dir: string, opts: PublishOptions, layout: Record<string, string>, baseCommit: string, createdBase: boolean, who: { name: string; email: string; timestamp: number; timezoneOffset: number }): Promise<PublishResult> {
  const branch = opts.branch ?? `karma-hpa/layout/${opts.cluster}`;
  const base: PublishResult = {
    status: 'layout', repoDir: dir, branch: createdBase ? opts.base : branch, tag: undefined, commit: baseCommit, app: undefined,
    version: undefined, previousVersion: undefined, changedPaths: createdBase ? Object.keys(layout).sort() : [], commitMessage: '', pullRequestBody: '', pushed: false, warnings: [],
  };
  if (createdBase) {
    base.commitMessage = `karma-hpa: GitOps layout for cluster ${opts.cluster}\n`;
    base.pullRequestBody = `## karma-hpa: GitOps layout for cluster ${opts.cluster}\n\nCreated \`${opts.base}\` with the layout (see README.md).\n`;
    return base;
  }
  const flat = await readFlatTree(fs, dir, baseCommit);
  const changed = await overlay(fs, dir, flat, layout, []);
  if (changed.length === 0) return { ...base, status: 'unchanged', branch: opts.base };
  const tree = await writeFlatTree(fs, dir, flat);
  const message = `karma-hpa: refresh the GitOps layout for cluster ${opts.cluster}\n\n${changed.map((p) => `- ${p}`).join('\n')}\n`;
  const commit = await git.writeCommit({ fs, dir, commit: { message, tree, parent: [baseCommit], author: who, committer: who } });
  await createBranch(fs, dir, branch, commit, tree);
  return {
    ...base, branch, commit, changedPaths: changed, commitMessage: message,
    pullRequestBody: `## karma-hpa: GitOps layout for cluster ${opts.cluster}\n\nFiles written:\n${changed.map((p) => `- \`${p}\``).join('\n')}\n`,
  };
}

/** Write `files` over `flat` (removing paths under `clearPrefixes` first); returns the paths that changed. */
async function overlay(fs: GitFs, dir: string, flat: Flat, files: Record<string, string | Uint8Array>, clearPrefixes: string[]): Promise<string[]> {
  const before = new Map(flat);
  for (const p of [...flat.keys()]) if (clearPrefixes.some((prefix) => p.startsWith(prefix))) flat.delete(p);
  for (const [path, content] of Object.entries(files)) {
    const oid = await git.writeBlob({ fs, dir, blob: typeof content === 'string' ? Buffer.from(content) : content });
    flat.set(path, { oid, mode: '100644' });
  }
  const paths = new Set([...before.keys(), ...flat.keys()]);
  return [...paths].filter((p) => before.get(p)?.oid !== flat.get(p)?.oid || before.get(p)?.mode !== flat.get(p)?.mode).sort();
}

async function createBranch(fs: GitFs, dir: string, branch: string, commit: string, tree: string): Promise<void> {
  const existing = await resolveOrUndefined(fs, dir, `refs/heads/${branch}`);
  if (existing !== undefined) {
    const { commit: c } = await git.readCommit({ fs, dir, oid: existing });
    if (c.tree !== tree) {
      throw new KarmaError(`branch ${branch} already exists with other content`, {
        hint: `delete it (git branch -D ${branch}) or publish a new version`,
      });
    }
  }
  await git.writeRef({ fs, dir, ref: `refs/heads/${branch}`, value: commit, force: true });
}

async function commitBundle(fs: GitFs, dir: string, opts: PublishOptions, source: BundleSource, app: string, layout: Record<string, string>, baseCommit: string, who: { name: string; email: string; timestamp: number; timezoneOffset: number }): Promise<PublishResult> {
  const bundle = source.bundle;
  const version = bundle.spec.version;
  const branch = opts.branch ?? releaseBranch(app, version);
  const tag = releaseTag(app, version);
  const dirInRepo = `bundles/${opts.cluster}/${app}`;
  const flat = await readFlatTree(fs, dir, baseCommit);

  let previous: PolicyBundle | undefined;
  for (const name of ['bundle.json', 'bundle.yaml', 'bundle.yml']) {
    const entry = flat.get(`${dirInRepo}/${name}`);
    if (!entry) continue;
    const text = Buffer.from((await git.readBlob({ fs, dir, oid: entry.oid })).blob).toString('utf8');
    previous = parsePreviousBundle(text, `${opts.base}:${dirInRepo}/${name}`);
  }
  if (previous && previous.spec.digest !== bundle.spec.digest && compareVersions(version, previous.spec.version) <= 0) {
    throw new KarmaError(`bundle v${version} is not newer than v${previous.spec.version} on ${opts.base}`, {
      where: `${dirInRepo}`,
      hint: 'generate the bundle with the published one as the previous version, so its version is bumped',
    });
  }
  const d = diffBundles(previous, bundle);
  const files = bundleDirectoryFiles(source.bundleFileName, source.files);
  const inRepo = Object.fromEntries(Object.entries(files).map(([p, c]) => [`${dirInRepo}/${p}`, c]));
  const changedPaths = await overlay(fs, dir, flat, { ...layout, ...inRepo }, [`${dirInRepo}/`]);
  const message = commitMessage(d, bundle.spec.agents, opts.cluster);
  const prBody = pullRequestBody(d, previous, bundle, { cluster: opts.cluster, dirInRepo, files: Object.keys(files), branch, tag, base: opts.base });
  const unchanged = (commit: string): PublishResult => ({
    status: 'unchanged', repoDir: dir, branch, tag, commit, app, version, previousVersion: previous?.spec.version,
    changedPaths: [], commitMessage: '', pullRequestBody: prBody, pushed: false, warnings: [],
  });
  if (changedPaths.length === 0) return unchanged(baseCommit);
  const tree = await writeFlatTree(fs, dir, flat);

  // Publishing the same bundle again finds its tag: report it instead of failing.
  const existingTag = await resolveOrUndefined(fs, dir, `refs/tags/${tag}`);
  if (existingTag !== undefined) {
    const tagged = await git.readTag({ fs, dir, oid: existingTag }).then((t) => t.tag.object).catch(() => existingTag);
    const { commit: c } = await git.readCommit({ fs, dir, oid: tagged });
    if (c.tree === tree) return unchanged(tagged);
    throw new KarmaError(`tag ${tag} already exists with other content`, { hint: 'a published version is immutable: generate a new version' });
  }

  const commit = await git.writeCommit({ fs, dir, commit: { message, tree, parent: [baseCommit], author: who, committer: who } });
  await createBranch(fs, dir, branch, commit, tree);
  const tagOid = await git.writeTag({
    fs, dir,
    tag: { object: commit, type: 'commit', tag, tagger: who, message: `${app} v${version} (${bundle.spec.digest})\n` },
  });
  await git.writeRef({ fs, dir, ref: `refs/tags/${tag}`, value: tagOid });
  return {
    status: 'published', repoDir: dir, branch, tag, commit, app, version, previousVersion: previous?.spec.version,
    changedPaths, commitMessage: message, pullRequestBody: prBody, pushed: false, warnings: [],
  };
}

async function pushResult(fs: GitFs, http: GitHttp, dir: string, opts: PublishOptions, result: PublishResult): Promise<void> {
  const url = /^https?:\/\//.test(opts.repo) ? opts.repo : undefined;
  const remote = url ? undefined : 'origin';
  if (remote && (await originUrl(fs, dir)) === undefined) {
    throw new KarmaError('--push needs a remote: the repository has no origin', { where: opts.repo, hint: 'add one (git remote add origin https://...) or pass an https URL as --repo' });
  }
  const onAuth = opts.token ? () => ({ username: 'x-access-token', password: opts.token }) : undefined;
  const refs = [`refs/heads/${result.branch}`, ...(result.tag ? [`refs/tags/${result.tag}`] : [])];
  const pushed: string[] = [];
  try {
    for (const ref of refs) {
      const r = await git.push({ fs, http, dir, ...(url ? { url } : { remote }), ref, remoteRef: ref, onAuth });
      if (!r.ok) throw new Error(`the remote refused ${ref}: ${JSON.stringify(r.refs[ref] ?? r)}`);
      pushed.push(ref);
    }
  } catch (e) {
    // Leave the remote as it was too: delete what this run pushed before the failure.
    for (const ref of pushed) {
      await git.push({ fs, http, dir, ...(url ? { url } : { remote }), ref, remoteRef: ref, delete: true, onAuth }).catch(() => undefined);
    }
    throw new KarmaError(`push failed, nothing was published: ${(e as Error).message}`, {
      where: url ?? `${opts.repo} (origin)`,
      hint: 'check KARMA_HPA_GIT_TOKEN (it needs write access to the repository) and the remote URL',
    });
  }
}
