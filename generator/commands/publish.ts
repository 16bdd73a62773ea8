import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from '../cli/command.ts';
import { stringOpt } from '../cli/command.ts';
import { KarmaError } from '../../policies/errors.ts';
import { publish, type GitIdentity } from '../publish/publish.ts';

const DEFAULT_AUTHOR = 'karma-hpa <karma-hpa@users.noreply.invalid>';

export function parseIdentity(text: string, where: string): GitIdentity {
  const m = /^\s*([^<>]+?)\s*<([^<>\s]+@[^<>\s]+)>\s*$/.exec(text);
  if (!m) throw new KarmaError(`"${text}" is not "Name <email>"`, { where, hint: 'e.g. --author "Release Bot <bot@example.com>"' });
  return { name: m[1]!, email: m[2]! };
}

export const publishCommand: Command = {
  name: 'publish',
  summary: 'commit a bundle to a GitOps repository on a new branch, with a tag and a pull-request body',
  usage: '--bundle DIR --repo PATH_OR_URL [--cluster NAME] [--app NAME] [--base main] [--branch NAME] [--push] [--json] | --init-layout --repo PATH',
  options: {
    bundle: { type: 'string', valueName: 'DIR', description: 'bundle directory: bundle.json (or .yaml), report.md, plots/*.svg' },
    repo: { type: 'string', valueName: 'PATH_OR_URL', description: 'GitOps repository: a local path (created if missing) or an https URL' },
    base: { type: 'string', valueName: 'BRANCH', default: 'main', description: 'branch the pull request targets' },
    branch: { type: 'string', valueName: 'NAME', description: 'branch to create (default karma-hpa/<app>/v<version>)' },
    app: { type: 'string', valueName: 'NAME', description: 'app directory under bundles/<cluster>/ (default: the bundle name)' },
    cluster: { type: 'string', valueName: 'NAME', default: 'default', description: 'cluster directory the bundle is published for' },
    'repo-url': { type: 'string', valueName: 'URL', description: 'URL Argo CD / Flux fetch from (default: --repo when a URL, else the origin remote)' },
    author: { type: 'string', valueName: '"NAME <EMAIL>"', description: `commit author (default: KARMA_HPA_GIT_AUTHOR or ${DEFAULT_AUTHOR})` },
    out: { type: 'string', valueName: 'DIR', description: 'where to write pull-request.md (default: the bundle directory)' },
    'init-layout': { type: 'boolean', description: 'write the GitOps layout (base/, clusters/, workflow) without a bundle' },
    push: { type: 'boolean', description: 'push branch and tag to the remote over HTTPS (token: KARMA_HPA_GIT_TOKEN)' },
    json: { type: 'boolean', description: 'print the result as JSON' },
  },
  details: `
The commit holds bundles/<cluster>/<app>/ (bundle, report.md, plots/, kustomization.yaml) and the GitOps
layout (base/crd, base/webhook, clusters/<cluster>/argocd and flux, .github/workflows). The repository's
working tree and index are not touched, except that a new repository is checked out on its base branch.
If any step fails, refs, HEAD and index are restored: nothing is half-published.

examples:
  karma-hpa publish --bundle out/shop --repo ../gitops --cluster prod
  KARMA_HPA_GIT_TOKEN=... karma-hpa publish --bundle out/shop --repo https://github.com/acme/gitops.git --push`,
  async run(args, io) {
    const repo = stringOpt(args, 'repo', 'publish', true);
    const initLayout = args.values['init-layout'] === true;
    const bundleDir = stringOpt(args, 'bundle', 'publish');
    if (!bundleDir && !initLayout) throw new KarmaError('missing --bundle DIR (or --init-layout)', { where: 'karma-hpa publish', hint: "run 'karma-hpa publish --help'" });
    const authorText = stringOpt(args, 'author', 'publish') ?? io.env.KARMA_HPA_GIT_AUTHOR ?? DEFAULT_AUTHOR;
    const push = args.values.push === true;
    const token = io.env.KARMA_HPA_GIT_TOKEN;
    if (push && /^https:\/\//.test(repo) && !token) io.err('karma-hpa publish: warning: --push without KARMA_HPA_GIT_TOKEN; the remote must accept anonymous pushes\n');
    const result = await publish({
      bundleDir: bundleDir ? resolve(io.cwd, bundleDir) : undefined,
      repo: /^https?:\/\//.test(repo) ? repo : resolve(io.cwd, repo),
      base: stringOpt(args, 'base', 'publish') ?? 'main',
      branch: stringOpt(args, 'branch', 'publish'),
      app: stringOpt(args, 'app', 'publish'),
      cluster: stringOpt(args, 'cluster', 'publish') ?? 'default',
      repoUrl: stringOpt(args, 'repo-url', 'publish'),
      initLayout,
      push,
      token,
      author: parseIdentity(authorText, '--author'),
      now: io.now,
    });
    const outDir = stringOpt(args, 'out', 'publish') ?? bundleDir;
    let prFile: string | undefined;
    if (outDir && result.pullRequestBody) {
      mkdirSync(resolve(io.cwd, outDir), { recursive: true });
      prFile = join(resolve(io.cwd, outDir), 'pull-request.md');
      writeFileSync(prFile, result.pullRequestBody);
    }
    for (const w of result.warnings) io.err(`karma-hpa publish: warning: ${w}\n`);
    if (args.values.json === true) {
      io.out(`${JSON.stringify({ ...result, pullRequestFile: prFile }, null, 2)}\n`);
      return 0;
    }
    if (result.status === 'unchanged') {
      io.out(`nothing to publish: ${result.app ? `${result.app} v${result.version}` : 'the layout'} is already on ${result.tag ?? result.branch} (${result.commit.slice(0, 12)})\n`);
      return 0;
    }
    io.out(`${result.status === 'layout' ? 'layout' : `${result.app} v${result.version}`} committed on ${result.branch} (${result.commit.slice(0, 12)})${result.tag ? `, tagged ${result.tag}` : ''}${result.pushed ? ', pushed' : ''}\n`);
    io.out(`${result.changedPaths.length} files changed${prFile ? `; pull-request body: ${prFile}` : ''}\n\n`);
    io.out(result.pullRequestBody);
    return 0;
  },
};
