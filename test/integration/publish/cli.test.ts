import { describe, expect, it } from 'vitest';
import { commands } from '../../../generator/commands/index.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { main } from '../../../generator/cli/main.ts';
import { WORKFLOW_PATH, WORKFLOW_TEMPLATE_PATH } from '../../../generator/publish/layout.ts';
import { captureIo } from '../../support/io.ts';
import { firstVersion } from '../../fixtures/bundle/versions.ts';
import { gitCli, tempDir, writeBundleDir } from './support.ts';

const CLOCK = Date.UTC(2026, 0, 2, 3, 4, 5);

async function run(cwd: string, env: Record<string, string>, ...argv: string[]) {
  const io = captureIo({ cwd, env, now: () => CLOCK });
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe('karma-hpa publish (command)', () => {
  it('publishes, prints the pull-request body and writes it beside the bundle', async () => {
    const work = tempDir('publish-cli');
    writeBundleDir(join(work, 'out'), firstVersion());
    const r = await run(work, { KARMA_HPA_GIT_AUTHOR: 'Ops Team <ops@example.com>' }, 'publish', '--bundle', 'out', '--repo', 'gitops', '--cluster', 'staging', '--repo-url', 'https://git.example.com/acme/gitops.git');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^chained-services v1\.0\.0 committed on karma-hpa\/chained-services\/v1\.0\.0 \([0-9a-f]{12}\), tagged karma-hpa-release\/chained-services\/v1\.0\.0\n/);
    expect(r.out).toContain('## karma-hpa: chained-services v1.0.0 on staging');
    const body = readFileSync(join(work, 'out', 'pull-request.md'), 'utf8');
    expect(r.out.endsWith(body)).toBe(true);
    const repo = join(work, 'gitops');
    expect(gitCli(repo, 'log', '-1', '--format=%an <%ae> %at', 'refs/heads/karma-hpa/chained-services/v1.0.0')).toBe(`Ops Team <ops@example.com> ${CLOCK / 1000}`);
    const flux = parse(gitCli(repo, 'show', 'refs/heads/karma-hpa/chained-services/v1.0.0:clusters/staging/flux/gitrepository.yaml'));
    expect(flux.spec.url).toBe('https://git.example.com/acme/gitops.git');

    const again = await run(work, {}, 'publish', '--bundle', 'out', '--repo', 'gitops', '--cluster', 'staging', '--json');
    expect(again.code).toBe(0);
    const j = JSON.parse(again.out);
    expect(j.status).toBe('unchanged');
  });

  it('explains missing options and bad author strings', async () => {
    const work = tempDir('publish-cli');
    const a = await run(work, {}, 'publish', '--repo', 'x');
    expect(a.code).toBe(2);
    expect(a.err).toContain('missing --bundle DIR (or --init-layout)');
    writeBundleDir(join(work, 'out'), firstVersion());
    const b = await run(work, {}, 'publish', '--bundle', 'out', '--repo', 'x', '--author', 'nobody');
    expect(b.code).toBe(2);
    expect(b.err).toContain('"nobody" is not "Name <email>"');
    const c = await run(work, {}, 'publish', '--bundle', 'nowhere', '--repo', 'x');
    expect(c.err).toContain('bundle directory not found');
  });

  it('--init-layout writes the layout and the pull-request workflow into a new repository', async () => {
    const work = tempDir('publish-cli');
    const r = await run(work, {}, 'publish', '--init-layout', '--repo', 'gitops', '--cluster', 'edge', '--repo-url', 'https://git.example.com/acme/gitops.git');
    expect(r.code).toBe(0);
    const repo = join(work, 'gitops');
    expect(gitCli(repo, 'status', '--porcelain')).toBe('');
    expect(gitCli(repo, 'log', '--format=%s')).toBe('karma-hpa: GitOps layout for cluster edge');
    expect(readFileSync(join(repo, WORKFLOW_PATH), 'utf8')).toBe(readFileSync(WORKFLOW_TEMPLATE_PATH, 'utf8'));
    expect(readFileSync(join(repo, 'README.md'), 'utf8')).toContain('clusters/edge/flux/');
    // Running it again changes nothing.
    const again = await run(work, {}, 'publish', '--init-layout', '--repo', 'gitops', '--cluster', 'edge', '--repo-url', 'https://git.example.com/acme/gitops.git');
    expect(again.out).toMatch(/^nothing to publish/);
    // A second cluster arrives on its own branch, for review.
    const other = await run(work, {}, 'publish', '--init-layout', '--repo', 'gitops', '--cluster', 'core', '--repo-url', 'https://git.example.com/acme/gitops.git');
    expect(other.out).toMatch(/^layout committed on karma-hpa\/layout\/core/);
    expect(gitCli(repo, 'diff', '--name-only', 'main', 'refs/heads/karma-hpa/layout/core')).toContain('clusters/core/flux/kustomization.yaml');
  });
});

describe('pull-request workflow template', () => {
  const wf = parse(readFileSync(WORKFLOW_TEMPLATE_PATH, 'utf8'));
  it('runs on pull requests touching bundles/', () => {
    expect(wf.on.pull_request.paths).toEqual(['bundles/**']);
    expect(wf.permissions['pull-requests']).toBe('write');
  });
  it('validates, re-evaluates against the default HPA and comments the report', () => {
    const steps = wf.jobs.check.steps as { name?: string; run?: string; uses?: string; with?: { script?: string } }[];
    const runs = steps.map((s) => s.run ?? '').join('\n');
    expect(runs).toContain('bundle validate');
    expect(runs).toMatch(/evaluate --bundle "\$bundle"/);
    expect(runs).toMatch(/--methods bundle,default-hpa/);
    // Every option the workflow passes to a karma-hpa command is one that command accepts.
    const calls = runs.replace(/\\\n\s*/g, ' ').matchAll(/karma-hpa@\$\{KARMA_HPA_VERSION\}" (\w+)([^\n]*)/g);
    let checked = 0;
    for (const [, name, rest] of calls) {
      const command = commands.find((c) => c.name === name);
      expect(command, `karma-hpa ${name}`).toBeDefined();
      for (const [, option] of rest!.matchAll(/--([a-z-]+)/g)) {
        expect(Object.keys(command!.options), `karma-hpa ${name} --${option}`).toContain(option);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6);
    const comment = steps.find((s) => s.uses?.startsWith('actions/github-script'));
    expect(comment?.with?.script).toContain('createComment');
    const props = JSON.parse(readFileSync(new URL('../../../.github/workflow-templates/karma-hpa-gitops-pr.properties.json', import.meta.url), 'utf8'));
    expect(props.name).toBe(wf.name);
  });
});
