/**
 * Bundles from a directory of YAML/JSON files (for example a mounted ConfigMap, or a Git checkout).
 * The directory is watched; every change reloads all files. A file that stops validating (or is empty)
 * keeps its last valid bundles in force, so a half-written file never drops governance.
 */
import { EventEmitter } from 'node:events';
import { statSync, watch, type FSWatcher } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { validateBundle, type PolicyBundle } from '../../policies/bundle.ts';
import type { BundleSource } from './source.ts';

const BUNDLE_FILE = /\.(ya?ml|json)$/i;
/** How often to look for a missing directory when its ancestor cannot be watched. */
const ANCESTOR_POLL_MS = 5000;

export interface DirLoad {
  /** Valid bundles by file name. */
  byFile: Map<string, PolicyBundle[]>;
  /** One line per rejected file or document: `file (document N): problem`. */
  problems: string[];
}

/** Read every bundle file of a directory once. Files whose name starts with `.` (ConfigMap internals) are skipped. */
export async function loadBundleDir(dir: string): Promise<DirLoad> {
  const byFile = new Map<string, PolicyBundle[]>();
  const problems: string[] = [];
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((d) => !d.name.startsWith('.') && BUNDLE_FILE.test(d.name) && (d.isFile() || d.isSymbolicLink()))
    .map((d) => d.name)
    .sort();
  for (const name of names) {
    let text: string;
    try {
      text = await readFile(join(dir, name), 'utf8');
    } catch (e) {
      problems.push(`${name}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      continue;
    }
    // An empty file is most likely caught mid-write; its previous bundles stay until it has content
    // again or is deleted.
    if (text.trim() === '') {
      problems.push(`${name}: is empty; its previous bundles stay in force (delete the file to remove them)`);
      continue;
    }
    const docs = parseAllDocuments(text);
    const docList = Array.isArray(docs) ? docs : [docs];
    const bundles: PolicyBundle[] = [];
    let fileOk = true;
    docList.forEach((doc, i) => {
      const where = docList.length > 1 ? `${name} (document ${i + 1})` : name;
      if (doc.errors.length > 0) {
        problems.push(`${where}: not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
        fileOk = false;
        return;
      }
      const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
      if (value === null || value === undefined) return;
      const result = validateBundle(value);
      if (result.ok) bundles.push(result.bundle);
      else {
        fileOk = false;
        problems.push(`${where}: ${result.errors.slice(0, 5).join('; ')}`);
      }
    });
    if (fileOk) byFile.set(name, bundles);
  }
  return { byFile, problems };
}

/** Why a bundle directory cannot be read, in words (`... does not exist`), from readdir's error. */
function unreadable(dir: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `bundle directory ${dir} does not exist`;
  if (code === 'ENOTDIR') return `bundle directory ${dir} is not a directory`;
  if (code === 'EACCES' || code === 'EPERM') return `bundle directory ${dir} is not readable (${code})`;
  return `bundle directory ${dir} cannot be read: ${(e as Error).message}`;
}

/** The closest ancestor of `path` that exists as a directory (the root at worst). */
function nearestExistingAncestor(path: string): string {
  let candidate = dirname(resolve(path));
  for (;;) {
    try {
      if (statSync(candidate).isDirectory()) return candidate;
    } catch {
      // missing or unreadable: try one level up
    }
    const up = dirname(candidate);
    if (up === candidate) return candidate;
    candidate = up;
  }
}

export function dirBundleSource(dir: string): BundleSource {
  const events = new EventEmitter();
  let current = new Map<string, PolicyBundle[]>();
  let flat: PolicyBundle[] = [];
  let isReady = false;
  let stopped = false;
  let watcher: FSWatcher | undefined;
  /** Watches the closest existing ancestor while the directory cannot be read. */
  let ancestorWatcher: FSWatcher | undefined;
  let watchedAncestor: string | undefined;
  /** Why the directory cannot be read right now (undefined when it can). */
  let unavailable: string | undefined;
  let loading: Promise<void> | undefined;
  let again = false;
  let settleStart: () => void = () => undefined;
  const started = new Promise<void>((done) => { settleStart = done; });

  const reload = async (): Promise<void> => {
    const { byFile, problems } = await loadBundleDir(dir);
    const names = new Set(await readdir(dir).catch(() => [] as string[]));
    const next = new Map<string, PolicyBundle[]>();
    for (const [file, bundles] of current) if (names.has(file) && !byFile.has(file)) next.set(file, bundles);
    for (const [file, bundles] of byFile) next.set(file, bundles);
    current = next;
    flat = [...current.values()].flat();
    for (const p of problems) events.emit('problem', p);
    if (unavailable !== undefined) {
      unavailable = undefined;
      events.emit('available', `bundle directory ${dir} is readable again`);
    }
    isReady = true;
    events.emit('reloaded', { bundles: flat, problems });
    settleStart();
  };

  // Changes arriving during a load trigger exactly one more load afterwards.
  const schedule = (): void => {
    if (stopped) return;
    if (loading) {
      again = true;
      return;
    }
    loading = reload()
      .catch((e: unknown) => waitForDirectory(e))
      .finally(() => {
        loading = undefined;
        if (again) {
          again = false;
          schedule();
        }
      });
  };

  // Watch the directory first and load second, so no change between the two is missed.
  const watchDirectory = (): void => {
    if (stopped) return;
    try {
      watcher = watch(dir, { persistent: false }, () => schedule());
    } catch (e) {
      waitForDirectory(e);
      return;
    }
    watcher.on('error', (e) => {
      watcher?.close();
      watcher = undefined;
      waitForDirectory(e);
    });
    ancestorWatcher?.close();
    ancestorWatcher = undefined;
    watchedAncestor = undefined;
    schedule();
  };

  /**
   * The directory is missing (or unreadable): say so once per cause, keep the bundles already in force,
   * and watch the closest existing ancestor; any change there looks again. A directory created later
   * (a git-sync checkout, a volume mounted late) is picked up without a restart.
   */
  const waitForDirectory = (e: unknown): void => {
    if (stopped) return;
    watcher?.close();
    watcher = undefined;
    const why = unreadable(dir, e);
    if (why !== unavailable) {
      unavailable = why;
      events.emit('unavailable', `${why}; ${isReady ? 'keeping the bundles in force and ' : ''}waiting for it to appear`);
    }
    const ancestor = nearestExistingAncestor(dir);
    if (ancestor !== watchedAncestor) {
      ancestorWatcher?.close();
      ancestorWatcher = undefined;
      watchedAncestor = ancestor;
      try {
        ancestorWatcher = watch(ancestor, { persistent: false }, () => lookAgain(false));
        ancestorWatcher.on('error', () => lookAgain(false));
      } catch (watchError) {
        // Out of inotify watches, say: look again now and then instead.
        events.emit('problem', `${ancestor}: cannot watch (${(watchError as Error).message}); checking for ${dir} every ${ANCESTOR_POLL_MS / 1000} s`);
        setTimeout(() => lookAgain(false), ANCESTOR_POLL_MS).unref();
      }
    }
    // A directory that was absent may have appeared between the failed read and the ancestor watch.
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') lookAgain(true);
  };

  const lookAgain = (fromWait: boolean): void => {
    if (stopped || watcher) return;
    let problem: unknown;
    try {
      if (statSync(dir).isDirectory()) {
        watchDirectory();
        return;
      }
      problem = Object.assign(new Error(`${dir} is not a directory`), { code: 'ENOTDIR' });
    } catch (e) {
      problem = e;
    }
    // A missing level of the path was created (or removed): move the ancestor watch.
    if (!fromWait && (ancestorWatcher === undefined || nearestExistingAncestor(dir) !== watchedAncestor || unreadable(dir, problem) !== unavailable)) {
      if (ancestorWatcher === undefined) watchedAncestor = undefined;
      waitForDirectory(problem);
    }
  };

  return {
    description: `dir:${dir}`,
    events,
    bundles: () => flat,
    ready: () => isReady,
    unavailable: () => unavailable,
    async start() {
      watchDirectory();
      await started;
    },
    async stop() {
      stopped = true;
      watcher?.close();
      watcher = undefined;
      ancestorWatcher?.close();
      ancestorWatcher = undefined;
      settleStart();
      await loading;
    },
  };
}
