import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { publish } from '../../../generator/publish/publish.ts';
import { isKarmaError } from '../../../policies/errors.ts';
import { firstVersion } from '../../fixtures/bundle/versions.ts';
import { startGitHttpServer, type GitHttpServer } from './git-http-server.ts';
import { gitCli, repoState, tempDir, writeBundleDir } from './support.ts';

const TOKEN = 'test-token-7c1f';
const author = { name: 'Release Bot', email: 'bot@example.com' };
let root: string;
let server: GitHttpServer;

/** A bare repository served over HTTP, seeded with one commit on main by the git CLI. */
function bareRepo(name: string): string {
  const bare = join(root, `${name}.git`);
  execFileSync('git', ['init', '--quiet', '--bare', '-b', 'main', bare]);
  gitCli(bare, 'config', 'http.receivepack', 'true');
  const seed = join(root, `${name}-seed`);
  execFileSync('git', ['init', '--quiet', '-b', 'main', seed]);
  execFileSync('sh', ['-c', 'echo "# GitOps" > README.md'], { cwd: seed });
  gitCli(seed, 'add', 'README.md');
  gitCli(seed, 'commit', '--quiet', '-m', 'initial');
  gitCli(seed, 'push', '--quiet', bare, 'main');
  return bare;
}

beforeAll(async () => {
  root = tempDir('push');
  server = await startGitHttpServer(root, TOKEN);
});
afterAll(async () => {
  await server?.close();
});

describe('publish --push over HTTP with a token', () => {
  it('clones a URL, pushes the branch and the annotated tag', async () => {
    const bare = bareRepo('gitops');
    const r = await publish({
      bundleDir: writeBundleDir(join(root, 'b1'), firstVersion()), repo: `${server.url}/gitops.git`, base: 'main', cluster: 'prod',
      author, now: () => 1_767_323_045_000, push: true, token: TOKEN,
    });
    expect(r.pushed).toBe(true);
    expect(gitCli(bare, 'rev-parse', 'refs/heads/karma-hpa/chained-services/v1.0.0')).toBe(r.commit);
    expect(gitCli(bare, 'cat-file', '-t', 'refs/tags/karma-hpa-release/chained-services/v1.0.0')).toBe('tag');
    expect(gitCli(bare, 'rev-parse', 'main^{commit}')).toBe(gitCli(bare, 'rev-parse', `${r.commit}^`));
    expect(gitCli(bare, 'fsck', '--strict', '--no-dangling')).toBe('');
    // The Argo CD / Flux manifests point at the URL published to.
    expect(gitCli(bare, 'show', `${r.commit}:clusters/prod/flux/gitrepository.yaml`)).toContain(`url: ${server.url}/gitops.git`);
  });

  it('fails cleanly with a wrong token: the remote and the local repository are unchanged', async () => {
    const bare = bareRepo('locked');
    const local = join(root, 'local');
    execFileSync('git', ['clone', '--quiet', bare, local]);
    gitCli(local, 'remote', 'set-url', 'origin', `${server.url}/locked.git`);
    const remoteBefore = gitCli(bare, 'for-each-ref');
    const localBefore = repoState(local);
    const refusedBefore = server.refused();
    const err = await publish({
      bundleDir: writeBundleDir(join(root, 'b2'), firstVersion()), repo: local, base: 'main', cluster: 'prod',
      author, now: () => 1_767_323_045_000, push: true, token: 'wrong',
    }).catch((e) => e);
    expect(isKarmaError(err) && err.message).toMatch(/push failed, nothing was published/);
    expect(server.refused()).toBeGreaterThan(refusedBefore);
    expect(gitCli(bare, 'for-each-ref')).toBe(remoteBefore);
    expect(repoState(local)).toEqual(localBefore);
  });
});
