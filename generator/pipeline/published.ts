/**
 * The bundle a new one replaces, read (never written) from the GitOps repository: the one on the base
 * branch, or a newer one already published on its own branch and tag whose pull request is still open.
 * Versions are never reused, so two runs before a merge get two versions, not one version twice.
 */
import * as nodeFs from 'node:fs';
import { releaseTagPrefix } from '../publish/naming.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import git from 'isomorphic-git';
import type { PolicyBundle } from '../../policies/bundle.ts';
import { checkBundleText } from '../bundle/load.ts';

export interface PublishedBundle {
  bundle: PolicyBundle;
  /** Where it was found: `main` or `refs/tags/karma-hpa-release/<app>/v<version>`. */
  ref: string;
}

const BUNDLE_FILES = ['bundle.json', 'bundle.yaml', 'bundle.yml'];

async function bundleAt(dir: string, commit: string, dirInRepo: string): Promise<PolicyBundle | undefined> {
  for (const name of BUNDLE_FILES) {
    let text: string;
    try {
      const { blob } = await git.readBlob({ fs: nodeFs, dir, oid: commit, filepath: `${dirInRepo}/${name}` });
      text = Buffer.from(blob).toString('utf8');
    } catch {
      continue;
    }
    const check = checkBundleText(text, `${dirInRepo}/${name}`);
    // An invalid bundle in Git is not something to version against; publish refuses to write one.
    if (check.ok && check.bundle) return check.bundle;
  }
  return undefined;
}

async function commitOf(dir: string, ref: string): Promise<string | undefined> {
  let oid: string;
  try {
    oid = await git.resolveRef({ fs: nodeFs, dir, ref });
  } catch {
    return undefined;
  }
  // Annotated tags point at a tag object; the bundle lives in the commit it names.
  try {
    const { tag } = await git.readTag({ fs: nodeFs, dir, oid });
    return tag.object;
  } catch {
    return oid;
  }
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i]! - pb[i]!;
  return 0;
}

/**
 * The newest bundle of `app` on `cluster`: on the base branch or under a `karma-hpa/<app>/v*` tag.
 * Undefined when the repository does not exist yet or holds none.
 */
export async function latestPublishedBundle(repoDir: string, opts: { base: string; cluster: string; app: string }): Promise<PublishedBundle | undefined> {
  if (!existsSync(join(repoDir, '.git'))) return undefined;
  const dirInRepo = `bundles/${opts.cluster}/${opts.app}`;
  const found: PublishedBundle[] = [];
  const baseCommit = await commitOf(repoDir, `refs/heads/${opts.base}`);
  if (baseCommit) {
    const b = await bundleAt(repoDir, baseCommit, dirInRepo);
    if (b) found.push({ bundle: b, ref: opts.base });
  }
  const prefix = releaseTagPrefix(opts.app);
  const tags = (await git.listTags({ fs: nodeFs, dir: repoDir })).filter((t) => t.startsWith(prefix) && /^\d+\.\d+\.\d+$/.test(t.slice(prefix.length)));
  tags.sort((a, b) => compareVersions(b.slice(prefix.length), a.slice(prefix.length)));
  for (const tag of tags) {
    const commit = await commitOf(repoDir, `refs/tags/${tag}`);
    const b = commit ? await bundleAt(repoDir, commit, dirInRepo) : undefined;
    if (b) {
      found.push({ bundle: b, ref: `refs/tags/${tag}` });
      break;
    }
  }
  found.sort((x, y) => compareVersions(y.bundle.spec.version, x.bundle.spec.version));
  return found[0];
}
