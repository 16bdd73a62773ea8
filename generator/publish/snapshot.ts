/**
 * All-or-nothing publishing: before touching a repository, record what defines its visible state
 * (HEAD, index, config, packed-refs, every loose ref, and the working tree when HEAD is unborn);
 * after a failure, put exactly that back. Objects written meanwhile stay as unreachable garbage,
 * which `git gc` removes and which changes nothing a user sees.
 *
 * Uses node:fs directly (not an injected fs), so a restore works even when the injected fs fails.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

export interface RepoSnapshot {
  dir: string;
  /** Did the directory exist at all? */
  dirExisted: boolean;
  /** Did it hold a repository (.git)? */
  repoExisted: boolean;
  /** Files under .git that define refs and HEAD, by path relative to .git, with their bytes. */
  gitFiles: Map<string, Buffer>;
  /** Working-tree files (relative to dir) when they are recorded, else undefined. */
  worktree: Map<string, Buffer> | undefined;
}

const GIT_STATE_FILES = ['HEAD', 'index', 'config', 'packed-refs', 'FETCH_HEAD', 'ORIG_HEAD'];

function listFiles(root: string, skip: (rel: string) => boolean): string[] {
  const out: string[] = [];
  const visit = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      const rel = relative(root, full);
      if (skip(rel)) continue;
      if (lstatSync(full).isDirectory()) visit(full);
      else out.push(rel);
    }
  };
  if (existsSync(root)) visit(root);
  return out.sort();
}

/** Record the state of the repository at `dir` (which may not exist yet). */
export function snapshotRepo(dir: string, opts: { worktree: boolean } = { worktree: false }): RepoSnapshot {
  const gitdir = join(dir, '.git');
  const snap: RepoSnapshot = {
    dir,
    dirExisted: existsSync(dir),
    repoExisted: existsSync(gitdir),
    gitFiles: new Map(),
    worktree: undefined,
  };
  if (snap.repoExisted) {
    for (const f of GIT_STATE_FILES) if (existsSync(join(gitdir, f))) snap.gitFiles.set(f, readFileSync(join(gitdir, f)));
    for (const f of listFiles(join(gitdir, 'refs'), () => false)) snap.gitFiles.set(join('refs', f), readFileSync(join(gitdir, 'refs', f)));
  }
  if (opts.worktree && snap.dirExisted) {
    snap.worktree = new Map(listFiles(dir, (rel) => rel === '.git').map((f) => [f, readFileSync(join(dir, f))]));
  }
  return snap;
}

/** Put the recorded state back. */
export function restoreRepo(snap: RepoSnapshot): void {
  const gitdir = join(snap.dir, '.git');
  if (!snap.dirExisted) {
    rmSync(snap.dir, { recursive: true, force: true });
    return;
  }
  if (!snap.repoExisted) {
    rmSync(gitdir, { recursive: true, force: true });
  } else {
    const now = [
      ...GIT_STATE_FILES.filter((f) => existsSync(join(gitdir, f))),
      ...listFiles(join(gitdir, 'refs'), () => false).map((f) => join('refs', f)),
    ];
    for (const f of now) if (!snap.gitFiles.has(f)) rmSync(join(gitdir, f), { force: true });
    for (const [f, bytes] of snap.gitFiles) {
      const p = join(gitdir, f);
      if (!existsSync(p) || !readFileSync(p).equals(bytes)) {
        mkdirSync(dirname(p), { recursive: true });
        writeFileSync(p, bytes);
      }
    }
    pruneEmptyDirs(join(gitdir, 'refs'), new Set(['refs', 'refs/heads', 'refs/tags'].map((d) => join(gitdir, d))), new Set());
  }
  if (snap.worktree) {
    for (const f of listFiles(snap.dir, (rel) => rel === '.git')) if (!snap.worktree.has(f)) rmSync(join(snap.dir, f), { force: true });
    for (const [f, bytes] of snap.worktree) {
      const p = join(snap.dir, f);
      if (!existsSync(p) || !readFileSync(p).equals(bytes)) {
        mkdirSync(dirname(p), { recursive: true });
        writeFileSync(p, bytes);
      }
    }
    pruneEmptyDirs(snap.dir, new Set([snap.dir]), new Set([gitdir]));
  }
}

/**
 * Remove directories left empty by deleted refs or files. `keep` are absolute paths never removed;
 * `skip` are absolute paths not looked into. Returns whether `dir` itself was removed.
 */
function pruneEmptyDirs(dir: string, keep: Set<string>, skip: Set<string>): boolean {
  if (!existsSync(dir) || !lstatSync(dir).isDirectory()) return false;
  let empty = true;
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (skip.has(full)) empty = false;
    else if (lstatSync(full).isDirectory()) {
      if (!pruneEmptyDirs(full, keep, skip)) empty = false;
    } else empty = false;
  }
  if (!empty || keep.has(dir)) return false;
  rmSync(dir, { recursive: true, force: true });
  return true;
}
