import * as nodeFs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalPrettyJson } from '../../../policies/canonical.ts';
import type { PolicyBundle } from '../../../policies/bundle.ts';
import type { GitFs } from '../../../generator/publish/publish.ts';

/** Run the real git CLI in a repository; returns trimmed stdout. */
export function gitCli(dir: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: dir, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: dir, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } }).trim();
}

export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `karma-hpa-${label}-`));
}

/** A bundle directory as karma-hpa generate writes it. */
export function writeBundleDir(dir: string, bundle: PolicyBundle, opts: { report?: string; plots?: Record<string, string> } = {}): string {
  mkdirSync(join(dir, 'plots'), { recursive: true });
  writeFileSync(join(dir, 'bundle.json'), canonicalPrettyJson(bundle));
  writeFileSync(join(dir, 'report.md'), opts.report ?? `# ${bundle.metadata.name} v${bundle.spec.version}\n`);
  for (const [name, svg] of Object.entries(opts.plots ?? { 'success-rate.svg': '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>\n' })) {
    writeFileSync(join(dir, 'plots', name), svg);
  }
  return dir;
}

/**
 * node:fs whose promise-based writeFile throws from its Nth call on (1-based), like a disk that
 * fills up mid-way and stays full (isomorphic-git retries a failed write once). `failAt: 0` never
 * fails and only counts.
 */
export function faultyFs(failAt: number): { fs: GitFs; writes: () => number } {
  let writes = 0;
  const promises = {
    ...nodeFs.promises,
    writeFile: async (...args: Parameters<typeof nodeFs.promises.writeFile>) => {
      writes++;
      if (failAt > 0 && writes >= failAt) throw Object.assign(new Error(`ENOSPC: no space left on device, write ${String(args[0])}`), { code: 'ENOSPC' });
      return nodeFs.promises.writeFile(...args);
    },
  };
  return { fs: { promises } as unknown as GitFs, writes: () => writes };
}

/** What a person sees of a repository with the git CLI. */
export function repoState(dir: string): Record<string, string> {
  return {
    refs: gitCli(dir, 'for-each-ref', '--format=%(refname) %(objectname)'),
    head: nodeFs.readFileSync(join(dir, '.git', 'HEAD'), 'utf8'),
    status: gitCli(dir, 'status', '--porcelain', '--untracked-files=all'),
    index: nodeFs.existsSync(join(dir, '.git', 'index')) ? nodeFs.readFileSync(join(dir, '.git', 'index')).toString('base64') : '(none)',
  };
}
